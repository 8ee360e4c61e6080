"""Characters through the ledger: the paid calls priced first and written before they are sent.

``synthesize`` / ``resynthesize`` / ``regenerate`` price the request from the rate card (a
synthesis is 4 generations' worth, a regeneration 1), refuse it past a budget or the available
balance, write the ledger row, then send it under the row's key: a lost answer, an interrupt or
a crash leaves the row ``submitting``, and running the same request again re-sends it with that
key (the API replays it) instead of buying another. An unchanged request that already bought a
character shows that one again, for 0 credits. ``create`` (from your images) is free and
recorded after the fact. What reads a character (``wait``, ``get``) settles its rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aurous_nb.client.characters import POSES, character_body, check_attributes
from aurous_nb.store import characters as character_ledger
from aurous_nb.text import credits, number
from aurous_nb.work import caps
from aurous_nb.work.reuse import settled

__all__ = [
    "REGENERATE_GENERATIONS",
    "SYNTH_GENERATIONS",
    "Outcome",
    "Price",
    "create",
    "delete",
    "find",
    "grid_axis",
    "price",
    "ready",
    "regenerate",
    "resynthesize",
    "save",
    "synthesize",
    "wait",
]

#: Told the price once it is checked, before the request is sent (the magics print it).
Announce = Callable[["Price"], None]

#: Generations' worth of credits (contract §8): a synthesis or resynthesis, one pose again.
SYNTH_GENERATIONS = 4
REGENERATE_GENERATIONS = 1


@dataclass(frozen=True)
class Price:
    """What a character call will cost, from the rate card of the applied version."""

    amount: float
    generations: int
    per_generation: float
    version: str | None

    def __str__(self) -> str:
        card = f", rate card {self.version}" if self.version else ""
        return (
            f"{credits(self.amount)} ({self.generations} generation"
            f"{'s' if self.generations != 1 else ''} at {credits(self.per_generation)}{card})"
        )


@dataclass(frozen=True)
class Outcome:
    """A character call's result: the character, and how it came (``new``, ``reused`` for 0
    credits, or ``resent`` with the earlier unanswered request's own key)."""

    character: Any
    how: str
    price: Price | None = None


def price(session: Any, generations: int, *, budget: float | None = None) -> Price:
    """The price of ``generations`` under the rate card; refuses it past ``budget`` or the
    available balance (nothing is sent)."""
    card = session.client.pricing()
    quoted = Price(
        round(card.image.base * generations, 4), generations, card.image.base, card.version
    )
    if budget is not None and quoted.amount > budget:
        raise ValueError(
            f"this costs {credits(quoted.amount)}, over the budget of {number(budget)} by "
            f"{number(quoted.amount - budget)}; nothing was spent (raise --budget)"
        )
    balance = session.client.balance()
    gated = balance.billing_mode in (None, "metered")
    if gated and quoted.amount > balance.available_credits:
        raise ValueError(
            f"this costs {credits(quoted.amount)}, more than the "
            f"{number(balance.available_credits)} available; nothing was spent"
        )
    return quoted


def _send(session: Any, job: character_ledger.CharacterJob, call: Any) -> Any:
    """Send the prepared row's request with its key; record the answer or the refusal."""
    try:
        char = call(job.key)
    except BaseException as exc:
        if settled(exc):
            character_ledger.rejected(session.ledger, job.key, exc)
        raise  # anything else leaves the row submitting: the same request re-sends it
    character_ledger.answered(session.ledger, job.key, char)
    return char


def _paid(
    session: Any,
    action: str,
    request: Mapping[str, Any],
    character_id: str | None,
    generations: int,
    poses: int,
    call: Any,
    *,
    fresh: bool,
    budget: float | None,
    context: tuple[str | None, str | None],
    announce: Announce | None = None,
) -> Outcome:
    ledger, env = session.ledger, session.env
    if not fresh:
        prior = character_ledger.reusable(ledger, env, action, request, character_id)
        if prior is not None and not prior.answered:
            return Outcome(_send(session, prior, call), "resent")
        if prior is not None and prior.character_id is not None:
            char = _still_there(session, prior.character_id)
            if char is not None:
                return Outcome(char, "reused")
    quoted = price(session, generations, budget=budget)
    guard, notes = None, list[str]()
    if caps.limits().any(context[0]):  # checked where the row is written, like every spend
        guard, notes = caps.guard(env, context[0], quoted.amount)
    job = character_ledger.prepare(
        ledger,
        env,
        action,
        request,
        character_id=character_id,
        estimate=quoted.amount,
        poses=poses,
        notebook=context[0],
        cell=context[1],
        guard=guard,
    )
    if announce is not None:
        announce(quoted)  # said before anything is sent
    caps.say(*notes)
    return Outcome(_send(session, job, call), "new", quoted)


def synthesize(
    session: Any,
    name: str,
    attributes: Mapping[str, Any],
    *,
    fresh: bool = False,
    budget: float | None = None,
    context: tuple[str | None, str | None] = (None, None),
    announce: Announce | None = None,
) -> Outcome:
    """Ask for a synthesized character (4 generations), priced first, through the ledger."""
    body = character_body(name, attributes=attributes)  # refused here before a row is written
    client = session.client

    def call(key: str) -> Any:
        return client.characters.synthesize(
            name=name, attributes=body["attributes"], idempotency_key=key
        )

    return _paid(
        session,
        "synthesize",
        body,
        None,
        SYNTH_GENERATIONS,
        SYNTH_GENERATIONS,
        call,
        fresh=fresh,
        budget=budget,
        context=context,
        announce=announce,
    )


def resynthesize(
    session: Any,
    character: Any,
    *,
    budget: float | None = None,
    announce: Announce | None = None,
) -> Outcome:
    """Draw the four poses again (4 generations); never reused: asking again means again."""
    char_id = _id(character)
    client = session.client

    def call(key: str) -> Any:
        return client.characters.resynthesize(char_id, idempotency_key=key)

    return _paid(
        session,
        "resynthesize",
        {"id": char_id},
        char_id,
        SYNTH_GENERATIONS,
        SYNTH_GENERATIONS,
        call,
        fresh=True,
        budget=budget,
        context=(None, None),
        announce=announce,
    )


def regenerate(
    session: Any,
    character: Any,
    pose: str,
    *,
    budget: float | None = None,
    announce: Announce | None = None,
) -> Outcome:
    """Draw one pose again (1 generation)."""
    if pose not in POSES:
        raise ValueError(f"pose must be one of {', '.join(POSES)}, not {pose!r}")
    char_id = _id(character)
    client = session.client

    def call(key: str) -> Any:
        return client.characters.regenerate_ref(char_id, pose=pose, idempotency_key=key)

    return _paid(
        session,
        "regenerate",
        {"id": char_id, "pose": pose},
        char_id,
        REGENERATE_GENERATIONS,
        1,
        call,
        fresh=True,
        budget=budget,
        context=(None, None),
        announce=announce,
    )


def create(
    session: Any,
    name: str,
    images: Sequence[str | os.PathLike[str] | bytes],
    *,
    attributes: Mapping[str, Any] | None = None,
    context: tuple[str | None, str | None] = (None, None),
) -> Outcome:
    """A character from your images (free: nothing to price); recorded once it exists.

    The same name, pictures and attributes again (a re-run cell) give the character they made,
    while it exists, instead of another one of the same name in the team's list.
    """
    attrs = check_attributes(attributes)
    request = {"name": name, "images": _digests(images), "attributes": attrs or None}
    prior = character_ledger.reusable(session.ledger, session.env, "create", request, None)
    if prior is not None and prior.character_id is not None:
        found = _still_there(session, prior.character_id)
        if found is not None:
            return Outcome(found, "reused")
    char = session.client.characters.create(
        name=name, images=list(images), attributes=attrs or None
    )
    job = character_ledger.prepare(
        session.ledger,
        session.env,
        "create",
        request,
        estimate=0.0,
        poses=len(char.refs),
        notebook=context[0],
        cell=context[1],
    )
    character_ledger.answered(session.ledger, job.key, char)
    return Outcome(char, "new")


def _digests(images: Sequence[str | os.PathLike[str] | bytes]) -> list[str] | int:
    """Each picture's sha256 (what makes two creates the same); their count when one cannot be
    read here (the client then says why)."""
    import hashlib

    out = []
    for image in images:
        try:
            data = image if isinstance(image, bytes) else open(os.fspath(image), "rb").read()  # noqa: SIM115
        except (OSError, TypeError, ValueError):
            return len(images)
        out.append(hashlib.sha256(data).hexdigest())
    return out


def _still_there(session: Any, character_id: str) -> Any:
    """The character an earlier unchanged request made, or None when it is gone (deleted, or a
    restarted sandbox): then it is made, or bought, again."""
    from aurous_nb.client.errors import NotFoundError

    try:
        return get(session, character_id)
    except NotFoundError:
        return None


def get(session: Any, character: Any) -> Any:
    """The character as the API has it now (its ledger rows settled from it)."""
    char = session.client.characters.get(_id(character))
    character_ledger.observe(session.ledger, session.env, char)
    return char


def wait(session: Any, character: Any, *, save: bool = False, timeout: float = 300.0) -> Any:
    """Poll until the synthesis stops; record the outcome (the charge) in the ledger."""
    char = session.client.characters.wait(_id(character), save=save, timeout=timeout)
    character_ledger.observe(session.ledger, session.env, char)
    return char


def save(session: Any, character: Any) -> Any:
    """``reviewing -> ready`` (free), its ledger rows settled from the answer."""
    char = session.client.characters.save(_id(character))
    character_ledger.observe(session.ledger, session.env, char)
    return char


def delete(session: Any, character: Any) -> bool:
    char_id = _id(character)
    gone = bool(session.client.characters.delete(char_id))
    character_ledger.deleted(session.ledger, session.env, char_id)
    return gone


def find(session: Any, name_or_id: str) -> Any:
    """A character by id (``char_...``), else the newest one with that name (the API's list)."""
    if name_or_id.startswith("char_"):
        return get(session, name_or_id)
    return _by_name(session.client, name_or_id)


def _by_name(client: Any, name: str) -> Any:
    for char in client.characters.list():
        if char.name == name:
            return char
    raise _no_such_name(name)


def _no_such_name(name: str) -> Exception:
    from aurous_nb.client.errors import NotFoundError

    return NotFoundError(
        f"no character named {name!r} (see %aurous character list)",
        code="resource_not_found",
        param="character",
    )


def ready(client: Any, items: Any, *, param: str = "characters") -> list[Any]:
    """Each of ``items`` (names, ``char_`` ids or Character objects) as the API has it now,
    in order and without repeats; raises naming the first that is unknown, deleted or not
    ``ready``, so a grid over them is refused before anything is priced.

    A Character object is looked up again: it may have been deleted or changed since."""
    from aurous_nb.client.errors import NotFoundError

    if items is None or isinstance(items, str) or not isinstance(items, Sequence):
        items = [items]
    out: dict[str, Any] = {}
    listed: dict[str, Any] | None = None  # the newest character of each name, listed once
    for item in items:
        if isinstance(item, str):
            ref = item.strip()
        elif isinstance(getattr(item, "id", None), str):
            ref = item.id
        else:
            raise ValueError(
                f"{param}: a {type(item).__name__} is not a character; pass a name, a char_ id "
                "or a Character"
            )
        if not ref:
            raise ValueError(f"{param}: an empty character name")
        shown = repr(ref)
        try:
            if ref.startswith("char_"):
                char = client.characters.get(ref)
            else:
                if listed is None:
                    listed = {}
                    for found in client.characters.list():  # newest first
                        listed.setdefault(found.name, found)
                char = listed.get(ref)
                if char is None:
                    raise _no_such_name(ref)
        except NotFoundError as exc:
            why = "unknown or deleted" if ref.startswith("char_") else "no such name"
            raise NotFoundError(
                f"{param}: character {shown} not found ({why}; see %aurous character list); "
                "nothing was priced or bought",
                status=exc.status,
                code="resource_not_found",
                param=param,
                request_id=exc.request_id,
            ) from None
        if not char.is_ready:
            label = f"{char.name!r} ({char.id})" if char.name != ref else f"{ref!r} ({char.id})"
            hint = {
                "synthesizing": "its poses are still being drawn: wait for it, then save it",
                "reviewing": "its poses wait for review: save it (%aurous character save) first",
                "failed": "its synthesis failed: resynthesize it or make another",
                "deleted": "it was deleted",
            }.get(char.status, "only a ready character can be used")
            raise ValueError(
                f"{param}: character {label} is {char.status}, not ready ({hint}); "
                "nothing was priced or bought"
            )
        out.setdefault(char.id, char)
    return list(out.values())


def grid_axis(
    client: Any, axes: Mapping[str, Any] | None, characters: Any = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A grid's axes with its ``character`` axis (from ``characters=`` or ``axes``) as ids,
    and ``{id: name}`` for its labels. Names resolve here, before anything is priced."""
    out = dict(axes or {})
    if characters is not None:
        if "character" in out:
            raise ValueError("give characters once: as an argument or as the character axis")
        out["character"] = characters
    value = out.get("character")
    if value is None or (not isinstance(value, str) and isinstance(value, Sequence) and not value):
        out.pop("character", None)  # no characters: the grid it would be without the axis
        return out, {}
    chars = ready(client, out["character"])
    out["character"] = [c.id for c in chars]
    return out, {c.id: c.name for c in chars}


def batch_axis(
    axes: Mapping[str, Any] | None, characters: Any, options: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`grid_axis` for ``Batch.grid``: looked up with the batch's blocking client, the
    blocking twin of its AsyncClient, or one opened from its ``api_key`` / ``base_url``."""
    from aurous_nb.client import AsyncClient, Client

    client = options.get("client")
    if isinstance(client, Client):
        return grid_axis(client, axes, characters)
    if isinstance(client, AsyncClient):
        with client.to_sync() as twin:
            return grid_axis(twin, axes, characters)
    with Client(api_key=options.get("api_key"), base_url=options.get("base_url")) as own:
        return grid_axis(own, axes, characters)


def _id(character: Any) -> str:
    return character if isinstance(character, str) else str(character.id)
