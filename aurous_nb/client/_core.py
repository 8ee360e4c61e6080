"""The sans-IO core: request descriptions, the retry/pacing flow, rate-limit state.

An operation is a *flow*: a generator that yields :class:`Request` (answered with a
:class:`Response` or a :class:`TransportFault`) and :class:`Sleep` (answered with None), and
returns its parsed result. The sync and async clients each own one small driver loop that
performs those steps; everything else -- paths, bodies, validation, retries, idempotency,
pacing, parsing -- is written once, here and in the resource modules.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast
from urllib.parse import urljoin, urlsplit

from aurous_nb.canonical import canonical_json
from aurous_nb.client._params import check_encodable
from aurous_nb.client._uploads import MemoryUploads, UploadCache
from aurous_nb.client.errors import (
    APIConnectionError,
    APITimeoutError,
    AurousError,
    IdempotencyConflictError,
    InvalidResponseError,
    ValidationError,
    error_from_response,
    json_kind,
    redact,
    seconds,
)

__all__ = [
    "Core",
    "Flow",
    "RateLimit",
    "RateLimiter",
    "Request",
    "Response",
    "RetryPolicy",
    "Sleep",
    "StepFlow",
    "TransportFault",
    "adrive",
    "drive",
    "new_idempotency_key",
]

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.aurous-labs.com"
_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class Sleep:
    """A step: wait this many seconds (the driver uses time.sleep or asyncio.sleep)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Request:
    """A step: one HTTP request, fully described (the driver adds the key and sends it).

    ``idempotent`` says a retry after the request may have reached the server is safe (GETs,
    creates carrying an Idempotency-Key, cancel, estimates). ``stream_to`` asks the driver to
    stream a 2xx body into that file (temp file + rename). ``output`` marks the fetch of an
    output file: the larger size cap and a deadline that grows with the bytes received
    (see ``_limits``).
    """

    method: str
    url: str
    bucket: str | None = None
    params: Any = None
    body: bytes | None = None
    files: Any = None
    data: Any = None
    idempotency_key: str | None = None
    idempotent: bool = False
    auth: bool = True
    version: str | None = None
    timeout: float | None = None
    stream_to: str | None = None
    headers: Mapping[str, str] | None = None
    output: bool = False

    @property
    def safe_url(self) -> str:
        """The URL without its query string (where signed tokens live)."""
        return self.url.split("?", 1)[0]


@dataclass(frozen=True, slots=True)
class Response:
    """A received response; ``headers`` has lower-case names (see ``header_dict``)."""

    status: int
    headers: Mapping[str, str]
    content: bytes = b""

    def json(self) -> Any:
        """The decoded body (None when empty); a body that is not JSON is an
        :class:`InvalidResponseError`, never a raw decoder error."""
        if not self.content:
            return None
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested deep
            raise self.invalid(f"the answer is not JSON ({type(exc).__name__})") from None

    def object(self) -> dict[str, Any]:
        """The body as the JSON object every endpoint answers with."""
        body = self.json()
        if not isinstance(body, dict):
            raise self.invalid(f"the answer is {json_kind(body)}, not a JSON object")
        return body

    def invalid(self, message: str, param: str | None = None) -> InvalidResponseError:
        return InvalidResponseError(
            f"HTTP {self.status}: {message}",
            status=self.status,
            code="invalid_response",
            param=param,
            request_id=self.request_id,
            headers=self.headers,
        )

    @property
    def request_id(self) -> str | None:
        return self.headers.get("aurous-request-id")

    @property
    def version(self) -> str | None:
        return self.headers.get("aurous-version")


@dataclass(frozen=True, slots=True)
class TransportFault:
    """No usable response: ``delivered`` is False when the request surely never reached the
    server; ``invalid`` when an answer came but broke a rule (too large, broken encoding, a URL
    that cannot be requested): that is never retried."""

    message: str
    delivered: bool
    timeout: bool
    invalid: bool = False

    def error(self, req: Request, delivered: bool | None = None) -> AurousError:
        """The exception to raise; ``delivered`` covers every attempt (default: this one)."""
        text = f"{req.method} {req.safe_url}: {self.message}"
        if self.invalid:
            return InvalidResponseError(text, code="invalid_response")
        cls = APITimeoutError if self.timeout else APIConnectionError
        sent = self.delivered if delivered is None else delivered
        return cls(text, delivered=sent)


def header_dict(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Response headers as a plain dict with lower-case names: one pass, then O(1) lookups
    (httpx.Headers scans every header on each lookup)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}


Step = Request | Sleep
Flow = Generator[Step, Any, T]
#: A flow one level up, making several client calls with work between them (the ledger's
#: write-before-send, say): its steps are whole client calls (zero-argument callables whose
#: result, or exception, comes back into the flow) and sleeps. ``client.drive`` runs it.
StepFlow = Generator["Sleep | Callable[[], Any]", Any, T]


def drive(client: Any, flow: StepFlow[T]) -> T:
    """``client.drive(flow)`` on a blocking client, typed for callers that hold it as ``Any``."""
    return cast(T, client.drive(flow))


async def adrive(client: Any, flow: StepFlow[T]) -> T:
    """``await client.drive(flow)`` on an ``AsyncClient``."""
    return cast(T, await client.drive(flow))


def classify(exc: Exception) -> TransportFault:
    """Map an httpx transport exception: could the server have seen the request?"""
    import httpx

    name = type(exc).__name__
    text = redact(str(exc) or name)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return TransportFault(
            text, delivered=False, timeout=isinstance(exc, httpx.TimeoutException)
        )
    return TransportFault(text, delivered=True, timeout=isinstance(exc, httpx.TimeoutException))


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def check_version(version: str | None) -> str | None:
    if version is not None and not _VERSION_RE.match(version):
        raise ValidationError("version", f"version: must look like 2026-05-15 (got {version!r})")
    return version


def dumps(body: Any) -> bytes:
    """Canonical JSON (sorted keys), so a retried body is byte-identical; text with no UTF-8
    form is refused here whatever the endpoint (see ``check_encodable``)."""
    check_encodable("", body)
    return canonical_json(body, ascii_only=True).encode()


# ---------------------------------------------------------------- retries


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try, within ``budget`` seconds for one call.

    ``max_retries`` bounds retries after 5xx and connection faults; 429s are retried (after
    Retry-After, capped) until the budget runs out; a 409 ``idempotency_key_in_use`` is waited
    out ``conflict_retries`` times (it may also mean "same key, different body", which never
    clears). ``max_retries=0`` disables every retry.
    """

    max_retries: int = 4
    budget: float = 120.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    retry_after_cap: float = 30.0
    conflict_initial: float = 0.5
    conflict_max: float = 8.0
    conflict_retries: int = 6

    def backoff(self, attempt: int) -> float:
        base = min(self.backoff_initial * (2.0**attempt), self.backoff_max)
        return base * (0.5 + random.random() / 2)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    return seconds(headers.get("retry-after"))


# ---------------------------------------------------------------- rate limits


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A bucket as last reported: capacity, tokens left, epoch second when it is full again."""

    limit: int
    remaining: int
    reset: float


@dataclass(slots=True)
class _Bucket:
    limit: int
    tokens: float
    per_token: float | None
    stamp: float
    reset: float
    reported: RateLimit


class RateLimiter:
    """Per-bucket token state learned from X-RateLimit-* headers, shared by threads.

    ``acquire`` reserves a token and says how long to wait for it, so a well-behaved caller
    rarely meets a 429.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def snapshot(self) -> dict[str, RateLimit]:
        with self._lock:
            return {name: b.reported for name, b in self._buckets.items()}

    def acquire(self, bucket: str) -> float:
        with self._lock:
            b = self._buckets.get(bucket)
            if b is None:
                return 0.0
            now = self._clock()
            if b.per_token:
                b.tokens = min(b.limit, b.tokens + (now - b.stamp) / b.per_token)
            elif now >= b.reset:
                b.tokens = b.limit
            b.stamp = now
            if b.tokens >= 1:
                b.tokens -= 1
                return 0.0
            wait = (1 - b.tokens) * b.per_token if b.per_token else max(0.0, b.reset - now)
            b.tokens -= 1
            return min(wait, 60.0)

    def update(
        self, bucket: str, headers: Mapping[str, str], status: int, *, drained: bool = True
    ) -> None:
        get = headers.get
        limit_s = get("x-ratelimit-limit") or get("ratelimit-limit")
        remaining_s = get("x-ratelimit-remaining") or get("ratelimit-remaining")
        reset_s = get("x-ratelimit-reset") or get("ratelimit-reset")
        retry_after = _retry_after(headers) if status == 429 else None
        if limit_s is None and retry_after is None:
            return
        now = self._clock()
        limit_f, remaining_f, reset_f = (
            default if text is None else seconds(text)
            for text, default in ((limit_s, 0.0), (remaining_s, 0.0), (reset_s, now))
        )
        if limit_f is None or remaining_f is None or reset_f is None:
            return  # nan, inf, negative, text: nothing an honest server sends
        limit, remaining, reset = int(limit_f), int(remaining_f), reset_f
        if reset < 1e9:  # the IETF draft sends delta seconds, the contract epoch seconds
            reset += now
        if retry_after is not None and drained:
            remaining = 0
            reset = max(reset, now + retry_after)
        with self._lock:
            old = self._buckets.get(bucket)
            limit = limit or (old.limit if old else 1)
            deficit = limit - remaining
            per_token = (
                (reset - now) / deficit
                if deficit > 0 and reset > now
                else (old.per_token if old else None)
            )
            tokens = float(remaining)
            if retry_after is not None and per_token:
                tokens = min(0.0, 1.0 - retry_after / per_token)  # next token after Retry-After
            self._buckets[bucket] = _Bucket(
                limit=limit,
                tokens=tokens,
                per_token=per_token,
                stamp=now,
                reset=reset,
                reported=RateLimit(limit=limit, remaining=remaining, reset=reset),
            )


# ---------------------------------------------------------------- the core


@dataclass(slots=True)
class Core:
    """Settings shared by every flow of one client (and its with_options variants)."""

    base_url: str
    version: str | None
    timeout: float
    retry: RetryPolicy
    limiter: RateLimiter = field(default_factory=RateLimiter)
    monotonic: Callable[[], float] = time.monotonic
    #: Idempotency-Key -> fingerprint of the request it succeeded with (bounded, shared with
    #: with_options variants): reusing a key for another request fails fast, not after 409s.
    used_keys: dict[str, str] = field(default_factory=dict)
    #: Reference files uploaded (content -> file_ id), and the remembered ones this process has
    #: seen alive (file_ id -> monotonic time of the check): see ``client.references``.
    uploads: UploadCache = field(default_factory=MemoryUploads)
    checked_files: dict[str, float] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    # -- request builders -------------------------------------------------

    def get(
        self, path: str, *, params: Any = None, version: str | None = None, bucket: str = "read"
    ) -> Request:
        return Request(
            "GET",
            self.url(path),
            bucket=bucket,
            params=params,
            idempotent=True,
            version=check_version(version),
        )

    def send_json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        bucket: str | None,
        idempotent: bool = False,
        idempotency_key: str | None = None,
        version: str | None = None,
    ) -> Request:
        return Request(
            method,
            self.url(path),
            bucket=bucket,
            body=None if body is None else dumps(body),
            idempotency_key=idempotency_key,
            idempotent=idempotent or idempotency_key is not None,
            version=check_version(version),
        )

    # -- the one place that decides about retries ---------------------------

    def call(self, req: Request) -> Flow[Response]:
        """Send ``req`` until it succeeds or retrying is no longer safe or worthwhile."""
        policy = self.retry
        key = req.idempotency_key
        fingerprint = _fingerprint(req) if key is not None else ""
        if key is not None and self.used_keys.get(key, fingerprint) != fingerprint:
            raise IdempotencyConflictError(
                f"Idempotency-Key {key[:40]!r} was already used by this client for a different "
                "request; use a new key for a new request",
                code="idempotency_key_in_use",
                param="Idempotency-Key",
            )
        start = self.monotonic()
        failures = 0
        conflicts = 0
        throttled = 0
        hops = 0
        conflict_wait = policy.conflict_initial
        delivered = False  # whether any attempt may have reached the server
        paced = True  # False right after a 429 wait: Retry-After already was the pacing
        while True:
            if req.bucket is not None and paced:
                pause = self.limiter.acquire(req.bucket)
                if pause > 0:
                    yield Sleep(pause)
            paced = True
            outcome = yield req
            if isinstance(outcome, TransportFault):
                delivered = delivered or outcome.delivered
                safe = (req.idempotent or not outcome.delivered) and not outcome.invalid
                delay = policy.backoff(failures)
                if safe and failures < policy.max_retries and self._fits(start, delay):
                    failures += 1
                    yield Sleep(delay)
                    continue
                raise outcome.error(req, delivered)
            delivered = True
            resp: Response = outcome
            status = resp.status
            err = (
                error_from_response(status, resp.headers, _json_or_none(resp), _text(resp))
                if status >= 400
                else None
            )
            if req.bucket is not None:
                # A concurrency 429 did not empty the token bucket: its headers stay true.
                drained = (
                    status == 429 and err is not None and err.code != "concurrency_limit_exceeded"
                )
                self.limiter.update(req.bucket, resp.headers, status, drained=drained)
            if status < 300:
                if key is not None:
                    self._remember(key, fingerprint)
                return resp
            location = resp.headers.get("location")
            if status in _REDIRECTS and location and hops < 5:
                hops += 1
                req = self._follow(req, resp, location)
                continue
            if err is None:  # a redirect we could not follow
                err = error_from_response(status, resp.headers, _json_or_none(resp), _text(resp))
            wait = self._retry_delay(req, err, failures, conflict_wait, conflicts, throttled)
            if wait is not None and policy.max_retries > 0 and self._fits(start, wait):
                if status >= 500:
                    failures += 1
                elif status == 409:
                    conflicts += 1
                    conflict_wait = min(conflict_wait * 2, policy.conflict_max)
                elif status == 429:
                    paced = False
                    throttled += 1
                yield Sleep(wait)
                continue
            raise err

    def _remember(self, key: str, fingerprint: str) -> None:
        keys = self.used_keys
        keys[key] = fingerprint
        while len(keys) > _MAX_KEYS:  # drop the oldest (dicts keep insertion order)
            keys.pop(next(iter(keys)), None)

    def _fits(self, start: float, delay: float) -> bool:
        return self.monotonic() + delay - start <= self.retry.budget

    def _retry_delay(
        self,
        req: Request,
        err: AurousError,
        failures: int,
        conflict_wait: float,
        conflicts: int,
        throttled: int,
    ) -> float | None:
        status = err.status or 0
        policy = self.retry
        if status == 429:
            # Without a usable Retry-After, back off more with each 429 in a row.
            after = _retry_after(err.headers)
            wait = after if after is not None else policy.backoff(throttled)
            return max(0.05, min(wait, policy.retry_after_cap))
        if (
            status == 409
            and err.code == "idempotency_key_in_use"
            and req.idempotency_key
            and conflicts < policy.conflict_retries
        ):
            return conflict_wait
        if status >= 500 and req.idempotent and failures < policy.max_retries:
            return policy.backoff(failures)
        return None

    def _follow(self, req: Request, resp: Response, location: str) -> Request:
        target = urljoin(req.url, location)
        same_origin = urlsplit(target)[:2] == urlsplit(req.url)[:2]
        note = resp.headers.get("aurous-deprecated")
        sunset = resp.headers.get("sunset")
        if note or resp.status == 308:
            warnings.warn(
                f"{req.method} {urlsplit(req.url).path} is a legacy route"
                f"{' (' + note + ')' if note else ''}; it redirects to {urlsplit(target).path}"
                f"{', sunset ' + sunset if sunset else ''}. Use the new path.",
                DeprecationWarning,
                stacklevel=_caller_level(),
            )
        if resp.status == 303:
            return replace(req, method="GET", url=target, body=None, auth=req.auth and same_origin)
        return replace(req, url=target, auth=req.auth and same_origin)

    def call_json(self, req: Request) -> Flow[dict[str, Any]]:
        """``call``, then the answer's JSON object (anything else: InvalidResponseError)."""
        resp = yield from self.call(req)
        return resp.object()


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_level() -> int:
    """The warnings stacklevel of the first frame outside this package (the user's line)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _fingerprint(req: Request) -> str:
    """What the server compares for an Idempotency-Key: route and canonical body/fields."""
    h = hashlib.sha256(f"{req.method} {req.safe_url}\n".encode())
    if req.body is not None:
        h.update(req.body)
    if req.data is not None:
        h.update(repr(sorted(dict(req.data).items())).encode())
    return h.hexdigest()


def _json_or_none(resp: Response) -> Any:
    try:
        return resp.json()
    except InvalidResponseError:
        return None


def _text(resp: Response) -> str:
    return resp.content[:200].decode("utf-8", "replace")


def next_cursor(has_more: object, cursor: object, seen: set[str]) -> str | None:
    """The cursor of the next page, or ``None`` at the end of a list. A cursor already ``seen``
    would page for ever (a server that always says ``has_more``): a typed error instead."""
    if not has_more or not isinstance(cursor, str) or not cursor:
        return None
    if cursor in seen:
        raise InvalidResponseError(
            f"the API sent the page cursor {cursor!r} twice: the list would never end",
            code="invalid_response",
        )
    seen.add(cursor)
    return cursor
