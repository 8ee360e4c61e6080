"""Errors in a notebook: a short block that says what went wrong and what to do next.

API errors keep their type (so ``except InsufficientBalanceError`` still works around a magic);
:func:`with_advice` gives the instance a ``_render_traceback_`` that IPython shows instead of a
traceback: the error, its code and request id, and one line of advice for its family.
"""

from __future__ import annotations

from typing import Any

from aurous_nb.statuses import FAILED, MODERATION_REJECTED

__all__ = ["GenerationFailed", "advice", "render", "with_advice"]

RESUME = "%aurous jobs --resume"


class GenerationFailed(RuntimeError):
    """A job ended without output (failed, moderation_rejected, cancelled, expired)."""

    def __init__(self, generation: Any, charged: float | None) -> None:
        self.generation = generation
        self.charged = charged
        reason = getattr(generation, "error_message", None) or "no reason given"
        super().__init__(f"{generation.id} ended {generation.status}: {reason}")


def advice(exc: BaseException) -> str | None:
    """What a person can do about ``exc`` (None when there is nothing useful to add)."""
    from aurous_nb.client import errors as e
    from aurous_nb.store.ledger_file import LedgerError
    from aurous_nb.work.quote import BudgetExceededError

    if isinstance(exc, LedgerError):
        return exc.advice
    if isinstance(exc, BudgetExceededError):
        if exc.setting in ("session_budget", "daily_budget", "notebook_budget"):
            return (
                f"Raise it: %config Aurous.{exc.setting} = {exc.raise_to:g} "
                "(%aurous budget shows every cap)."
            )
        if exc.what == "budget":
            return f"Raise the budget to {exc.needed:g} or more, or ask for less."
        return "Top up, or ask for less. %aurous balance shows what is available."
    if isinstance(exc, GenerationFailed):
        status = exc.generation.status
        if status == MODERATION_REJECTED:
            return "Rephrase the prompt; moderation rejected it. Holds are released."
        if status == FAILED:
            return "Run the cell again with --fresh to retry."
        return "Run the cell again with --fresh to start a new job."
    if isinstance(exc, e.ValidationError):
        if exc.param == "size":
            return "Nothing was sent. Pick one of the sizes named above."
        if _names_a_lora(exc.param):
            return "Nothing was sent. %aurous loras lists the styles (video: %aurous video-loras)."
        return "Nothing was sent. Fix that option (see %aurous <command> --help)."
    if isinstance(exc, e.InsufficientBalanceError):
        return "Top up, or ask for less (--count, --size). %aurous balance shows what is available."
    if isinstance(exc, e.IdempotencyConflictError):
        return "The same job is still being created; run %aurous jobs --resume in a moment."
    if isinstance(exc, e.InvalidRequestError):
        return "Check the options (%aurous <command> --help); nothing was charged."
    if isinstance(exc, e.AuthenticationError):
        return (
            "Check AUROUS_API_KEY (a rotated key stops working 24 h after rotation), then "
            "%aurous connect again."
        )
    if isinstance(exc, e.PermissionDeniedError):
        return "This key lacks the scope for that call; use a key with generation scope."
    if isinstance(exc, e.OutputExpiredError):
        return "The API keeps outputs about 24 h; the local cache keeps what was downloaded."
    if isinstance(exc, e.NotFoundError):
        if _names_a_lora(exc.param):
            return "Check the style; %aurous loras (or video-loras) lists what your team has."
        return "Check the id; %aurous history lists your generations."
    if isinstance(exc, e.RateLimitError):
        wait = exc.retry_after
        when = f"in {wait:g} s" if wait else "in a moment"
        return f"Rate limited: run the cell again {when} (%aurous grid paces big batches)."
    if isinstance(exc, e.WaitTimeoutError):
        return "The job keeps running: %aurous wait ID collects it (nothing is bought twice)."
    if isinstance(exc, e.InvalidResponseError):
        return (
            "The answer broke the API's contract and none of it was used. If it persists, "
            "check --base-url (a proxy, or someone on a plain-http path, may be changing answers)."
        )
    if isinstance(exc, e.ServerError):
        return (
            "A server-side failure; if a job was being created the server may have it. Run the "
            f"cell again (or {RESUME}): it re-sends that create with its own idempotency key, "
            "so nothing is bought twice."
        )
    if isinstance(exc, e.APIConnectionError):
        if not exc.delivered:
            return (
                "Could not reach the API (check the network or --base-url); nothing was sent. "
                "Run the cell again once it answers."
            )
        return (
            "No answer from the API (check the network or --base-url); if a job was being "
            f"created the server may have it. Run the cell again (or {RESUME}): it re-sends "
            "that create with its own idempotency key, so nothing is bought twice."
        )
    return None


def _names_a_lora(param: str | None) -> bool:
    return bool(param) and ("lora" in str(param))


def render(exc: BaseException) -> list[str]:
    """The lines IPython shows for ``exc`` (red name, message, code / request id, advice)."""
    from aurous_nb.client.errors import AurousError

    lines = [f"\x1b[31m{type(exc).__name__}\x1b[0m: {getattr(exc, 'message', None) or exc}"]
    if isinstance(exc, AurousError):
        facts = [
            f"{label} {value}"
            for label, value in (
                ("status", exc.status),
                ("code", exc.code),
                ("param", exc.param),
                ("request id", exc.request_id),
            )
            if value
        ]
        if facts:
            lines.append("  " + " · ".join(facts))
        if exc.doc_url:
            lines.append(f"  docs: {exc.doc_url}")
    tip = advice(exc)
    if tip:
        lines.append(f"  → {tip}")
    return lines


def with_advice(exc: BaseException) -> BaseException:
    """``exc``, rendering as a short block in IPython when it is one of ours."""
    from aurous_nb.client.errors import AurousError
    from aurous_nb.store.ledger_file import LedgerError
    from aurous_nb.work.quote import BudgetExceededError

    if isinstance(exc, (AurousError, GenerationFailed, BudgetExceededError, LedgerError)):
        setattr(exc, "_render_traceback_", lambda: render(exc))  # noqa: B010
    return exc
