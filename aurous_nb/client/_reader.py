"""The one reader of response models: a dataclass's fields say how its JSON is read.

Type-driven over ``dataclasses.fields()``, so a model lists its fields once. Lenient by design:
a value of the wrong JSON type reads as None (or the field's fallback), never as an error (the
answer's id is checked where it matters, ``models.check_generation_id``); everything else is shown
as sent. msgspec would be faster but is strict: it raises where this shows None.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from aurous_nb.timestamps import parse_datetime

__all__ = ["LOCAL", "Model", "obj", "read", "text", "wire"]


# How a field is read, by its annotation (``wire(...)`` says where, when the name or fallback
# differs):
#
#   str               text as sent (another value as its str, missing as ""); with a fallback,
#                     the fallback for anything but non-empty text
#   float / int       a JSON number (ints stay ints: 1000, not 1000.0; int also takes 3.0),
#                     else the fallback (0)
#   bool              truthiness of the value, the fallback (False) when the member is absent
#   X | None          the value when it has X's type (datetime: RFC 3339 text; a model: an
#                     object), else None
#   dict[str, float]  the numeric members; dict[str, Any] an object, else {}
#   tuple[X, ...]     the members of a list that are X (strings, or objects read as model X)
#   a model           an object read as that model (a missing one reads as {})

_WIRE = "aurous_wire"
_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class _Wire:
    path: tuple[str, ...] | None = None
    fallback: Any = None
    parse: Callable[[dict[str, Any]], Any] | None = None
    local: bool = False


def wire(
    *path: str, fallback: Any = None, parse: Callable[[dict[str, Any]], Any] | None = None
) -> dict[str, Any]:
    """Field metadata: read from ``path`` (members of nested objects), with ``fallback`` for a
    required field, or by ``parse`` (given the whole object) when no rule fits."""
    return {_WIRE: _Wire(path or None, fallback, parse)}


#: Metadata of a field that is not on the wire (set by the caller, or left at its default).
LOCAL = {_WIRE: _Wire(local=True)}

Reader = Callable[[dict[str, Any]], Any]


class Model:
    """What every response model shares: ``from_json``, the one reader over its fields."""

    __slots__ = ()

    @classmethod
    def from_json(cls: type[M], d: dict[str, Any]) -> M:
        return read(cls, d)


M = TypeVar("M", bound=Model)
D = TypeVar("D")


def read(cls: type[D], d: dict[str, Any], **given: Any) -> D:
    """An instance of the dataclass ``cls`` from the JSON object ``d`` (kept as ``raw``)."""
    plan = _PLANS.get(cls) or _PLANS.setdefault(cls, _plan(cls))
    values = {name: value(d.get(key, _ABSENT)) for name, key, value in plan.members}
    for name, take in plan.whole:
        values[name] = take(d)
    if plan.keeps_raw:
        values["raw"] = d
    if given:
        values.update(given)
    return cls(**values)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one model is read, worked out once from its fields."""

    members: tuple[tuple[str, str, Callable[[Any], Any]], ...]  # (field, member, value reader)
    whole: tuple[tuple[str, Reader], ...]  # fields read from the whole object
    keeps_raw: bool


_PLANS: dict[type[Any], _Plan] = {}


def _plan(cls: type[Any]) -> _Plan:
    hints = typing.get_type_hints(cls)
    members: list[tuple[str, str, Callable[[Any], Any]]] = []
    whole: list[tuple[str, Reader]] = []
    names = set()
    for f in dataclasses.fields(cls):
        names.add(f.name)
        spec: _Wire = f.metadata.get(_WIRE, _Wire())
        if spec.local or f.name == "raw":
            continue
        if spec.parse is not None:
            whole.append((f.name, spec.parse))
            continue
        *parents, key = spec.path or (f.name,)
        value = _value(hints[f.name], spec.fallback)
        if parents:
            whole.append((f.name, _nested(parents, key, value)))
        else:
            members.append((f.name, key, value))
    return _Plan(tuple(members), tuple(whole), "raw" in names)


def _nested(parents: list[str], key: str, value: Callable[[Any], Any]) -> Reader:
    def take(d: dict[str, Any]) -> Any:
        for name in parents:
            d = obj(d.get(name))
        return value(d.get(key, _ABSENT))

    return take


def _value(tp: Any, fallback: Any) -> Callable[[Any], Any]:
    """How a member's value (``_ABSENT`` when missing) is read for the annotation ``tp``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in args if a is not type(None))
        return _OPTIONAL.get(inner) or _optional_model(inner)
    if tp is str:
        return _required_text if fallback is None else lambda v: text(v) or fallback
    if tp is float or tp is int:
        parse, default = (_num, 0.0) if tp is float else (_int, 0)
        default = default if fallback is None else fallback
        return lambda v: parse(v) or default
    if tp is bool:
        default = bool(fallback)
        return lambda v: default if v is _ABSENT else bool(v)
    if origin is dict:
        return _floats if args[1] is float else obj
    if origin is tuple and args[1:] == (...,):
        item = args[0]
        if item is str:
            return _strs
        return lambda v: tuple(read(item, x) for x in _list(v) if isinstance(x, dict))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return lambda v: read(tp, obj(v))
    raise TypeError(f"no reading rule for {tp!r}")


def _optional_model(tp: Any) -> Callable[[Any], Any]:
    if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        raise TypeError(f"no reading rule for {tp!r} | None")
    return lambda v: read(tp, v) if isinstance(v, dict) else None


def text(v: Any) -> str | None:
    """``v`` when it is a string."""
    return v if isinstance(v, str) else None


def _required_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    return "" if v is None or v is _ABSENT else str(v)


def _num(v: Any) -> float | None:
    # ints stay ints (1000, not 1000.0): the model shows what the server sent
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    return int(v) if isinstance(v, float) and v.is_integer() else None


def _bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def obj(v: Any) -> dict[str, Any]:
    """``v`` when it is a JSON object, else ``{}``."""
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(x for x in v if isinstance(x, str)) if isinstance(v, list) else ()


def _floats(v: Any) -> dict[str, float]:
    if not isinstance(v, dict):
        return {}
    return {
        str(k): x for k, x in v.items() if isinstance(x, (int, float)) and not isinstance(x, bool)
    }


_OPTIONAL: dict[Any, Callable[[Any], Any]] = {
    str: text,
    float: _num,
    int: _int,
    bool: _bool,
    datetime: parse_datetime,
}
