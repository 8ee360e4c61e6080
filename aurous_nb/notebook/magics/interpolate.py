"""``{{name}}`` interpolation for ``%aurous`` commands: explicit, escapable, namespace-only.

Only ``{{name}}`` (optionally ``{{name.attr}}`` or ``{{name[0]}}`` with a literal index/key) is
replaced, with ``str()`` of a value looked up in the user's namespace; nothing is evaluated.
Single braces are left alone, so a prompt like ``a {json: "object"}`` works as written, and
``\\{{`` keeps a literal ``{{``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from IPython.core.error import UsageError

__all__ = ["interpolate"]

_ESCAPED = "\\{{"
_PLACEHOLDER = "\ue000"  # a private-use character that never appears in real text
_STEP_RE = r"\.[A-Za-z_]\w*|\[(?:-?\d+|'[^']*'|\"[^\"]*\")\]"
_FIELD = re.compile(r"\{\{\s*([A-Za-z_]\w*)((?:" + _STEP_RE + r")*)\s*\}\}")
_STEP = re.compile(r"\.([A-Za-z_]\w*)|\[(-?\d+|'[^']*'|\"[^\"]*\")\]")


def _resolve(name: str, path: str, namespace: Mapping[str, Any]) -> Any:
    if name not in namespace:
        raise UsageError(
            f"{{{{{name}}}}}: no variable named {name!r} in the notebook "
            "(write \\{{ for literal braces)"
        )
    value = namespace[name]
    for attr, index in _STEP.findall(path):
        try:
            if attr:
                value = getattr(value, attr)
            elif index.lstrip("-").isdigit():
                value = value[int(index)]
            else:
                value = value[index[1:-1]]
        except (AttributeError, LookupError, TypeError) as exc:
            raise UsageError(f"{{{{{name}{path}}}}}: {type(exc).__name__}: {exc}") from None
    return value


def interpolate(text: str, namespace: Mapping[str, Any], render: Callable[[Any], str] = str) -> str:
    """Replace each ``{{name}}`` in ``text`` with ``render`` of the variable (its ``str()``;
    the magics pass :func:`aurous_nb.notebook.references.as_text`, so a PIL image or a
    Generation can be named as a reference)."""
    if "{{" not in text:
        return text
    protected = text.replace(_ESCAPED, _PLACEHOLDER)
    result = _FIELD.sub(lambda m: render(_resolve(m.group(1), m.group(2), namespace)), protected)
    return result.replace(_PLACEHOLDER, "{{")
