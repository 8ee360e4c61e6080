"""Presets: named sets of request fields (``%config Aurous.presets = {"poster": {...}}``).

A preset is a starting point, never a rule: ``--preset poster`` (and ``PromptGrid(preset=...)``)
fills the fields a command leaves open, and every option typed wins over it; the ``Aurous``
defaults (``default_size``, ``default_lora``) come last. Fields are those ``images.create``
takes, with the magic's short names allowed (``lora``, ``negative``, ``character``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

__all__ = ["check", "current", "layered", "resolve"]

_SHORT = {"lora": "lora_id", "negative": "negative_prompt", "character": "character_id"}
#: Fields that stand for one choice: a layer naming any of them replaces the whole group.
_GROUPS = ({"lora_id", "loras"}, {"size", "width", "height"})


def check(presets: Any) -> dict[str, dict[str, Any]]:
    """``presets`` with short names made full; ``ValueError`` names a field that is not one."""
    from aurous_nb.client._params import ImageParams

    known = set(ImageParams.__annotations__) - {"webhook_url"}
    if not isinstance(presets, Mapping):
        raise ValueError("Aurous.presets is a dict of name -> {field: value}")
    out: dict[str, dict[str, Any]] = {}
    for name, fields in presets.items():
        if not isinstance(fields, Mapping):
            raise ValueError(f"preset {name!r}: give a dict of request fields")
        clean: dict[str, Any] = {}
        for key, value in fields.items():
            field = _SHORT.get(key, key)
            if field not in known:
                guess = difflib.get_close_matches(key, sorted(known | set(_SHORT)), n=1)
                hint = f"; did you mean {guess[0]}?" if guess else ""
                raise ValueError(f"preset {name!r}: {key!r} is no field of images.create{hint}")
            clean[field] = value
        out[str(name)] = clean
    return out


def current() -> dict[str, dict[str, Any]]:
    """The presets set with ``%config`` in this IPython shell (none outside one)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return {}
    shell = get_ipython()
    magics = getattr(shell, "_aurous_magics", None)
    return check(getattr(magics, "presets", None) or {})


def resolve(preset: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A preset's fields: by name (from :func:`current`) or given as a dict; ``{}`` for None."""
    if preset is None:
        return {}
    if isinstance(preset, Mapping):
        return check({"preset": preset})["preset"]
    known = current()
    if preset not in known:
        names = ", ".join(sorted(known)) or "none set (%config Aurous.presets = {...})"
        raise ValueError(f"unknown preset {preset!r}; presets: {names}")
    return dict(known[preset])


def layered(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win field by field; a layer naming a LoRA (or a size) replaces the earlier
    choice of that kind whole (``lora_id`` over a preset's ``loras``, ``size`` over pixels)."""
    out: dict[str, Any] = {}
    for layer in layers:
        named = {k for k, v in layer.items() if v is not None}
        for group in _GROUPS:
            if named & group:
                for field in group:
                    out.pop(field, None)
        out.update({k: v for k, v in layer.items() if v is not None})
    return out
