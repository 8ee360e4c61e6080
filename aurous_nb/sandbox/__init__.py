"""A local server that speaks the Aurous v1 HTTP API, for running and testing without a key.

It imports nothing from the rest of ``aurous_nb`` (but ``aurous_nb.secret``, the stdlib-only rule
for showing a key): it is a second, independent reading of the contract, so tests of the client
against it mean something. Starlette and uvicorn load only when a sandbox starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aurous_nb.sandbox.config import SandboxConfig

__all__ = ["Sandbox", "SandboxConfig"]

if TYPE_CHECKING:
    from aurous_nb.sandbox.server import Sandbox as Sandbox


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from aurous_nb.sandbox.server import Sandbox

        return Sandbox
    raise AttributeError(f"module 'aurous_nb.sandbox' has no attribute {name!r}")
