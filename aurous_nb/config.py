"""Where aurous_nb keeps its files, and which API environment a base URL belongs to.

Everything local (the ledger, the outputs cache) lives under one home directory, so a test or a
second user can point ``AUROUS_NB_HOME`` elsewhere and share nothing.

Environment labels keep sandbox and live spending apart in every report:

* every loopback base URL (``127.0.0.1``, ``localhost``, ``::1``) is ``sandbox``. A notebook's
  in-process sandbox gets a new port at every kernel restart; a label with the port in it split
  the history at each restart and made an unchanged notebook buy everything again. Generation ids
  are random ULIDs, so rows of different sandbox runs never collide; a sandbox that forgot a
  generation answers 404, which reuse and resume handle (see
  :mod:`aurous_nb.notebook.magics.generation` and
  :mod:`aurous_nb.work.jobs`). Ledgers written with the old ``sandbox-<port>`` labels are relabelled
  once, when they are opened (:mod:`aurous_nb.store.ledger`, schema 3);
* anything else is keyed by its base URL: the host name (``api.aurous-labs.com``), with
  ``-<port>`` when a non-default port is given and the path when there is one
  (``gateway.example.com_aurous`` for ``https://gateway.example.com/aurous``). The team is not
  part of the label: it is known only after a ``GET /v1/team``, and a label that changed when
  that request failed would split the ledger and defeat reuse.

Labels are safe as directory names (the outputs cache is ``outputs/<env>/...``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "SANDBOX_ENV",
    "aurous_home",
    "auto_download",
    "env_for",
    "host_name",
    "is_sandbox_env",
    "ledger_url",
    "set_auto_download",
    "set_ledger_url",
    "team_name",
    "user_name",
]

#: The one environment label of every loopback sandbox.
SANDBOX_ENV = "sandbox"

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
        return SANDBOX_ENV
    default = {"http": 80, "https": 443}.get(parts.scheme or "https")
    label = host or "unknown"
    if port and port != default:
        label = f"{label}-{port}"
    path = parts.path.strip("/")
    if path:
        label = f"{label}_{path}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", label)


def is_sandbox_env(env: str) -> bool:
    """True for the sandbox label (and the ``sandbox-<port>`` labels of older ledgers)."""
    return env == SANDBOX_ENV or env.startswith(SANDBOX_ENV + "-")


_ledger_url_override: str | None = None


def ledger_url() -> str | None:
    """Where the ledger lives: :func:`set_ledger_url` (``%config Aurous.ledger_url``), else
    ``$AUROUS_NB_LEDGER``; ``None`` (unset or empty) is the SQLite file in :func:`aurous_home`.
    A ``postgresql://`` URL is a team's shared ledger (:mod:`aurous_nb.store.backend`)."""
    raw = _ledger_url_override
    if raw is None:
        raw = os.environ.get("AUROUS_NB_LEDGER")
    return raw.strip() or None if raw else None


def set_ledger_url(url: str | None) -> None:
    """Point this process's ledger elsewhere (``None``: back to the environment)."""
    global _ledger_url_override
    # A plain copy: a masked setting (aurous_nb.secret.MaskedUrl) prints masked, connects whole.
    _ledger_url_override = None if url is None else str.__str__(url)


def user_name() -> str:
    """Who writes the ledger's rows: ``$AUROUS_NB_USER``, else the login name."""
    raw = os.environ.get("AUROUS_NB_USER", "").strip()
    if raw:
        return raw
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "unknown"


def host_name() -> str:
    """Which machine holds the outputs cache of the rows it writes: ``$AUROUS_NB_HOST``, else
    the host name."""
    raw = os.environ.get("AUROUS_NB_HOST", "").strip()
    if raw:
        return raw
    import socket

    return socket.gethostname() or "unknown"


def team_name() -> str | None:
    """The team a row is spent for, when ``$AUROUS_NB_TEAM`` names it (None: not said)."""
    return os.environ.get("AUROUS_NB_TEAM", "").strip() or None
