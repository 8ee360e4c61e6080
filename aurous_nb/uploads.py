"""The ledger's memory of uploaded reference files, lent to a session's clients.

A client alone remembers its uploads in memory (``aurous_nb.client._uploads``); a notebook
session gives it this cache instead, so a picture uploaded in one kernel is not uploaded again in
the next while its file lives (24 h). Rows are per environment: a ``file_`` id means nothing to
another API. The ledger opens on first use, not when the session is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aurous_nb.client._uploads import Upload

if TYPE_CHECKING:
    from aurous_nb.ledger import Ledger

__all__ = ["LedgerUploads"]


class LedgerUploads:
    """An ``UploadCache`` over the ledger's ``uploads`` table for one environment."""

    def __init__(self, ledger: Callable[[], Ledger], env: str) -> None:
        self._ledger = ledger
        self.env = env

    def find(self, key: str, purpose: str) -> Upload | None:
        row = self._ledger().upload(self.env, key, purpose)
        return None if row is None else Upload(*row)

    def remember(self, keys: tuple[str, ...], purpose: str, upload: Upload) -> None:
        self._ledger().record_upload(
            self.env, keys, purpose, upload.file_id, upload.expires_at, upload.created_at
        )

    def forget(self, file_id: str) -> None:
        self._ledger().forget_upload(self.env, file_id)

    def __repr__(self) -> str:
        return f"<LedgerUploads env={self.env!r}>"
