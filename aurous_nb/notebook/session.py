"""The current connection: one client, ledger and (maybe) sandbox, shared by magics and widgets.

A notebook talks to one API at a time. ``connect()`` makes that connection from the environment
(``AUROUS_API_KEY``, a ``.env`` file, a Colab secret) or starts an in-process sandbox;
``current()`` hands it to whoever needs it (``%aurous`` commands, ``GenerationPanel``), connecting
from the environment on first use. The key lives only inside the client (``Secret``): nothing here
stores it in a printable attribute, and every repr masks it.

Importing this module is cheap: the client (httpx), the ledger and the sandbox (uvicorn) load
when a session is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurous_nb.client import AsyncClient, Client
    from aurous_nb.sandbox import Sandbox
    from aurous_nb.store.ledger import Ledger

__all__ = [
    "SANDBOX_DEFAULTS",
    "NotConnected",
    "Session",
    "connect",
    "current",
    "disconnect",
    "find_key",
    "is_connected",
]

#: The in-process sandbox's settings for demos: slow enough to see progress, quick to finish.
SANDBOX_DEFAULTS: dict[str, Any] = {"latency": 1.5, "latency_spread": 0.2, "credits": 1000.0}

_KEY_VAR = "AUROUS_API_KEY"
_SIGNUP_URL = "https://docs.aurous-labs.com/authentication"

_lock = threading.RLock()
_current: Session | None = None


class NotConnected(RuntimeError):
    """No API key was found (and no sandbox was asked for); the message says what to do."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31mNot connected\x1b[0m: {self}"]


def _not_connected_message() -> str:
    return (
        f"no Aurous API key found. Create one in the dashboard (Settings → API keys; see "
        f"{_SIGNUP_URL}) and set {_KEY_VAR} "
        f"(in the environment, a .env file, or a Colab secret named {_KEY_VAR}), "
        "then connect again; or try everything offline with the sandbox: "
        "`%aurous connect --sandbox` (or aurous_nb.notebook.session.connect(sandbox=True)); "
        "its outputs are synthetic and its credits are not real."
    )


# ---------------------------------------------------------------------------- key sources


def _dotenv() -> tuple[str | None, dict[str, str]]:
    """The nearest ``.env`` (working folder, then its parents) and its settings, read literally
    (python-dotenv: quotes, ``export`` and comments as a shell reads them; no ``${...}``)."""
    from dotenv import dotenv_values, find_dotenv

    path = find_dotenv(usecwd=True)
    if not path:
        return None, {}
    try:
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return path, {}
    return path, {name: value for name, value in values.items() if value is not None}


def _colab_secret(name: str) -> str | None:
    """A Colab secret, only when running inside Colab (never imports google.colab otherwise)."""
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import userdata

        value = userdata.get(name)
    except Exception:  # secret missing, or notebook access not granted
        return None
    return value if isinstance(value, str) and value.strip() else None


def find_key() -> tuple[str | None, str | None, dict[str, str]]:
    """``(key, where it came from, other settings)`` from the environment, ``.env`` or Colab.

    The other settings are ``AUROUS_BASE_URL`` / ``AUROUS_VERSION`` found beside the key in a
    ``.env`` file (the process environment wins for each).
    """
    key = os.environ.get(_KEY_VAR, "").strip()
    dotenv, values = _dotenv()
    extra: dict[str, str] = {}
    for name in ("AUROUS_BASE_URL", "AUROUS_VERSION"):
        if values.get(name) and not os.environ.get(name):
            extra[name] = values[name]
    if key:
        return key, "environment", extra
    if values.get(_KEY_VAR, "").strip():
        return values[_KEY_VAR].strip(), f".env ({dotenv})", extra
    colab = _colab_secret(_KEY_VAR)
    if colab:
        return colab.strip(), "Colab secret", extra
    return None, None, extra


# ---------------------------------------------------------------------------- the session


class Session:
    """One connection: ``client`` (blocking), ``aclient`` (asyncio, per event loop), ``ledger``,
    and the ``sandbox`` it started, if any.

    Build one with :func:`connect`; read the shared one with :func:`current`.
    """

    def __init__(
        self,
        client: Client,
        *,
        sandbox: Sandbox | None = None,
        ledger: Ledger | None = None,
        key_source: str = "argument",
    ) -> None:
        from aurous_nb.config import env_for, is_sandbox_env

        self.client = client
        self.sandbox = sandbox
        self.key_source = key_source
        self.env: str = env_for(client.base_url)
        self.synthetic: bool = sandbox is not None or is_sandbox_env(self.env)
        self._ledger = ledger
        self._aclient: AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._closed = False
        from aurous_nb.store.uploads import LedgerUploads

        client.uploads = LedgerUploads(lambda: self.ledger, self.env)  # one upload per picture

    @property
    def base_url(self) -> str:
        return self.client.base_url

    @property
    def version(self) -> str | None:
        return self.client.version

    @property
    def key_preview(self) -> str:
        """The first characters of the key (``al_live_…``): enough to recognise, not to use."""
        return self.client.api_key_preview

    @property
    def ledger(self) -> Ledger:
        """The ledger under ``$AUROUS_NB_HOME`` (opened on first use, when the outputs cache is
        swept of part-files that killed downloads left)."""
        with self._lock:
            if self._ledger is None:
                from aurous_nb.store import outputs
                from aurous_nb.store.ledger import Ledger

                self._ledger = Ledger()
                outputs.sweep(self._ledger)  # what downloads killed in earlier sessions left
            return self._ledger

    def reopen_ledger(self) -> None:
        """Open the ledger again on next use (``%config Aurous.ledger_url`` moved it)."""
        with self._lock:
            self._ledger = None

    @property
    def aclient(self) -> AsyncClient:
        """An :class:`AsyncClient` for the running event loop (made on first use per loop).

        httpx's async connections belong to the loop that opened them, so a session used from a
        new loop (a restarted kernel loop, ``asyncio.run`` in a script) gets a fresh client
        sharing the key, settings and rate-limit state (:meth:`Client.to_async`).
        Outside a running loop it is the client of the loop cells run on
        (:mod:`aurous_nb.notebook.loops`).
        """
        from aurous_nb.notebook import loops

        loop = loops.running() or loops.home()
        with self._lock:
            if self._aclient is None or (loop is not None and loop is not self._aclient_loop):
                self._aclient = self.client.to_async()
                self._aclient_loop = loop
            return self._aclient

    @property
    def running(self) -> bool:
        """False once closed (or once its sandbox stopped)."""
        return not self._closed and (self.sandbox is None or self.sandbox.running)

    def banner(self) -> str:
        """One line saying where this session points; loud about synthetic outputs."""
        version = f", Aurous-Version {self.version}" if self.version else ""
        if self.sandbox is not None:
            return (
                f"Connected to the local Aurous sandbox{version}. SANDBOX: outputs are "
                "synthetic and its credits are not real."
            )
        if self.synthetic:
            return (
                f"Connected to {self.base_url} ({self.env}{version}), a loopback sandbox: "
                "outputs are synthetic."
            )
        return (
            f"Connected to {self.base_url} ({self.env}{version}) with key {self.key_preview} "
            f"from the {self.key_source}."
        )

    def close(self) -> None:
        """Close the clients and stop the sandbox this session started."""
        self._closed = True
        self.client.close()
        aclient, self._aclient = self._aclient, None
        if aclient is not None:
            _close_async(aclient, self._aclient_loop)
        if self.sandbox is not None:
            self.sandbox.stop()

    def __repr__(self) -> str:
        kind = "sandbox" if self.synthetic else "live"
        return (
            f"<Session {kind} base_url={self.base_url!r} env={self.env!r} "
            f"api_key={self.key_preview!r}>"
        )

    def __reduce__(self) -> Any:
        raise TypeError("a Session is not picklable (it holds the API key)")


def _close_async(aclient: AsyncClient, owner: asyncio.AbstractEventLoop | None) -> None:
    """Close an AsyncClient on the loop that owns its connections; otherwise let GC drop them."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and loop is owner:
        loop.create_task(aclient.close())
    elif owner is not None and not owner.is_closed() and not owner.is_running():
        with contextlib.suppress(Exception):  # best effort: the sockets die with the loop
            owner.run_until_complete(aclient.close())


# ---------------------------------------------------------------------------- module API


def connect(
    *,
    sandbox: bool | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    version: str | None = None,
    **sandbox_options: Any,
) -> Session:
    """Connect, make the result the current session, and return it.

    * ``sandbox=True`` starts an in-process sandbox (:data:`SANDBOX_DEFAULTS`, overridden by
      ``sandbox_options``, the fields of ``SandboxConfig``); outputs are synthetic. If the
      current session is already a running sandbox with the same settings, it is kept.
    * otherwise the key comes from ``api_key`` (for scripts; the magics never take one), else
      ``AUROUS_API_KEY``, a ``.env`` file, or a Colab secret; without one this raises
      :class:`NotConnected`, whose message says how to get a key and offers the sandbox.

    A previous current session is closed (its sandbox stopped) once the new one is ready.
    """
    if sandbox_options and not sandbox:
        raise TypeError("sandbox options are only valid with sandbox=True")
    if sandbox:
        same = _running_sandbox(version, sandbox_options)
        if same is not None:
            return same
    session = (
        _open_sandbox(version, sandbox_options)
        if sandbox
        else _open_live(api_key, base_url, version)
    )
    global _current
    with _lock:
        previous, _current = _current, session
    if previous is not None and previous is not session:
        previous.close()
    return session


def _running_sandbox(version: str | None, options: dict[str, Any]) -> Session | None:
    """The current session when it is a running sandbox with these settings: connecting again
    (a notebook re-run top to bottom) keeps its world, so unchanged cells reuse their results."""
    with _lock:
        session = _current
    if session is None or session.sandbox is None or not session.running:
        return None
    config = session.sandbox.config
    wanted = {**SANDBOX_DEFAULTS, **options}
    if session.version != version or any(getattr(config, k) != v for k, v in wanted.items()):
        return None
    return session


def _open_sandbox(version: str | None, options: dict[str, Any]) -> Session:
    from aurous_nb.client import Client
    from aurous_nb.sandbox import Sandbox

    box = Sandbox(**{**SANDBOX_DEFAULTS, **options}).start()
    try:
        client = Client(api_key=box.api_key, base_url=box.base_url, version=version)
    except BaseException:
        box.stop()
        raise
    return Session(client, sandbox=box, key_source="sandbox")


def _open_live(api_key: str | None, base_url: str | None, version: str | None) -> Session:
    from aurous_nb.client import Client

    source = "argument"
    extra: dict[str, str] = {}
    if api_key is None:
        api_key, found, extra = find_key()
        if api_key is None or found is None:
            raise NotConnected(_not_connected_message())
        source = found
    client = Client(
        api_key=api_key,
        base_url=base_url or extra.get("AUROUS_BASE_URL"),
        version=version or extra.get("AUROUS_VERSION"),
    )
    return Session(client, key_source=source)


def current(*, auto_connect: bool = True) -> Session:
    """The current session; if there is none, connect from the environment (or raise
    :class:`NotConnected` saying how to get a key or use the sandbox)."""
    with _lock:
        session = _current
    if session is not None and session.running:
        return session
    if not auto_connect:
        raise NotConnected(_not_connected_message())
    return connect()


def is_connected() -> bool:
    with _lock:
        return _current is not None and _current.running


def disconnect() -> None:
    """Close the current session (stopping its sandbox); harmless when there is none."""
    global _current
    with _lock:
        session, _current = _current, None
    if session is not None:
        session.close()


def _set_current(session: Session | None) -> None:
    """Install a session built by hand (tests, a fixture sandbox) as the current one."""
    global _current
    with _lock:
        _current = session
