"""The one rule for a create whose answer never came: re-send it with its own key, never a new one.

An unanswered create -- its ledger row still ``submitting`` because the connection dropped after
sending, it timed out, the server answered 5xx, or Stop was pressed while it was in flight -- is
*unknown*: the server may have done it and charged for it. Re-running the cell, clicking Generate
again, retrying or re-running a batch and ``%aurous jobs --resume`` all re-send it **with its
own idempotency key** (the server replays its answer, or makes it now: once either way) until the
server answers or the key's 24 h window ends; then the row is marked ``lost`` and never re-sent.

Only a create the server answered with a refusal (a 4xx: the row is ``rejected``) or provably
never received (a local validation error leaves no row) may be bought again with a new key. The
magics, the widgets, the batch engine and resume all ask here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aurous_nb.statuses import LOST, SUBMITTING, UNKNOWN

if TYPE_CHECKING:
    from aurous_nb.store.ledger import JobRecord, Ledger

__all__ = [
    "IDEMPOTENCY_WINDOW_S",
    "UNKNOWN",
    "UNKNOWN_TEXT",
    "is_unknown",
    "may_have_landed",
    "outstanding",
    "resendable",
    "settled",
]

#: The server keeps idempotency keys for 24 h; past that a re-send could buy a second
#: generation, so an unanswered row older than this is marked ``lost`` instead of re-sent.
IDEMPOTENCY_WINDOW_S = 23 * 3600.0

#: What every view says about such a job.
UNKNOWN_TEXT = "unknown: the server may have it"


def is_unknown(record: JobRecord | None) -> bool:
    """A create written and (maybe) sent, with no answer known: re-send it, never replace it."""
    return (
        record is not None
        and record.key is not None
        and record.generation_id is None
        and record.status == SUBMITTING
    )


def settled(exc: BaseException) -> bool:
    """Whether the server's answer to a create says nothing was made: a final refusal (4xx).

    Rate limits, server errors, transport failures, in-flight 409s and anything that is not an
    API error (an interrupt, a cancelled task, a bug) settle nothing: the row stays unknown.
    """
    from aurous_nb.client import errors

    if not isinstance(exc, errors.AurousError):
        return False
    return not isinstance(
        exc,
        (
            errors.RateLimitError,
            errors.ServerError,
            errors.APIConnectionError,
            errors.IdempotencyConflictError,
        ),
    )


def may_have_landed(exc: BaseException) -> bool:
    """Whether the server may have done (and charged) a create that raised ``exc``."""
    from aurous_nb.client import errors

    if isinstance(exc, errors.APIConnectionError):
        return bool(getattr(exc, "delivered", True))
    if isinstance(exc, errors.RateLimitError):
        return False  # answered: not made
    return not settled(exc)


def resendable(ledger: Ledger, record: JobRecord, now: float | None = None) -> JobRecord | None:
    """``record`` if its key may still be re-sent; once past the window it is marked ``lost``
    (and ``None`` returned): a re-send then could buy a second generation."""
    sent = record.submitted_at
    if record.key is None or not sent or (now or time.time()) - sent <= IDEMPOTENCY_WINDOW_S:
        return record
    ledger.mark(
        record.key,
        LOST,
        error_code="idempotency_window_passed",
        error_message="never answered, and too old to re-send without risking a second buy",
    )
    return None


def outstanding(
    ledger: Ledger,
    env: str,
    kind: str,
    request: Mapping[str, Any],
    *,
    notebook: str | None = None,
    cell: str | None = None,
) -> JobRecord | None:
    """The newest unknown create of this very request (still within its window), if any."""
    record = ledger.reusable(
        env, kind, request, notebook=notebook, cell=cell, statuses=(SUBMITTING,)
    )
    if record is None or not is_unknown(record):
        return None
    return resendable(ledger, record)
