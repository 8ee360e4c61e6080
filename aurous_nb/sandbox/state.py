"""Everything one sandbox remembers: the team and its key, credits and holds, generations, files.

Generations move through ``pending -> processing -> <outcome>`` by the clock: each has its
transition times fixed at creation, and :meth:`SandboxState.settle` applies whatever is due. Every
request calls it before reading, and a ticker task calls it so webhooks fire without a reader.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import time
from collections.abc import Callable
from typing import Any

from aurous_nb.sandbox.characters import CharacterStore
from aurous_nb.sandbox.config import SandboxConfig
from aurous_nb.sandbox.errors import ApiError
from aurous_nb.sandbox.files import StoredFile
from aurous_nb.sandbox.generations import Generation
from aurous_nb.sandbox.idempotency import IdempotencyStore
from aurous_nb.sandbox.ids import new_id
from aurous_nb.sandbox.outputs import Signer
from aurous_nb.sandbox.pricing import DEFAULT_VERSION, Cost, num
from aurous_nb.sandbox.ratelimit import RateLimiter
from aurous_nb.sandbox.timefmt import iso
from aurous_nb.sandbox.validation import ImageRequest, VideoRequest
from aurous_nb.sandbox.webhooks import WebhookHub

PENDING_SHARE = 0.25
#: ``usage.balance_low`` fires when credits fall to this share of the starting credits (debounced)
BALANCE_LOW_SHARE = 0.1
BALANCE_LOW_DEBOUNCE_S = 3600.0
FAILURE_MESSAGE = "Provider error: the upstream model failed to produce an output."
MODERATION_MESSAGE = "Content policy violation"
EXPIRED_MESSAGE = "Provider timeout: the generation expired without an output."

TerminalHook = Callable[[Generation], None]


class Team:
    """The sandbox's one team: credits, the sum of holds, and the ids the API exposes."""

    def __init__(self, config: SandboxConfig) -> None:
        self.id = new_id("team")
        self.key_id = new_id("key")
        self.user_id = new_id("usr")
        self.name = "Sandbox Team"
        self.created_at = time.time()
        self.credits = float(config.credits)
        self.held = 0.0
        self.billing_mode = config.billing_mode
        self.default_api_version = DEFAULT_VERSION
        self.balance_low_threshold = float(config.credits) * BALANCE_LOW_SHARE
        self.balance_low_at: float | None = None

    @property
    def gated(self) -> bool:
        """Only ``metered`` teams are charged and blocked (unknown modes never gate)."""
        return self.billing_mode == "metered"

    @property
    def available(self) -> float:
        return self.credits - self.held

    def balance_json(self) -> dict[str, Any]:
        return {
            "object": "balance",
            "credits": num(self.credits),
            "held_credits": num(self.held),
            "available_credits": num(self.available),
            "currency": "credit",
            "billing_mode": self.billing_mode,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "object": "team",
            "id": self.id,
            "name": self.name,
            "credits": num(self.credits),
            "created_at": iso(self.created_at),
            "billing_email": "billing@sandbox.invalid",
            "billing_mode": self.billing_mode,
            "default_api_version": self.default_api_version,
            "balance_low_threshold": num(self.balance_low_threshold),
        }


class SandboxState:
    """All in memory; touched only from the server's event loop thread."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.team = Team(config)
        self.limiter = RateLimiter(config.time_factor, config.rate_limits)
        self.idempotency = IdempotencyStore()
        self.signer = Signer()
        self.webhooks = WebhookHub(config.time_factor)
        self.generations: dict[str, Generation] = {}
        self.order: list[Generation] = []
        self.active: dict[str, Generation] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_uploaded = 0  # files stored by POST /v1/files (replays not counted)
        self.rng = random.Random(config.seed)
        # separate streams, so the new knobs leave the seeded outcomes of the old ones unchanged
        self.expire_rng = random.Random(f"expire:{config.seed}")
        self.timeout_rng = random.Random(f"provider_timeout:{config.seed}")
        self.on_terminal: list[TerminalHook] = []
        self.on_balance_low: list[Callable[[], None]] = []
        self.characters = CharacterStore(
            self.team, config.seed, config.latency, config.failure_rate
        )
        self.characters.moderation_word = config.moderation_word
        self.characters.on_charge.append(self._check_balance_low)

    # -- auth -------------------------------------------------------------------------------

    def key_matches(self, key: str) -> bool:
        return hmac.compare_digest(key.encode(), self.config.api_key.encode())

    def key_scope(self, key: str) -> str | None:
        """``full`` for the main key, the configured scope of an extra key, else None."""
        if self.key_matches(key):
            return "full"
        for extra, scope in self.config.extra_keys.items():
            if hmac.compare_digest(key.encode(), extra.encode()):
                return scope
        return None

    def key_revoked(self, key: str) -> bool:
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in self.config.revoked_keys)

    # -- lifecycle --------------------------------------------------------------------------

    def _timeline(self, seq: int, created: float) -> tuple[float, float]:
        """(processing_at, done_at): the mean latency with a spread fixed by seed and order."""
        digest = hashlib.sha256(f"{self.config.seed}:{seq}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        spread = max(0.0, min(self.config.latency_spread, 1.0))
        total = max(0.0, self.config.latency) * (1.0 + spread * (2.0 * u - 1.0))
        return created + total * PENDING_SHARE, created + total

    def _outcome(self, prompt: str | None) -> tuple[str, str | None]:
        word = self.config.moderation_word
        failing = self.rng.random() < self.config.failure_rate
        if word and prompt and word.casefold() in prompt.casefold():
            return "moderation_rejected", MODERATION_MESSAGE
        if failing:
            return "failed", FAILURE_MESSAGE
        if self.config.expire_rate > 0 and self.expire_rng.random() < self.config.expire_rate:
            return "expired", EXPIRED_MESSAGE
        return "succeeded", None

    def provider_timed_out(self) -> bool:
        """Whether this create draws a 504 ``provider_timeout`` (``provider_timeout_rate``)."""
        rate = self.config.provider_timeout_rate
        return rate > 0 and self.timeout_rng.random() < rate

    def check_can_start(self, cost: Cost) -> None:
        """429 at the concurrency limit, 402 when the available balance cannot cover ``cost``."""
        self.settle()
        if len(self.active) >= self.config.concurrency_limit:
            soonest = min(g.done_at for g in self.active.values())
            retry = max(1, math.ceil(soonest - time.time()))
            raise ApiError(
                429,
                "concurrency_limit_exceeded",
                f"The team already has {len(self.active)} generations in progress "
                f"(limit {self.config.concurrency_limit}).",
                headers={"Retry-After": str(retry)},
            )
        if self.team.gated and self.team.available < cost.amount:
            raise ApiError(
                402,
                "balance_too_low",
                f"Team available balance is {num(self.team.available)} credits, "
                f"generation requires {num(cost.amount)}.",
                type="invalid_request",
            )

    def create(
        self,
        request: ImageRequest | VideoRequest,
        cost: Cost,
        *,
        version: str,
        request_id: str,
        idempotency_key: str | None,
        base_url: str,
    ) -> Generation:
        """Place the hold and start the clock (the caller ran :meth:`check_can_start`)."""
        now = time.time()
        seq = len(self.order)
        processing_at, done_at = self._timeline(seq, now)
        outcome, message = self._outcome(request.prompt)
        seed = request.seed if request.seed is not None else self.rng.randrange(2**32)
        held = cost.amount
        gen = Generation(
            id=new_id("vid" if isinstance(request, VideoRequest) else "img", now),
            seq=seq,
            request=request,
            cost=cost,
            held=held,
            gated=self.team.gated,
            seed=seed,
            aurous_version=version,
            creation_request_id=request_id,
            idempotency_key=idempotency_key,
            base_url=base_url,
            created_at=now,
            processing_at=processing_at,
            done_at=done_at,
            outcome=outcome,
            outcome_message=message,
        )
        char_id = getattr(request, "character_id", None)
        if char_id is not None:
            gen.figure = self.characters.figure(char_id, self.team.id)
        if gen.gated:
            self.team.held += held
        self.generations[gen.id] = gen
        self.order.append(gen)
        self.active[gen.id] = gen
        self.settle(now)
        return gen

    def settle(self, now: float | None = None) -> None:
        """Apply every transition that is due (idempotent, cheap when nothing is running)."""
        self.characters.settle(now)
        if not self.active:
            return
        now = time.time() if now is None else now
        for gen in list(self.active.values()):
            if now >= gen.done_at:
                self._finish(gen, gen.outcome, gen.done_at, gen.outcome_message)
            elif now >= gen.processing_at:
                gen.status = "processing"

    def _finish(self, gen: Generation, status: str, at: float, message: str | None) -> None:
        gen.status = status
        gen.completed_at = at
        gen.error_message = message
        if gen.gated:
            self.team.held -= gen.held
        if status == "succeeded":
            gen.charged = gen.held
            if gen.gated:
                self.team.credits -= gen.charged
                self._check_balance_low(at)
        gen.held = 0.0
        if abs(self.team.held) < 1e-9:
            self.team.held = 0.0
        del self.active[gen.id]
        for hook in self.on_terminal:
            hook(gen)

    def _check_balance_low(self, now: float) -> None:
        team = self.team
        if team.credits > team.balance_low_threshold:
            return
        if team.balance_low_at is not None and now - team.balance_low_at < BALANCE_LOW_DEBOUNCE_S:
            return
        team.balance_low_at = now
        for hook in self.on_balance_low:
            hook()

    def cancel(self, gen: Generation) -> bool:
        """Cancel a running generation; False when it has already ended another way."""
        self.settle()
        if gen.status == "cancelled":
            return True
        if gen.terminal:
            return False
        self._finish(gen, "cancelled", time.time(), None)
        return True

    # -- reads ------------------------------------------------------------------------------

    def find(self, gen_id: str) -> Generation | None:
        self.settle()
        return self.generations.get(gen_id)

    def file(self, file_id: str) -> StoredFile | None:
        stored = self.files.get(file_id)
        if stored is not None and time.time() >= stored.expires_at:
            del self.files[file_id]
            return None
        return stored

    def file_exists(self, file_id: str) -> bool:
        return self.file(file_id) is not None

    def character_status(self, char_id: str) -> str | None:
        """The status of the team's character ``char_id`` (None: unknown, deleted, not ours)."""
        char = self.characters.find(char_id, self.team.id)
        return None if char is None else char.status

    def ledger_json(self) -> dict[str, Any]:
        self.settle()
        charged = sum(g.debited for g in self.order) + self.characters.charged
        return {
            "object": "sandbox.ledger",
            "generations": [g.ledger_json() for g in self.order],
            "characters": self.characters.ledger_json(),
            "totals": {
                "generation_count": len(self.order),
                "starting_credits": num(self.config.credits),
                "credits": num(self.team.credits),
                "held_credits": num(self.team.held),
                "available_credits": num(self.team.available),
                "credits_charged": num(charged),
                "billing_mode": self.team.billing_mode,
                "files_uploaded": self.files_uploaded,
            },
        }
