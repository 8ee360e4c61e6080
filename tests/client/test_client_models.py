"""The models read real answers as pinned, and any mangled answer without raising.

``answers/answers.json`` pins real sandbox answers for every model (``answers/capture.py``
re-captures them); ``answers/parsed.json`` is what each parses into (fields, values, Python
types: ``0`` stays an int where it was one, ``0.0`` a float), as the hand-written readers the
generic one replaced gave it. Answers mutated from them (fields dropped, values swapped for any
JSON) must still parse, every field holding its declared type or ``None``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurous_nb.client import models

ANSWERS: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).parent / "answers" / "answers.json").read_text()
)
PARSED: dict[str, Any] = json.loads((Path(__file__).parent / "answers" / "parsed.json").read_text())
CASES = [(name, i) for name, answers in sorted(ANSWERS.items()) for i in range(len(answers))]


def shape(value: Any) -> Any:
    """A comparable picture of a parsed value: class names, field names, Python types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple((f.name, shape(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), str(value.tzinfo))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(shape(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((shape(k), shape(v)) for k, v in value.items()))
    return (type(value).__name__, value)


def parse(name: str, answer: dict[str, Any], **extra: Any) -> Any:
    """The parsed picture, as JSON would keep it (tuples become lists)."""
    parsed = getattr(models, name).from_json(answer, **extra)
    event_generation = parsed.generation if name == "Event" else None
    return as_json((shape(parsed), shape(event_generation), parsed.raw is answer))


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def well_typed(value: Any) -> list[str]:
    """Fields of a parsed model (nested too) whose value is not of the declared type."""
    wrong: list[str] = []
    hints = typing.get_type_hints(type(value))
    for f in dataclasses.fields(value):
        if f.name == "raw":
            continue
        got = getattr(value, f.name)
        if not fits(got, hints[f.name]):
            wrong.append(f"{type(value).__name__}.{f.name}={got!r}")
        for item in got if isinstance(got, tuple) else (got,):
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                wrong += well_typed(item)
    return wrong


def fits(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        return isinstance(value, tuple) and all(fits(v, args[0]) for v in value)
    if origin is not None:
        return isinstance(value, origin)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def test_every_model_is_pinned() -> None:
    parsed = {n for n in models.__all__ if hasattr(getattr(models, n), "from_json")}
    # Cost is read inside Generation and Estimate; Character came after the hand-written
    # readers (tests/test_characters.py reads its real answers)
    assert parsed - {"Cost", "Character"} == set(ANSWERS)


@pytest.mark.parametrize(("name", "index"), CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_pinned_answer_parses_as_pinned(name: str, index: int) -> None:
    answer = ANSWERS[name][index]
    assert parse(name, answer) == PARSED[f"{name}-{index}"]
    assert well_typed(getattr(models, name).from_json(answer)) == []


def test_generation_headers_as_pinned() -> None:
    answer = ANSWERS["Generation"][0]
    new = models.Generation.from_json(answer, request_id="req_1", replayed=True)
    assert as_json(shape(new)) == PARSED["Generation-headers"]
    assert (new.request_id, new.idempotent_replayed) == ("req_1", True)


def test_cost_as_pinned() -> None:
    for j, cost in enumerate(
        [None, 3, "x", [], {}, {"amount": 0, "breakdown": {"a": 1, "b": True}}]
    ):
        answer = {**ANSWERS["Generation"][0], "cost": cost}
        assert parse("Generation", answer) == PARSED[f"Generation-cost-{j}"]


#: Values where the rules part ways: ints and integral floats, bools, empty and date-like text.
EDGE = st.sampled_from(
    [
        *(None, True, False, 0, 1, 0.0, -0.0, 1.0, 2.5, 2**63, 1e300),
        *("", "0", "x", "2026-05-15T00:00:00Z", "2026-05-15", "2026-05-15T00:00:00+02:00"),
        *([], {}, ["a", 1]),
    ]
)
JUNK = st.recursive(
    EDGE | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with, at any depth, members dropped and values replaced by any JSON."""
    if draw(st.integers(0, 7)) == 0:
        return draw(JUNK)
    if isinstance(value, dict):
        return {k: draw(mutated(v)) for k, v in value.items() if draw(st.integers(0, 7))}
    if isinstance(value, list):
        return [draw(mutated(v)) for v in value]
    return value


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name, index = draw(st.sampled_from(CASES))
    answer = draw(mutated(ANSWERS[name][index]))
    return name, answer if isinstance(answer, dict) else {}


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_mutated_answer_parses_well_typed(case: tuple[str, dict[str, Any]]) -> None:
    name, answer = case
    parsed = getattr(models, name).from_json(answer)
    assert parsed.raw is answer and well_typed(parsed) == []


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(CASES), st.data())
def test_one_member_swapped_parses_well_typed(case: tuple[str, int], data: st.DataObject) -> None:
    name, index = case
    answer = dict(ANSWERS[name][index])
    answer[data.draw(st.sampled_from(sorted(answer)))] = data.draw(EDGE)
    assert well_typed(getattr(models, name).from_json(answer)) == []


TIMES = (
    st.sampled_from(["", " ", "x", "2026-05-15", "2026-05-15T00:00", " 2026-05-15T00:00:00z "])
    | st.datetimes().map(lambda t: t.isoformat())
    | st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat().replace("+00:00", "Z"))
    | st.text(alphabet="0123456789-:TZz+. ", max_size=30)
)


@given(TIMES)
def test_ledger_times_are_the_model_times(value: str) -> None:
    """The ledger's epoch seconds (``payloads.parse_time``) are the models' datetimes."""
    from aurous_nb.store.payloads import parse_time

    moment = models.parse_datetime(value.strip())
    assert parse_time(value) == (None if moment is None else moment.timestamp())
