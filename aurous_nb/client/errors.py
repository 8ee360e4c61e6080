"""Typed exceptions: one class per error family a caller branches on.

Every API error carries the envelope's fields (status, type, code, param, message, request_id,
doc_url). Messages never contain the API key or a signed URL's token (see ``redact``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from aurous_nb.secret import redact

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AurousError",
    "AuthenticationError",
    "GenerationFailedError",
    "IdempotencyConflictError",
    "InsecureURLWarning",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "InvalidResponseError",
    "NotFoundError",
    "OutputExpiredError",
    "OutputNotAvailableError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
    "WaitTimeoutError",
    "error_from_response",
    "json_kind",
    "redact",
    "seconds",
]


class AurousError(Exception):
    """Base of every error this package raises about the API.

    Attributes mirror the error envelope; ``status`` is None for errors raised before (or
    without) an HTTP response.
    """

    status: int | None
    type: str | None
    code: str | None
    param: str | None
    message: str
    request_id: str | None
    doc_url: str | None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        doc_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = redact(message)
        self.status = status
        self.type = type
        self.code = code
        # What a server sends may quote the key anywhere (aurous_nb.secret: one rule for all).
        self.param = None if param is None else redact(param)
        self.request_id = request_id
        self.doc_url = None if doc_url is None else redact(doc_url)
        self.headers: Mapping[str, str] = dict(headers or {})
        super().__init__(self.message)

    def __str__(self) -> str:
        head = " ".join(str(p) for p in (self.status, self.code) if p is not None)
        text = f"{head}: {self.message}" if head else self.message
        if self.param:
            text += f" (param: {self.param})"
        if self.request_id:
            text += f" [{self.request_id}]"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self._fields()))

    def _fields(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "type": self.type,
            "code": self.code,
            "param": self.param,
            "request_id": self.request_id,
            "doc_url": self.doc_url,
        }

    # Notebook rendering: a short block instead of a 40-line traceback.
    def _render_traceback_(self) -> list[str]:
        lines = [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]
        if self.doc_url:
            lines.append(f"  docs: {self.doc_url}")
        return lines

    def _repr_html_(self) -> str:
        from html import escape

        doc = f' <a href="{escape(self.doc_url)}">docs</a>' if self.doc_url else ""
        return f"<b>{escape(type(self).__name__)}</b>: {escape(str(self))}{doc}"


def _rebuild(cls: type[AurousError], message: str, fields: dict[str, Any]) -> AurousError:
    err = cls.__new__(cls)
    delivered = fields.pop("delivered", None)
    AurousError.__init__(err, message, **fields)
    if delivered is not None:
        err.delivered = delivered  # type: ignore[attr-defined]
    return err


class ValidationError(AurousError, ValueError):
    """A request argument is invalid; raised before anything is sent. ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message, type="invalid_request", code="client_validation", param=param)

    def __str__(self) -> str:  # the message already names the field
        return self.message


class AuthenticationError(AurousError):
    """401: the key is missing, invalid or revoked."""


class PermissionDeniedError(AurousError):
    """403: the key's scope is too narrow (``missing_scope``)."""


class InvalidRequestError(AurousError):
    """400 (and the other ``invalid_request`` statuses): the server rejected the request."""


class InsufficientBalanceError(InvalidRequestError):
    """402: available credits are too low for this request."""


class IdempotencyConflictError(InvalidRequestError):
    """409 ``idempotency_key_in_use``: the key is in flight, or was used with another body."""


class OutputNotAvailableError(InvalidRequestError):
    """422 ``output_not_available`` (or known locally): the generation has no output to fetch."""


class NotFoundError(AurousError):
    """404: no such resource for this team."""


class OutputExpiredError(NotFoundError):
    """410 ``output_expired``: the output is no longer kept; download it sooner next time."""


def seconds(value: str | None) -> float | None:
    """A header's finite, non-negative number of seconds; None for anything else (``nan``,
    ``inf``, ``-5``, an HTTP date), so a hostile header can neither stop nor stall the client."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def json_kind(value: Any) -> str:
    """What a decoded JSON value is, in JSON's words (``null``, ``list``, ``string`` ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else "a string"


class RateLimitError(AurousError):
    """429: a rate-limit bucket or the concurrency limit is exhausted."""

    @property
    def retry_after(self) -> float | None:
        return seconds(self.headers.get("retry-after"))


class ServerError(AurousError):
    """5xx: the API or its provider failed."""


class InvalidResponseError(ServerError):
    """The server answered something no correct server sends: a body that is not the JSON
    object expected, an id that is not an API id, an unusable output URL, a body over the size
    cap, a broken compression stream. Nothing in it is used; ``param`` names the field."""


class APIConnectionError(AurousError):
    """No HTTP response arrived (connection refused, reset, dropped).

    ``delivered`` says whether the request may have reached the server (any attempt of it):
    False only when every attempt provably never left (connection refused, connect timeout).
    A create that may have been delivered may have been done and charged: re-send it with its
    own idempotency key, never a new one.
    """

    delivered: bool = True

    def __init__(self, message: str, *, delivered: bool = True, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.delivered = delivered

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "delivered": self.delivered}


class APITimeoutError(APIConnectionError):
    """The request timed out before a response arrived."""


class WaitTimeoutError(AurousError, TimeoutError):
    """``wait()`` ran out of time; ``generation`` is the last state seen."""

    def __init__(self, message: str, generation: Any = None) -> None:
        super().__init__(message, code="wait_timeout")
        self.generation = generation


class GenerationFailedError(AurousError):
    """A generation ended without output (``failed``, ``cancelled``, ``expired``,
    ``moderation_rejected``: the ``code``); ``generation`` is its final state."""

    def __init__(self, generation: Any) -> None:
        reason = getattr(generation, "error_message", None) or "no reason given"
        super().__init__(
            f"{generation.id} ended {generation.status}: {reason}", code=str(generation.status)
        )
        self.generation = generation


class InsecureURLWarning(UserWarning):
    """The base URL is plain http to a host other than this machine: the key and every answer
    cross the network unencrypted, and anyone on the path can read or change them."""


def _class_for(status: int, code: str | None) -> type[AurousError]:
    if code == "output_expired" or status == 410:
        return OutputExpiredError
    if code == "output_not_available":
        return OutputNotAvailableError
    if code == "idempotency_key_in_use":
        return IdempotencyConflictError
    if status == 402:
        return InsufficientBalanceError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return InvalidRequestError


def error_from_response(
    status: int, headers: Mapping[str, str], body: Any, fallback_text: str = ""
) -> AurousError:
    """Map an error response (decoded JSON body or None) to its exception."""
    env = body.get("error") if isinstance(body, dict) else None
    if not isinstance(env, dict):
        env = {}

    def s(key: str) -> str | None:
        v = env.get(key)
        return v if isinstance(v, str) else None

    code = s("code")
    message = s("message") or fallback_text.strip()[:200] or f"HTTP {status}"
    return _class_for(status, code)(
        message,
        status=status,
        type=s("type"),
        code=code,
        param=s("param"),
        request_id=s("request_id") or headers.get("aurous-request-id"),
        doc_url=s("doc_url"),
        headers=headers,
    )
