"""Serve the sandbox app with uvicorn: on a background thread (``Sandbox``) or in the foreground.

The thread form is what tests, notebooks and ``%aurous connect --sandbox`` use: it binds an
ephemeral loopback port, so several sandboxes can run side by side and inside a Jupyter kernel.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import fields, replace
from types import TracebackType
from typing import Any

from aurous_nb.sandbox.config import SandboxConfig
from aurous_nb.secret import mask

_HOST = "127.0.0.1"
_START_TIMEOUT = 10.0


class _QuietChaosDrops(logging.Filter):
    """Hide the tracebacks uvicorn logs when the chaos layer drops a response on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "DropConnection"


def _uvicorn_config(config: SandboxConfig, port: int, host: str = _HOST) -> Any:
    import uvicorn

    from aurous_nb.sandbox.app import create_app

    logging.getLogger("uvicorn.error").addFilter(_QuietChaosDrops())
    return uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )


class Sandbox:
    """A sandbox server on a background thread.

    ``with Sandbox(latency=0.1, credits=1000) as sb:`` serves until the block ends;
    ``sb = Sandbox().start()`` / ``sb.stop()`` does the same by hand. Keyword arguments are the
    fields of :class:`SandboxConfig`.
    """

    def __init__(self, config: SandboxConfig | None = None, **options: Any) -> None:
        known = {f.name for f in fields(SandboxConfig)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"unknown Sandbox option(s): {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        self.config = replace(config or SandboxConfig(), **options)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Sandbox:
        """Start serving on an ephemeral loopback port and return once requests are accepted."""
        if self.running:
            return self
        import uvicorn

        server = uvicorn.Server(_uvicorn_config(self.config, port=0))
        # uvicorn installs signal handlers only when it runs on the main thread, so ours is safe.
        thread = threading.Thread(target=server.run, name="aurous-sandbox", daemon=True)
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)
        self._server, self._thread = server, thread
        self._port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT)
        self._server = self._thread = None
        self._port = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<Sandbox {where} credits={self.config.credits:g} latency={self.config.latency:g}s>"


def serve_forever(
    config: SandboxConfig, port: int, host: str = _HOST, show_key: bool = False
) -> None:
    """Serve in the foreground until Ctrl-C (the CLI)."""
    import uvicorn

    server = uvicorn.Server(_uvicorn_config(config, port=port, host=host))
    key_text = config.api_key if show_key else mask(config.api_key)

    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        real_port = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        print(
            f"Aurous sandbox ready at http://{host}:{real_port}  api key: {key_text}  "
            f"(synthetic outputs; Ctrl-C stops it)",
            flush=True,
        )

    server.startup = startup  # type: ignore[method-assign]
    server.run()
