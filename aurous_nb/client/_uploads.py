"""What a client remembers of the reference files it uploaded: content -> ``file_`` id, expiry.

Files live 24 h on the server (contract §2.19), so a remembered upload is good until shortly
before its ``expires_at``. A client keeps this in memory (:class:`MemoryUploads`); a notebook
session lends it the ledger's table instead (:mod:`aurous_nb.store.uploads`), so the same picture is
uploaded once across kernels. Imports nothing from the rest of the client.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["MemoryUploads", "Upload", "UploadCache"]


@dataclass(frozen=True, slots=True)
class Upload:
    """A stored file: its id, when the server purges it and when it was made (epoch seconds)."""

    file_id: str
    expires_at: float
    created_at: float

    def usable(self, now: float | None = None) -> bool:
        """Still alive for long enough to be used: a tenth of its life (at most 10 min) is kept
        in hand, for the clock skew and the wait before the server snapshots it."""
        now = time.time() if now is None else now
        margin = min(600.0, max(0.0, self.expires_at - self.created_at) / 10)
        return self.expires_at - margin > now


class UploadCache(Protocol):
    """Where uploads are remembered. ``key`` is ``sha256:<hex>`` for content, or
    ``output:<generation id>/<index>`` for an output that was uploaded as a reference."""

    def find(self, key: str, purpose: str) -> Upload | None: ...

    def remember(self, keys: tuple[str, ...], purpose: str, upload: Upload) -> None: ...

    def forget(self, file_id: str) -> None: ...


class MemoryUploads:
    """The default cache: this client's memory (and its ``with_options`` / async twins')."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Upload] = {}
        self._lock = threading.Lock()

    def find(self, key: str, purpose: str) -> Upload | None:
        with self._lock:
            return self._rows.get((key, purpose))

    def remember(self, keys: tuple[str, ...], purpose: str, upload: Upload) -> None:
        with self._lock:
            for key in keys:
                self._rows[(key, purpose)] = upload

    def forget(self, file_id: str) -> None:
        with self._lock:
            for k in [k for k, u in self._rows.items() if u.file_id == file_id]:
                del self._rows[k]

    def __len__(self) -> int:
        return len(self._rows)
