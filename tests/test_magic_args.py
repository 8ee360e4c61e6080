"""Parsing ``%aurous`` lines and ``{{name}}`` interpolation, without a shell or a server."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from aurous_nb.notebook.magics.args import COMMANDS, HelpRequested, parse
from aurous_nb.notebook.magics.interpolate import interpolate


@pytest.mark.parametrize(
    ("line", "prompt"),
    [
        ("a red fox --seed 3", "a red fox"),
        ("--seed 3 a red fox", "a red fox"),
        ('"a red fox" --seed 3', "a red fox"),
        ("'single quoted' --seed 3", "single quoted"),
        ("a cat's hat --seed 3", "a cat's hat"),
        ('a "quoted" word {json: [1]} 🐱 --seed 3', 'a "quoted" word {json: [1]} 🐱'),
        ("print('hi') # not a comment --seed 3", "print('hi') # not a comment"),
        ('"a fox -- in snow" --seed 3', "a fox -- in snow"),
        ("back\\slash C:\\path --seed 3", "back\\slash C:\\path"),
        ('"say \\"hi\\"" --seed 3', 'say "hi"'),
        ("minus -5 degrees --seed 3", "minus -5 degrees"),
    ],
)
def test_prompt_is_taken_as_written(line, prompt):
    args = parse("generate", line)
    assert args.positional == prompt
    assert args.seed == 3


def test_option_values_forms():
    args = parse("generate", 'x --negative "blurry, dark" --count=2 --guidance 7.5 --enhance')
    assert (args.negative, args.count, args.guidance, args.enhance) == (
        "blurry, dark",
        2,
        7.5,
        True,
    )
    assert parse("generate", "x --negative -dark").negative == "-dark"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x --sed 3", "did you mean --seed"),
        ("x --seed", "--seed needs a value"),
        ("x --enhance=yes", "--enhance takes no value"),
        ("x --count two", "invalid int value"),
        ("a --negative blurry dark", "split by options"),
        ("x --budget -1", "--budget"),
        ("x --api-key abc", "AUROUS_API_KEY"),
        ("x al_live_abcdef0123456789", "looks like an API key"),
    ],
)
def test_usage_errors_are_one_line(line, message):
    with pytest.raises(UsageError) as info:
        parse("generate", line)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_help_for_every_command_never_exits():
    for name in COMMANDS:
        with pytest.raises(HelpRequested) as info:
            parse(name, "--help")
        assert f"%aurous {name}" in str(info.value)


def test_cell_body_and_word_lists():
    args = parse("generate", "--seed 1", body="  a poem\nwith {braces}\n")
    assert args.positional == "a poem\nwith {braces}"
    with pytest.raises(UsageError):
        parse("generate", "a prompt", body="another prompt")
    grid = parse("grid", '"a cat" "a dog" --loras a,b')
    assert grid.positional == ["a cat", "a dog"]
    assert parse("grid", "", body="one\n\ntwo\n").positional == ["one", "two"]


def test_interpolation_is_explicit_and_escapable():
    ns = {"style": "ink", "d": {"k": 1}, "items": [1, 2], "obj": type("O", (), {"a": "A"})()}
    assert (
        interpolate("a {{style}} {x} {{ d['k'] }} {{items[-1]}} {{obj.a}}", ns) == "a ink {x} 1 2 A"
    )
    assert interpolate(r"keep \{{style}} literal", ns) == "keep {{style}} literal"
    assert interpolate("no braces at all", ns) == "no braces at all"
    with pytest.raises(UsageError, match="no variable named 'missing'"):
        interpolate("{{missing}}", ns)
    with pytest.raises(UsageError, match="KeyError"):
        interpolate("{{d['nope']}}", ns)


def test_interpolation_applies_to_option_values():
    ns = {"n": 3, "neg": "fog"}
    args = parse(
        "generate",
        "x {{n}} --seed {{n}} --negative {{neg}}",
        transform=lambda t: interpolate(t, ns),
    )
    assert (args.positional, args.seed, args.negative) == ("x 3", 3, "fog")
