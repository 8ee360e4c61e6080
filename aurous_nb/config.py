"""Where aurous_nb keeps its files, and which API environment a base URL belongs to.

Everything local (the ledger, the outputs cache) lives under one home directory, so a test or a
second user can point ``AUROUS_NB_HOME`` elsewhere and share nothing.

Environment labels keep sandbox and live spending apart in every report:

* a loopback base URL (``127.0.0.1``, ``localhost``, ``::1``) is ``sandbox-<port>``. The port is
  part of the label because two sandboxes on one machine are two different worlds (their ids,
  credits and idempotency keys are unrelated); a sandbox restarted on the same fixed port is the
  same label, which is what a user running ``python -m aurous_nb.sandbox --port 8765`` expects;
* anything else is the host name (``api.aurous-labs.com``), with ``-<port>`` when a non-default
  port is given.

Labels are safe as directory names (the outputs cache is ``outputs/<env>/...``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["aurous_home", "auto_download", "env_for", "is_sandbox_env", "set_auto_download"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
_FALSY = {"0", "false", "no", "off", ""}


def aurous_home() -> Path:
    """``$AUROUS_NB_HOME``, or ``~/.aurous_nb``; read on every call so tests can repoint it."""
    raw = os.environ.get("AUROUS_NB_HOME")
    return Path(raw).expanduser() if raw else Path.home() / ".aurous_nb"


_auto_download_override: bool | None = None


def auto_download() -> bool:
    """Whether outputs are fetched into the cache as soon as a job succeeds (default yes).

    :func:`set_auto_download` (what ``%config`` uses) wins, then ``AUROUS_NB_AUTO_DOWNLOAD=0``;
    functions that download also take an explicit ``download=`` that wins over both.
    """
    if _auto_download_override is not None:
        return _auto_download_override
    return os.environ.get("AUROUS_NB_AUTO_DOWNLOAD", "1").strip().lower() not in _FALSY


def set_auto_download(enabled: bool | None) -> None:
    """Turn auto-download on or off for this process (``None``: back to the environment)."""
    global _auto_download_override
    _auto_download_override = None if enabled is None else bool(enabled)


def env_for(base_url: str) -> str:
    """The environment label of an API base URL (see the module docstring)."""
    parts = urlsplit(base_url if "//" in base_url else f"//{base_url}")
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if host in _LOOPBACK or host.startswith("127."):
        return f"sandbox-{port}" if port else "sandbox"
    default = {"http": 80, "https": 443}.get(parts.scheme or "https")
    label = host or "unknown"
    if port and port != default:
        label = f"{label}-{port}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", label)


def is_sandbox_env(env: str) -> bool:
    """True for labels that :func:`env_for` gives loopback URLs."""
    return env == "sandbox" or env.startswith("sandbox-")
