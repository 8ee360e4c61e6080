"""Every generation and job status, and the groups they fall in, named once.

The server's (the contract): ``pending``, ``queued``, ``processing``, then one of ``succeeded``,
``failed``, ``cancelled``, ``expired``, ``moderation_rejected``. The toolkit adds its own:
``submitting`` (the ledger row is written; the create may or may not have reached the server),
``rejected`` (the create was refused: nothing exists server-side) and ``lost`` (never answered
and too old to re-send, or forgotten by the server). A batch job, in memory only, is also
``queued`` (not sent yet; so a server's ``queued`` reads there as ``queued_server``) or
``unknown`` (the engine stopped trying an unanswered create: the server may have it, so it is
re-sent with its own key, never bought anew; see :mod:`aurous_nb.work.reuse`).

Standard library only and importing nothing else of the package, like :mod:`aurous_nb.secret`:
the client (which imports nothing outside ``aurous_nb/client`` but such tiny modules) reads its
terminal set here too. SQL takes the groups as bound parameters, never as text.
"""

from __future__ import annotations

__all__ = [
    "ACTIVE",
    "ACTIVE_COLORS",
    "ALL",
    "BATCH_CANCELLED",
    "BATCH_FAILED",
    "BATCH_OK",
    "BATCH_RUNNING",
    "CANCELLED",
    "CHARACTER_SETTLED",
    "COLORS",
    "EXPIRED",
    "FAILED",
    "LOCAL_ENDS",
    "LOST",
    "MODERATION_REJECTED",
    "PENDING",
    "PROCESSING",
    "QUEUED",
    "QUEUED_SERVER",
    "READY",
    "REJECTED",
    "RETRYABLE",
    "REUSABLE",
    "REVIEWING",
    "SERVER_ACTIVE",
    "SERVER_TERMINAL",
    "SUBMITTING",
    "SUCCEEDED",
    "SYNTHESIZING",
    "TERMINAL",
    "UNKNOWN",
    "batch_status",
]

# The server's.
PENDING = "pending"
QUEUED = "queued"  # in a batch: not sent yet
PROCESSING = "processing"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"
MODERATION_REJECTED = "moderation_rejected"
# The toolkit's.
SUBMITTING = "submitting"
REJECTED = "rejected"
LOST = "lost"
UNKNOWN = "unknown"  # a batch job only: neither running nor ended
QUEUED_SERVER = "queued_server"  # a batch job the server answered ``queued`` for

#: Still to change on the server.
SERVER_ACTIVE = frozenset({PENDING, QUEUED, PROCESSING})
#: Final on the server.
SERVER_TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, EXPIRED, MODERATION_REJECTED})
#: A ledger row not final yet (including a create sent but never answered).
ACTIVE = SERVER_ACTIVE | {SUBMITTING}
#: The ends the toolkit marks a ledger row with itself; none of them charges anything.
LOCAL_ENDS = frozenset({REJECTED, LOST, CANCELLED})
#: A ledger row (or batch job) that will not change again.
TERMINAL = SERVER_TERMINAL | LOCAL_ENDS
#: What an unchanged re-run may show again instead of buying anew.
REUSABLE = ACTIVE | {SUCCEEDED}

# A batch job's buckets (its progress counts them).
BATCH_OK = frozenset({SUCCEEDED})
BATCH_CANCELLED = frozenset({CANCELLED})
BATCH_FAILED = TERMINAL - BATCH_OK - BATCH_CANCELLED
BATCH_RUNNING = frozenset({SUBMITTING, PENDING, QUEUED_SERVER, PROCESSING})
#: What ``retry_failed()`` queues again: failures with a new key, unknown jobs with their own.
RETRYABLE = frozenset({FAILED, EXPIRED, UNKNOWN})

#: Every status a ledger row or a batch job can have.
ALL = TERMINAL | ACTIVE | {UNKNOWN, QUEUED_SERVER}


#: The colour each ended status is drawn in, the same in result cards and cost reports.
COLORS = {
    SUCCEEDED: "#2e7d32",
    FAILED: "#c62828",
    "moderation_rejected": "#ef6c00",
    CANCELLED: "#757575",
    EXPIRED: "#8d6e63",
    "rejected": "#ad1457",
    "lost": "#4e342e",
}
#: Statuses still moving, in blues (reports draw them; a card shows any of them in one blue).
ACTIVE_COLORS = {
    SUBMITTING: "#1565c0",
    PENDING: "#1e88e5",
    QUEUED: "#1e88e5",
    PROCESSING: "#42a5f5",
}

# A character's (contract §3): synthesizing -> reviewing -> (save) -> ready, or failed;
# deleted and cancelled (deleted during a synthesis) are never shown by the API again.
SYNTHESIZING = "synthesizing"
REVIEWING = "reviewing"
READY = "ready"
#: Where a character's synthesis has stopped moving: ready to review, use, or look at.
CHARACTER_SETTLED = frozenset({REVIEWING, READY, FAILED})


def batch_status(status: str) -> str:
    """A server status as a batch job keeps it (``queued`` there means "not sent yet")."""
    return QUEUED_SERVER if status == QUEUED else status
