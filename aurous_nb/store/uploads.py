"""The ledger's memory of uploaded reference files, lent to a session's clients.

A client alone remembers its uploads in memory (``aurous_nb.client._uploads``); a notebook
session gives it this cache instead, so a picture uploaded in one kernel is not uploaded again in
the next while its file lives (24 h). Rows are per environment: a ``file_`` id means nothing to
another API. The ledger opens on first use, not when the session is made; a ledger that cannot
be used (read-only, newer schema) leaves the memory of this process, so references still work.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from aurous_nb.client._uploads import MemoryUploads, Upload
from aurous_nb.store.ledger_file import LedgerError

if TYPE_CHECKING:
    from aurous_nb.store.ledger import Ledger

__all__ = ["LedgerUploads"]


class LedgerUploads:
    """An ``UploadCache`` over the ledger's ``uploads`` table for one environment."""

    def __init__(self, ledger: Callable[[], Ledger], env: str) -> None:
        self._ledger = ledger
        self._memory = MemoryUploads()  # also what is used when the ledger cannot be
        self.env = env

    def find(self, key: str, purpose: str) -> Upload | None:
        found = self._memory.find(key, purpose)
        if found is not None:
            return found
        try:
            row = self._ledger().upload(self.env, key, purpose)
        except LedgerError:
            return None
        return None if row is None else Upload(*row)

    def remember(self, keys: tuple[str, ...], purpose: str, upload: Upload) -> None:
        self._memory.remember(keys, purpose, upload)
        with suppress(LedgerError):  # then remembered for this process only
            self._ledger().record_upload(
                self.env, keys, purpose, upload.file_id, upload.expires_at, upload.created_at
            )

    def forget(self, file_id: str) -> None:
        self._memory.forget(file_id)
        with suppress(LedgerError):
            self._ledger().forget_upload(self.env, file_id)

    def __repr__(self) -> str:
        return f"<LedgerUploads env={self.env!r}>"
