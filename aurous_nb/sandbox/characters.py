"""Characters and their upload tickets (contract §2.28-2.37, §3): what the sandbox keeps and how
a character moves through ``synthesizing -> reviewing -> (save) -> ready`` or ``failed``.

Like generations, a synthesis has its end time and outcome fixed when it starts, and
:meth:`CharacterStore.settle` applies whatever is due (every read calls it). Each pose of a
successful synthesis joins ``refs`` when it renders (:func:`arrivals`: staggered within the
synthesis, the last at its end), so a poll sees 0..4 refs; a regenerated pose replaces its old ref
only when done. Money goes the same way as for generations: the cost is held on the team when a
synthesis starts, charged when it ends (``reviewing``), released when it fails or is deleted in
flight.

Every character and ticket belongs to a team: the sandbox's own, or (planted by
``POST /_sandbox/characters/foreign``) another one, so the "404 for another team's" rule has
something to refuse.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aurous_nb.sandbox.outputs import Signer
from aurous_nb.sandbox.pricing import num
from aurous_nb.sandbox.timefmt import iso

POSES = ("portrait", "front", "side", "back", "other")
#: the four poses a synthesis renders, in the order refs list them (the cover is the first)
SYNTH_POSES = POSES[:4]
#: what ``status=`` may filter on (``cancelled`` and ``deleted`` rows are never listed)
LISTABLE = ("synthesizing", "reviewing", "ready", "failed")
ATTRIBUTES = (
    "gender",
    "age",
    "ethnicity",
    "hair_color",
    "hair_style",
    "eye_color",
    "body_type",
    "additional_details",
)
NAME_MAX = 120
MAX_UPLOADS = 6
#: generations' worth of credits a synthesis and a one-pose regeneration cost (§8)
SYNTH_GENERATIONS = 4
REGENERATE_GENERATIONS = 1
REF_TTL_S = 24 * 3600.0
FAILURE_CODE = "provider_error"
MODERATION_CODE = "moderation_rejected"

Hook = Callable[[str, "Character"], None]


def arrivals(
    *, seed: int, char_id: str, round: int, start: float, end: float, poses: int
) -> list[float]:
    """When each of ``poses`` poses finishes: increasing, uneven, the last at ``end``; fixed by the
    seed, the character and its round (never the clock's jitter)."""
    weights = []
    for n in range(poses):
        digest = hashlib.sha256(f"pose:{seed}:{char_id}:{round}:{n}".encode()).digest()
        weights.append(0.5 + int.from_bytes(digest[:8], "big") / 2**64)
    total, run, out = sum(weights), 0.0, []
    for w in weights[:-1]:
        run += w
        out.append(start + (end - start) * run / total)
    return [*out, end] if poses else []


@dataclass
class Upload:
    """One ``upl_`` ticket: its bytes arrive by an unauthenticated PUT to a signed URL."""

    id: str
    team_id: str
    filename: str
    extension: str
    content_type: str
    created_at: float
    url_expires_at: float
    expires_at: float
    data: bytes | None = None
    consumed: bool = False
    #: what ``uploads/classify`` said (unclassified refs are ``other``)
    pose: str | None = None

    def usable(self, now: float) -> bool:
        return not self.consumed and now < self.expires_at and self.data is not None


@dataclass
class Ref:
    """One reference image of a character."""

    pose: str
    data: bytes
    mime: str = "image/png"


@dataclass
class Character:
    """A character as the sandbox keeps it."""

    id: str
    team_id: str
    name: str
    attributes: dict[str, Any]
    status: str
    created_at: float
    updated_at: float
    aurous_version: str
    base_url: str
    client_reference_id: str | None = None
    refs: list[Ref] = field(default_factory=list)
    error_message: str | None = None
    deleted_at: float | None = None
    #: a synthesis in flight: when it ends, how, what it holds, which poses it renders
    done_at: float | None = None
    outcome: str | None = None
    outcome_message: str | None = None
    held: float = 0.0
    gated: bool = True
    pending: tuple[str, ...] = ()
    #: when each pending pose renders (same order as ``pending``)
    due: tuple[float, ...] = ()
    #: bumped by each synthesis or regeneration, so a re-run renders new pictures
    round: int = 0
    charged: float = 0.0
    idempotency_keys: list[str] = field(default_factory=list)

    @property
    def visible(self) -> bool:
        return self.deleted_at is None

    def to_json(self, signer: Signer, base_url: str | None = None) -> dict[str, Any]:
        base = base_url or self.base_url
        expiry = time.time() + REF_TTL_S
        refs = [
            {
                "pose": ref.pose,
                "url": f"{base}/_sandbox/character_refs/{self.id}/{n}.bin"
                f"?token={signer.mint('character_ref', self.id, str(n), expiry)}",
            }
            for n, ref in enumerate(self.refs)
        ]
        return {
            "id": self.id,
            "object": "character",
            "name": self.name,
            "status": self.status,
            "refs": refs,
            "attributes": dict(self.attributes),
            "error_message": self.error_message,
            "client_reference_id": self.client_reference_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "aurous_version": self.aurous_version,
        }

    def ledger_json(self) -> dict[str, Any]:
        """What ``/_sandbox/ledger`` shows: enough to prove no synthesis was bought twice."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "rounds": self.round,
            "credits_held": num(self.held),
            "credits_charged": num(self.charged if self.gated else 0.0),
            "idempotency_keys": list(self.idempotency_keys),
            "deleted": self.deleted_at is not None,
        }


class CharacterStore:
    """The characters and upload tickets of every team; the money goes through ``team``."""

    def __init__(self, team: Any, seed: int, latency: float, failure_rate: float) -> None:
        self.team = team
        self.seed = seed
        self.latency = latency
        self.failure_rate = failure_rate
        self.moderation_word: str | None = None
        self.characters: dict[str, Character] = {}
        self.order: list[Character] = []
        self.uploads: dict[str, Upload] = {}
        self.active: dict[str, Character] = {}
        self.on_event: list[Hook] = []
        self.on_charge: list[Callable[[float], None]] = []
        self._draws = 0
        self._dropped_charges = 0.0

    # -- lookups ----------------------------------------------------------------------------

    def find(self, char_id: str, team_id: str) -> Character | None:
        """The team's visible character (None for unknown, another team's or deleted)."""
        self.settle()
        char = self.characters.get(char_id)
        if char is None or char.team_id != team_id or not char.visible:
            return None
        return char

    def add(self, char: Character) -> None:
        self.characters[char.id] = char
        self.order.append(char)

    def drop(self, char: Character) -> None:
        """A hard delete: the row is gone (what it was charged stays counted)."""
        if char.gated:
            self._dropped_charges += char.charged
        self.characters.pop(char.id, None)
        self.order = [c for c in self.order if c.id != char.id]
        self.active.pop(char.id, None)

    # -- synthesis --------------------------------------------------------------------------

    def _duration(self, char: Character) -> float:
        digest = hashlib.sha256(f"{self.seed}:{char.id}:{char.round}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        return max(0.0, self.latency) * (0.7 + 0.6 * u)

    def _outcome(self, char: Character) -> tuple[str, str | None]:
        word = self.moderation_word
        text = " ".join([char.name, *(str(v) for v in char.attributes.values())])
        if word and word.casefold() in text.casefold():
            return "failed", MODERATION_CODE
        self._draws += 1
        digest = hashlib.sha256(f"fail:{self.seed}:{self._draws}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 < self.failure_rate:
            return "failed", FAILURE_CODE
        return "reviewing", None

    def start(self, char: Character, poses: tuple[str, ...], cost: float, key: str | None) -> None:
        """Hold ``cost`` and start rendering ``poses`` (the caller checked the balance)."""
        now = time.time()
        char.round += 1
        char.status = "synthesizing"
        char.error_message = None
        char.pending = poses
        char.gated = self.team.gated
        char.held = cost
        if char.gated:
            self.team.held += cost
        char.done_at = now + self._duration(char)
        char.outcome, char.outcome_message = self._outcome(char)
        char.due = ()
        if char.outcome == "reviewing":  # a failure renders nothing
            char.due = tuple(
                arrivals(
                    seed=self.seed,
                    char_id=char.id,
                    round=char.round,
                    start=now,
                    end=char.done_at,
                    poses=len(poses),
                )
            )
        char.updated_at = now
        if key is not None:
            char.idempotency_keys.append(key)
        self.active[char.id] = char
        self.settle(now)

    def settle(self, now: float | None = None) -> None:
        """Finish every synthesis that is due (cheap when none runs)."""
        if not self.active:
            return
        now = time.time() if now is None else now
        for char in list(self.active.values()):
            self._arrive(char, now)
            if char.done_at is not None and now >= char.done_at:
                self._finish(char, char.done_at)

    def _arrive(self, char: Character, now: float) -> None:
        """List every pose rendered by ``now`` (replacing that pose's old ref)."""
        from aurous_nb.sandbox.poses import render_pose

        while char.due and now >= char.due[0]:
            pose, at = char.pending[0], char.due[0]
            data = render_pose(char.name, char.attributes, pose, round=char.round)
            self._put_ref(char, Ref(pose, data))
            char.pending, char.due = char.pending[1:], char.due[1:]
            char.updated_at = max(char.updated_at, at)

    def _finish(self, char: Character, at: float) -> None:
        del self.active[char.id]
        self._release(char)
        if char.outcome == "reviewing":
            if char.gated:
                self.team.credits -= char.held
                for hook in self.on_charge:
                    hook(at)
            char.charged += char.held
            self._arrive(char, at)  # the last pose is due now
            char.status = "reviewing"
        else:
            char.status = "failed"
            char.error_message = char.outcome_message
        char.held = 0.0
        char.pending = ()
        char.due = ()
        char.done_at = None
        char.updated_at = at
        if char.status == "failed":
            self.emit("character.failed", char)

    def _release(self, char: Character) -> None:
        if char.gated:
            self.team.held -= char.held
            if abs(self.team.held) < 1e-9:
                self.team.held = 0.0

    @staticmethod
    def _put_ref(char: Character, ref: Ref) -> None:
        for i, old in enumerate(char.refs):
            if old.pose == ref.pose:
                char.refs[i] = ref
                return
        char.refs.append(ref)

    def cancel(self, char: Character) -> None:
        """A synthesis deleted in flight: its hold is released, nothing is charged."""
        self.active.pop(char.id, None)
        self._release(char)
        char.held = 0.0
        char.pending = ()
        char.due = ()
        char.done_at = None
        char.status = "cancelled"
        self.emit("character.cancelled", char)

    def emit(self, event_type: str, char: Character) -> None:
        for hook in self.on_event:
            hook(event_type, char)

    # -- reads ------------------------------------------------------------------------------

    def upload(self, upload_id: str) -> Upload | None:
        return self.uploads.get(upload_id)

    def ledger_json(self) -> list[dict[str, Any]]:
        self.settle()
        return [c.ledger_json() for c in self.order]

    @property
    def charged(self) -> float:
        return self._dropped_charges + sum(c.charged for c in self.order if c.gated)
