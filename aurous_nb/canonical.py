"""Canonical JSON: sorted keys, no spaces, the one encoding behind every identity and body.

A request's hash in the ledger, a batch spec's stable key, a rate card's digest and the bytes
of a sent body (a retry must repeat the first send exactly) are all this text, and the first
three already sit in users' ledgers. So each caller keeps the bytes it always had, through the
options below (``tests/test_canonical.py`` pins them); change none of them for an old caller.

Standard library only and importing nothing else of the package, like :mod:`aurous_nb.secret`,
so the client (which imports nothing outside ``aurous_nb/client`` but such tiny modules) uses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(
    value: Any,
    *,
    drop_none: bool = False,
    ascii_only: bool = False,
    default: Callable[[Any], Any] | None = None,
    spaced: bool = False,
) -> str:
    """``value`` as compact JSON with sorted keys.

    ``drop_none``: leave out ``None`` members at every depth (an option left unset is the same
    request as one never named: the ledger's request text and hash). ``ascii_only``: escape
    non-ASCII (the client's wire bodies). ``default``: how to write what JSON has no form for
    (batch spec keys write it with ``str``); without it such a value raises ``TypeError``.
    ``spaced``: ``", "`` and ``": "`` between items (grid names were first written so).
    """
    data = _drop_none(value) if drop_none else value
    return json.dumps(
        data,
        sort_keys=True,
        separators=(", ", ": ") if spaced else (",", ":"),
        ensure_ascii=ascii_only,
        default=default,
    )


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value
