"""References in a notebook: what ``--ref``, ``--from``, ``{{var}}`` and the panel name, made
into what the wire takes (``file_`` ids or https URLs) through the session's client.

The client uploads local data once (:mod:`aurous_nb.client.references`, remembered in the
ledger: :mod:`aurous_nb.store.uploads`). Here, a generation whose first output is in the outputs
cache is read from there instead of downloaded again (so it still works once its output URL has
expired), and a PIL image named by ``{{var}}`` in a magic's line is written once, by content,
under ``$AUROUS_NB_HOME/references/`` so that the line can carry its path.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurous_nb.config import aurous_home

if TYPE_CHECKING:
    from aurous_nb.notebook.session import Session

__all__ = ["as_text", "resolve", "save_picture", "source"]


def _generation_id(ref: object) -> str | None:
    """The image generation ``ref`` names (a Generation or an ``img_`` id), else None."""
    from aurous_nb.client.models import GENERATION_ID, Generation

    if isinstance(ref, Generation):
        return None if ref.is_video else ref.id
    if isinstance(ref, str) and ref.startswith("img_") and GENERATION_ID.fullmatch(ref):
        return None if os.path.exists(ref) else ref
    return None


def source(session: Session, ref: object) -> object:
    """``ref``, or the cached file of the generation's first output when the ledger has it."""
    gen_id = _generation_id(ref)
    if gen_id is None:
        return ref
    for out in session.ledger.outputs(gen_id, session.env):
        if out.index == 0 and out.is_intact():
            return out.path
    return ref


def resolve(
    session: Session, refs: Sequence[object], purpose: str = "reference", option: str = "--ref"
) -> list[str]:
    """Every reference as a wire string; all are read and checked before the first upload.
    An error names ``option`` (the magic's, or the panel's control) instead of the list."""
    from aurous_nb.client.errors import ValidationError

    try:
        return session.client.files.resolve_many(
            [source(session, r) for r in refs],  # type: ignore[misc]
            purpose=purpose,
        )
    except ValidationError as exc:
        match = re.match(r"sources\[(\d+)\]: ", exc.message)
        if match is None:
            raise
        which = f" {int(match.group(1)) + 1}" if len(refs) > 1 else ""
        raise ValidationError(option, f"{option}{which}: {exc.message[match.end() :]}") from None


def is_picture(value: object) -> bool:
    """A PIL image (checked without importing PIL)."""
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save")


def save_picture(image: Any) -> Path:
    """A PIL image as a PNG under ``$AUROUS_NB_HOME/references``, named by its content."""
    buf = io.BytesIO()
    try:
        image.save(buf, format="PNG")
    except (OSError, ValueError):  # a mode PNG cannot hold (CMYK, ...)
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="PNG")
    data = buf.getvalue()
    folder = aurous_home() / "references"
    path = folder / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        part.write_bytes(data)
        os.replace(part, path)
    return path


def as_text(value: object) -> str:
    """What ``{{value}}`` reads as in a magic's line: a Generation its id, a PIL image the
    path of its saved copy (quoted when it has spaces), anything else its ``str()``."""
    from aurous_nb.client.models import Generation

    if isinstance(value, Generation):
        return value.id
    if is_picture(value):
        path = str(save_picture(value))
        return f'"{path}"' if any(c.isspace() for c in path) else path
    return str(value)
