"""``%aurous character ACTION ...``: create from images, synth (priced first), list, show,
save, delete, regenerate; and the ``--character NAME_OR_ID`` of ``%aurous generate``.

The spending goes through :mod:`aurous_nb.work.characters` (ledger row before the request,
reuse of an unchanged request); this module reads the parsed options and says what happened.
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from aurous_nb import statuses
from aurous_nb.client.characters import ATTRIBUTES
from aurous_nb.store import characters as character_ledger
from aurous_nb.work import caps
from aurous_nb.work import characters as character_jobs

__all__ = ["ACTIONS", "character_param", "run"]

ACTIONS = ("create", "synth", "list", "show", "save", "delete", "regenerate")
_ALIASES = {"synthesize": "synth", "ls": "list", "get": "show", "rm": "delete"}
#: option dest -> attribute name (``--details`` is ``additional_details``)
_ATTRIBUTE_OPTIONS = {a: a for a in ATTRIBUTES if a != "additional_details"} | {
    "details": "additional_details"
}


def _fail(message: str) -> UsageError:
    return UsageError(f"%aurous character: {message} (see %aurous character --help)")


def _attributes(args: argparse.Namespace) -> dict[str, Any]:
    out = {}
    for dest, name in _ATTRIBUTE_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is not None:
            out[name] = value
    return out


def _spent(session: Any, char_id: str) -> float:
    rows = character_ledger.jobs(session.ledger, session.env)
    return float(sum(r.charged or 0 for r in rows if r.character_id == char_id))


def _show(session: Any, char: Any) -> Any:
    from aurous_nb.notebook.character_card import card

    return card(session, char, _spent(session, char.id))


def run(magics: Any, args: argparse.Namespace) -> Any:
    """Dispatch one ``%aurous character`` line."""
    words = list(args.positional or [])
    if not words:
        raise _fail(f"say what to do: {', '.join(ACTIONS)}")
    action = _ALIASES.get(words[0].lower(), words[0].lower())
    if action not in ACTIONS:
        raise _fail(f"unknown action {words[0]!r}; one of {', '.join(ACTIONS)}")
    rest = words[1:]
    s = magics._session()
    if action == "list":
        if rest:
            raise _fail(f"list takes no name (got {rest[0]!r})")
        return _table(s, args.status)
    if not rest:
        raise _fail(f"{action} needs a NAME")
    name, extra = rest[0], rest[1:]
    if extra and not (action == "create" and args.images):
        raise _fail(f"one NAME expected, got {' '.join(rest)!r} (quote a name with spaces)")
    budget = args.budget if args.budget is not None else magics.budget
    result: Any
    if action == "create":
        result = _create(s, name, [*(args.images or []), *extra], args, magics)
    elif action == "synth":
        result = _synth(s, name, args, magics, budget)
    else:
        char = character_jobs.find(s, name)
        if action == "show":
            result = _show(s, char)
        elif action == "save":
            saved = character_jobs.save(s, char)
            print(f"{saved.name} is {saved.status}: use it with --character {saved.name}.")
            result = _show(s, saved)
        elif action == "delete":
            character_jobs.delete(s, char)
            print(f"Deleted {char.name} ({char.id}).")
            return None
        else:
            result = _regenerate(s, char, args, magics, budget)
    if args.out and magics.shell is not None:
        magics.shell.user_ns[args.out] = result.character
    return result


def _create(s: Any, name: str, images: list[str], args: argparse.Namespace, magics: Any) -> Any:
    if not images:
        raise _fail("create needs images: --from a.png b.png")
    from aurous_nb.notebook.context import cell_context

    out = character_jobs.create(
        s, name, images, attributes=_attributes(args) or None, context=cell_context(magics.shell)
    )
    char = out.character
    if out.how == "reused":
        print(
            f"Character {char.name} ({char.id}) is {char.status}: already made from these "
            "pictures (nothing sent)."
        )
    else:
        print(f"Character {char.name} ({char.id}) is {char.status}: {len(char.refs)} ref(s), free.")
    return _show(s, char)


def _announce(what: str) -> character_jobs.Announce:
    def say(price: character_jobs.Price) -> None:
        print(f"{what}: {price}.")

    return say


def _synth(s: Any, name: str, args: argparse.Namespace, magics: Any, budget: float | None) -> Any:
    from aurous_nb.notebook.context import cell_context

    attributes = _attributes(args)
    if not attributes:
        raise _fail("synth needs attributes, e.g. --gender female --age 30")
    try:
        out = character_jobs.synthesize(
            s,
            name,
            attributes,
            fresh=args.fresh or not magics.reuse,
            budget=budget,
            context=cell_context(magics.shell),
            announce=_announce(f"Synthesizing {name}"),
        )
    except caps.BudgetExceededError:
        raise  # shown as every spend's refusal is, with the %config line that raises the cap
    except ValueError as exc:
        raise _fail(str(exc)) from None
    char = out.character
    if out.how == "reused":
        print(
            f"Reused, 0 credits: {char.id} ({char.status}) matches this request in the "
            "ledger. Use --fresh to buy a new one."
        )
    elif out.how == "resent":
        print(
            f"Re-sent the earlier unanswered request with the same idempotency key: {char.id}. "
            "Bought once either way."
        )
    return _settle(s, char, args, magics)


def _regenerate(
    s: Any, char: Any, args: argparse.Namespace, magics: Any, budget: float | None
) -> Any:
    if not args.pose:
        raise _fail("regenerate needs --pose portrait|front|side|back|other")
    try:
        out = character_jobs.regenerate(
            s, char, args.pose, budget=budget, announce=_announce(f"Redrawing {char.name}")
        )
    except caps.BudgetExceededError:
        raise  # shown as every spend's refusal is, with the %config line that raises the cap
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return _settle(s, out.character, args, magics)


def _settle(s: Any, char: Any, args: argparse.Namespace, magics: Any) -> Any:
    if args.no_wait:
        print(f"{char.name} ({char.id}) is {char.status}; `%aurous character show {char.id}`.")
        return _show(s, char)
    timeout = args.timeout if args.timeout is not None else magics.wait_timeout
    char = character_jobs.wait(s, char, save=args.save, timeout=timeout)
    if char.status == statuses.REVIEWING:
        print(
            f"{char.name} is reviewing: look at the poses, then "
            f"`%aurous character save {char.id}` (or delete it)."
        )
    elif char.status == statuses.FAILED:
        print(f"{char.name} failed ({char.error_message}); nothing was charged.")
    return _show(s, char)


def _table(s: Any, status: str | None) -> Any:
    import pandas as pd

    spent: dict[str, float] = {}
    for row in character_ledger.jobs(s.ledger, s.env):
        if row.character_id:
            spent[row.character_id] = spent.get(row.character_id, 0.0) + float(row.charged or 0)
    rows = [
        {
            "id": c.id,
            "name": c.name,
            "status": c.status,
            "poses": ", ".join(r.pose for r in c.refs),
            "credits": spent.get(c.id, 0.0),
            "created_at": c.created_at,
        }
        for c in s.client.characters.list(status=status)
    ]
    columns = ["id", "name", "status", "poses", "credits", "created_at"]
    return pd.DataFrame(rows, columns=columns)


def character_param(session: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``{"character_id": ...}`` for ``--character NAME_OR_ID`` (resolved before anything is
    sent), or ``{}``."""
    ref = getattr(args, "character", None)
    if not ref:
        return {}
    return {"character_id": character_jobs.find(session, ref).id}
