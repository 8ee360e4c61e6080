"""Every knob of the sandbox in one place, shared by the CLI, the ``Sandbox`` class and the app."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field, fields

from aurous_nb.secret import mask

#: what each key scope allows (contract §1 Authentication); the main ``api_key`` is ``full``
SCOPES = ("read", "write", "full")


def new_api_key() -> str:
    """A key in the hosted API's format: ``al_live_`` + 64 hex characters."""
    return "al_live_" + secrets.token_hex(32)


@dataclass
class SandboxConfig:
    """Settings of one sandbox server.

    Attributes:
        api_key: the key the team's requests must carry (generated when not given).
        credits: the team's starting credits.
        latency: mean seconds a generation spends pending + processing.
        latency_spread: relative spread of that latency (0.3 = +/-30 %, deterministic per request).
        seed: seeds every random choice the sandbox makes (ids excepted), for repeatable runs.
        failure_rate: fraction of generations that end ``failed`` (provider failure).
        moderation_word: prompts containing this word (any case) end ``moderation_rejected``.
        time_factor: speeds up rate-limit refill and webhook retry delays (10 = ten times faster).
        output_ttl: seconds an output stays downloadable after completion (then 410).
        file_ttl: seconds an uploaded file lives before it is purged (the contract's 24 h).
        concurrency_limit: non-terminal generations a team may have before 429
            ``concurrency_limit_exceeded``.
        chaos: fraction of ``/v1`` requests that fail on purpose (500, 503, 429, a dropped response
            after the work was done, or a response delayed past a client's timeout).
        chaos_delay: seconds a "delayed" chaos response waits before it is sent.
        rate_limits: whether token buckets are enforced at all.
        billing_mode: ``metered`` (charged and gated) or ``exempt``.
        public_base_url: base URL written into signed output URLs (defaults to the served one).
        extra_keys: more keys of the same team, key -> scope ``read`` | ``write`` | ``full``;
            a key whose scope is too narrow for a route gets 403 ``missing_scope``.
        revoked_keys: keys answered 401 ``revoked_api_key``.
        blocked_word: prompts containing this word (any case) are refused at create and estimate
            with 400 ``prompt_blocked``; reference URLs containing it with 400
            ``reference_blocked``. None turns both off.
        expire_rate: fraction of generations that end ``expired`` (provider timeout, no output,
            hold released).
        provider_timeout_rate: fraction of image/video creates answered 504 ``provider_timeout``
            before any generation is made.
        upload_url_ttl: seconds a character upload ticket's signed PUT URL works (15 min).
        upload_ticket_ttl: seconds a character upload ticket can be used by a create (24 h).
    """

    api_key: str = field(default_factory=new_api_key)
    credits: float = 1000.0
    latency: float = 2.0
    latency_spread: float = 0.3
    seed: int = 0
    failure_rate: float = 0.0
    moderation_word: str | None = "forbidden"
    time_factor: float = 1.0
    output_ttl: float = 24 * 3600.0
    file_ttl: float = 24 * 3600.0
    concurrency_limit: int = 50
    chaos: float = 0.0
    chaos_delay: float = 30.0
    rate_limits: bool = True
    billing_mode: str = "metered"
    public_base_url: str | None = None
    extra_keys: dict[str, str] = field(default_factory=dict)
    revoked_keys: tuple[str, ...] = ()
    blocked_word: str | None = "blockedword"
    expire_rate: float = 0.0
    provider_timeout_rate: float = 0.0
    upload_url_ttl: float = 15 * 60.0
    upload_ticket_ttl: float = 24 * 3600.0

    def __repr__(self) -> str:
        """Every setting, the keys masked (aurous_nb.secret): a repr is often printed."""
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["api_key"] = mask(self.api_key)
        shown["extra_keys"] = {mask(k): scope for k, scope in self.extra_keys.items()}
        shown["revoked_keys"] = tuple(mask(k) for k in self.revoked_keys)
        return f"SandboxConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def __post_init__(self) -> None:
        """Refuse settings no server could run with: a NaN latency never finishes a job, a NaN
        credit balance never refuses one (every comparison with NaN is False)."""
        for name in (
            "credits",
            "latency",
            "latency_spread",
            "output_ttl",
            "file_ttl",
            "chaos_delay",
            "upload_url_ttl",
            "upload_ticket_ttl",
        ):
            _check(name, getattr(self, name))
        for name in ("failure_rate", "chaos", "expire_rate", "provider_timeout_rate"):
            _check(name, getattr(self, name), hi=1.0)
        _check("time_factor", self.time_factor, above=True)
        if self.concurrency_limit < 1:
            raise ValueError(f"concurrency_limit must be at least 1 (got {self.concurrency_limit})")


def _check(name: str, value: float, *, hi: float | None = None, above: bool = False) -> None:
    """The sandbox's own reading of the rule (it imports nothing from the client): finite,
    0 or more (more than 0 when ``above``), at most ``hi``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number (got {value!r})")
    if value < 0 or (above and value == 0) or (hi is not None and value > hi):
        bounds = (
            f"between 0 and {hi:g}" if hi is not None else "more than 0" if above else "0 or more"
        )
        raise ValueError(f"{name} must be {bounds} (got {value!r})")
