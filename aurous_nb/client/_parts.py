"""Part-files: how a download is written so that a half-written file never looks finished.

A file is written as ``.<name>.<8 hex>.part`` beside its target and renamed into place only when
complete. A process killed mid-write leaves that part-file behind; :func:`orphans` finds such
files by this one naming rule (the outputs cache sweeps them), so the rule lives only here.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["ORPHAN_AGE_S", "orphans", "part_file", "part_path"]

ORPHAN_AGE_S = 3600.0  # a part-file untouched this long belongs to no running download
_PART = re.compile(r"\..+\.[0-9a-f]{8}\.part")


def part_path(target: Path) -> Path:
    """A fresh hidden part-file name for ``target``, in its folder."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")


@contextmanager
def part_file(target: Path) -> Iterator[BinaryIO]:
    """Write ``target`` through a hidden part-file renamed into place only when complete."""
    part = part_path(target)
    try:
        with open(part, "wb") as fh:
            yield fh
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def orphans(directory: Path, age: float = ORPHAN_AGE_S) -> list[Path]:
    """Part-files in ``directory`` (of any target) untouched for ``age`` seconds or more."""
    cutoff = time.time() - age
    found = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        if _PART.fullmatch(entry.name):
            try:
                if entry.stat().st_mtime <= cutoff:
                    found.append(Path(entry.path))
            except OSError:
                continue  # gone meanwhile
    return found
