"""Parsing ``%aurous`` command lines: forgiving about prompts, strict about options.

A prompt is free text, so it is taken *as written*: the words that are not options (and not an
option's value) form the prompt, straight from the source line, with no shell-style unescaping.
``%aurous generate a cat's "best" hat {x: 1} --seed 3`` gives the prompt
``a cat's "best" hat {x: 1}``. A prompt wrapped whole in one pair of quotes loses those quotes.
Option values may be quoted (``--negative "blurry, dark"``). Unbalanced quotes (an apostrophe)
make quotes plain characters instead of an error.

Options are declared with IPython's ``MagicArgumentParser`` (an argparse parser whose errors are
``UsageError``, never ``SystemExit``), which also formats ``--help``.
"""

from __future__ import annotations

import argparse
import builtins
import difflib
import itertools
import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from aurous_nb.secret import looks_like_key

__all__ = ["COMMANDS", "Command", "HelpRequested", "Token", "parse", "tokenize"]

_KEY_OPTIONS = {"--api-key", "--api_key", "--apikey", "--key", "--token"}


class HelpRequested(Exception):
    """``-h``/``--help`` was given: the command's help text is the message."""


@dataclass(frozen=True)
class Token:
    raw: str
    start: int
    end: int

    @property
    def value(self) -> str:
        """The token with one pair of surrounding quotes removed (and ``\\"`` unescaped)."""
        return unquote(self.raw)


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        q = text[0]
        if q not in inner.replace("\\" + q, ""):
            return inner.replace("\\" + q, q)
    return text


def _balanced(line: str) -> bool:
    quote = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote is None and c in "'\"" and (i == 0 or line[i - 1].isspace()):
            quote = c
        elif quote is not None and c == "\\" and i + 1 < len(line):
            i += 1
        elif quote is not None and c == quote:
            quote = None
        i += 1
    return quote is None


def tokenize(line: str) -> list[Token]:
    """Whitespace-separated tokens with their spans; a quote that opens a token groups words
    until it closes. If quotes do not balance, every quote is a plain character."""
    quotes = _balanced(line)
    tokens: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        start = i
        quote = None
        while i < n:
            c = line[i]
            if quote is not None:
                if c == "\\" and i + 1 < n:
                    i += 2
                    continue
                if c == quote:
                    quote = None
            elif c.isspace():
                break
            elif quotes and c in "'\"" and (i == start or line[i - 1] in "="):
                quote = c
            i += 1
        tokens.append(Token(line[start:i], start, i))
    return tokens


# --------------------------------------------------------------------------------- commands


@dataclass
class Command:
    """One ``%aurous`` command: its summary, positional style and option parser.

    ``positional``: ``"text"`` (free text as written, e.g. a prompt), ``"words"`` (a list of
    unquoted words, e.g. grid prompts), ``"id"`` (exactly one word), or ``None``.
    """

    name: str
    summary: str
    positional: str | None = None
    metavar: str = ""
    required: bool = False
    options: list[tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=list)
    epilog: str = ""
    instead: str = ""  # an option that may stand in for a required positional (--like)

    def parser(self) -> MagicArgumentParser:
        pos = f" {self.metavar}" if self.metavar and self.required else ""
        pos = f" [{self.metavar}]" if self.metavar and not self.required else pos
        parser = MagicArgumentParser(  # type: ignore[no-untyped-call]
            prog=f"%aurous {self.name}",
            usage=f"%%aurous {self.name}{pos}" + (" [options]" if self.options else ""),
            description=self.summary,
            epilog=self.epilog or None,
            formatter_class=argparse.HelpFormatter,
        )
        if self.positional:
            parser.add_argument(
                "positional", nargs="*", metavar=self.metavar or "ARG", help=argparse.SUPPRESS
            )
        for flags, kwargs in self.options:
            parser.add_argument(*flags, **kwargs)
        parser.add_argument("-h", "--help", action="store_true", help="show this help")
        return parser


def _opt(*flags: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, kwargs


def _number(kind: str) -> Callable[[str], float]:
    """An option type: a finite number of ``kind`` (credits, seconds), 0 or more; NaN and
    the infinities are refused here, before anything is priced or bought (a NaN budget caps
    nothing, a NaN timeout never ends)."""

    def convert(text: str) -> float:
        from aurous_nb.client._params import number_problem  # loaded on first use

        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {kind}") from None
        problem = number_problem(value, 0)
        if problem:
            raise argparse.ArgumentTypeError(f"{kind} {problem}")
        return value

    convert.__name__ = kind  # argparse names the type in its error message
    return convert


_credits = _number("credits")
_seconds = _number("seconds")

#: Names IPython itself puts in a notebook's namespace: overwriting one breaks the kernel.
_SHELL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "display"})


def variable_name(text: str) -> str:
    """An ``--out`` name that is safe to assign in the notebook: a plain identifier that is no
    keyword, does not start with ``_`` (IPython's ``_``, ``_i``, ``__builtins__``) and hides no
    builtin nor a name of the shell."""
    if not text.isidentifier() or not text.isascii():
        reason = "is not a Python name"
    elif keyword.iskeyword(text):
        reason = "is a Python keyword"
    elif text.startswith("_"):
        reason = "starts with _ (names IPython and Python keep for themselves)"
    elif text in _SHELL_NAMES:
        reason = f"would hide IPython's {text}"
    elif hasattr(builtins, text):
        reason = f"would hide the Python builtin {text}"
    else:
        return text
    raise argparse.ArgumentTypeError(f"{text!r} {reason}; pick a plain name like gen or fox")


_IMAGE_OPTIONS = [
    _opt("--lora", metavar="X", help="a LoRA style id or slug (see %%aurous loras)"),
    _opt("--loras", metavar="X:W,Y:W", help="up to 4 styles with weights, e.g. a:0.8,b:0.5"),
    _opt("--size", metavar="S", help="a size preset, e.g. 2k_1_1, 2k_16_9, hd_square"),
    _opt("--width", type=int, metavar="W", help="width in pixels (with --height)"),
    _opt("--height", type=int, metavar="H", help="height in pixels (with --width)"),
    _opt("--count", type=int, metavar="N", help="images to make (1-4)"),
    _opt("--seed", type=int, metavar="N", help="seed, for repeatable results"),
    _opt("--negative", metavar="TEXT", help="what to keep out of the image"),
    _opt("--enhance", action="store_true", help="let the platform enhance the prompt"),
    _opt("--steps", type=int, metavar="N", help="sampling steps"),
    _opt("--guidance", type=float, metavar="F", help="guidance scale"),
    _opt("--character", metavar="NAME_OR_ID", help="a ready character (see %%aurous character)"),
    _opt(
        "--ref",
        action="append",
        metavar="IMAGE",
        help="a reference image: a path, an img_ id, a file_ id or an https URL (repeatable; "
        "local images are uploaded once)",
    ),
    _opt("--preset", metavar="NAME", help="start from a preset (%%config Aurous.presets)"),
]
_RUN_OPTIONS = [
    _opt("--no-wait", action="store_true", help="submit and return at once (then %%aurous wait)"),
    _opt("--fresh", action="store_true", help="buy a new result even if an identical one exists"),
    _opt("--budget", type=_credits, metavar="CREDITS", help="refuse if the cost would exceed it"),
    _opt("--timeout", type=_seconds, metavar="S", help="seconds to wait (Aurous.wait_timeout)"),
    _opt(
        "--out",
        type=variable_name,
        metavar="VAR",
        help="also store the result in this notebook variable",
    ),
]
_VIDEO_OPTIONS = [
    _opt("--video-lora", metavar="X", help="the video model id or slug (see %%aurous video-loras)"),
    _opt("--duration", type=int, metavar="S", help="seconds of video"),
    _opt("--resolution", metavar="R", help="480p, 720p or 1080p"),
    _opt("--ratio", metavar="R", help="16:9, 4:3, 1:1, 3:4, 9:16 or 21:9"),
    _opt("--seed", type=int, metavar="N", help="seed"),
    _opt("--camera-fixed", action="store_true", help="keep the camera still"),
    _opt(
        "--from",
        dest="from_image",
        metavar="IMAGE",
        help="image to video: the first frame from an img_ id, a path, a file_ id or a URL",
    ),
    _opt("--first-frame", metavar="IMAGE", help="the first frame (as --from)"),
    _opt("--last-frame", metavar="IMAGE", help="the last frame (with a first frame)"),
    _opt("--enhance", action="store_true", help="let the platform enhance the prompt"),
    _opt("--estimate", action="store_true", help="show the cost only; spend nothing"),
]


def _age(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age in years") from None
    return int(value) if value.is_integer() else value


_age.__name__ = "age"

_CHARACTER_OPTIONS = [
    _opt("--from", dest="images", action="append", metavar="PATH", help="create: image files"),
    _opt("--gender", metavar="G", help="synth: e.g. female"),
    _opt("--age", type=_age, metavar="N", help="synth: years"),
    _opt("--ethnicity", metavar="E", help="synth: e.g. east-asian"),
    _opt("--hair-color", metavar="C", help="synth: e.g. black"),
    _opt("--hair-style", metavar="S", help="synth: e.g. shoulder-length straight"),
    _opt("--eye-color", metavar="C", help="synth: e.g. brown"),
    _opt("--body-type", metavar="B", help="synth: e.g. athletic"),
    _opt("--details", metavar="TEXT", help="synth: anything else (additional_details)"),
    _opt("--pose", metavar="P", help="regenerate: portrait, front, side, back or other"),
    _opt("--status", metavar="S", help="list: only synthesizing, reviewing, ready or failed"),
    _opt("--save", action="store_true", help="synth: save it once its poses are drawn"),
    *_RUN_OPTIONS,
]

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command(
            "connect",
            "Connect to the Aurous API (key from AUROUS_API_KEY, .env or a Colab secret), "
            "or start a local sandbox.",
            options=[
                _opt("--sandbox", action="store_true", help="start the in-process sandbox"),
                _opt("--base-url", metavar="URL", help="API base URL (default: production)"),
                _opt("--version", metavar="DATE", help="pin an Aurous-Version"),
                _opt("--ask", action="store_true", help="prompt for the key (hidden input)"),
                _opt("--latency", type=_seconds, metavar="S", help="sandbox: seconds per job"),
                _opt("--credits", type=_credits, metavar="N", help="sandbox: starting credits"),
            ],
            epilog="The key is never an argument: set AUROUS_API_KEY, or use --ask.",
        ),
        Command("disconnect", "Close the connection (and stop the sandbox it started)."),
        Command("balance", "Credits: total, held by running jobs, available."),
        Command("pricing", "The rate card for the pinned Aurous-Version."),
        Command("loras", "Image LoRA styles, optionally filtered by TEXT.", "text", "TEXT"),
        Command("video-loras", "Video models."),
        Command(
            "estimate",
            "Price an image generation; nothing is spent.",
            "text",
            "PROMPT",
            True,
            [*_IMAGE_OPTIONS],
        ),
        Command(
            "generate",
            "Generate images, wait with live progress and show them. Re-running an unchanged "
            "cell reuses the earlier result (0 credits). %%aurous generate takes the prompt "
            "from the cell body.",
            "text",
            "PROMPT",
            True,
            [
                *_IMAGE_OPTIONS,
                *_RUN_OPTIONS,
                _opt(
                    "--like",
                    metavar="PATH",
                    help="the request a cached or saved picture was made by (options given "
                    "here change it); reused if already owned, priced before buying",
                ),
            ],
            epilog="Use {{name}} to insert a notebook variable; \\{{ keeps literal braces.",
            instead="--like",
        ),
        Command(
            "video",
            "Generate a video and show it as a player.",
            "text",
            "PROMPT",
            False,
            [*_VIDEO_OPTIONS, *_RUN_OPTIONS],
        ),
        Command("get", "Fetch a generation by id and show it.", "id", "ID", True),
        Command(
            "wait",
            "Wait for a generation and show it (without ID: the newest unfinished job).",
            "id",
            "ID",
            False,
            [_opt("--timeout", type=_seconds, metavar="S", help="seconds to wait")],
        ),
        Command("cancel", "Cancel a pending or processing generation.", "id", "ID", True),
        Command(
            "jobs",
            "Unfinished jobs in the ledger, e.g. after a kernel restart.",
            options=[_opt("--resume", action="store_true", help="collect them now")],
        ),
        Command("budget", "The spending caps (session, daily, notebook) and what each has used."),
        Command(
            "reproduce",
            "Run a notebook's %aurous spends again: owned results are reused (0 credits), the "
            "rest bought within the caps. --quote only prices it.",
            "id",
            "NOTEBOOK",
            True,
            [
                _opt("--quote", action="store_true", help="price it only; spend nothing"),
                _opt("--from-ledger", metavar="FILE", help="with --quote: someone's export too"),
                _opt(
                    "--max-spend",
                    type=_credits,
                    metavar="CREDITS",
                    help="fail, sending nothing, if it would spend more (0 for CI)",
                ),
            ],
        ),
        Command(
            "history",
            "Past generations as a DataFrame (ledger + server).",
            options=[
                _opt("--since", metavar="AGE", default="7d", help="e.g. 1h, 7d, 2026-11-01"),
                _opt("--offline", action="store_true", help="ledger only; no server call"),
            ],
        ),
        Command(
            "report",
            "Cost report figures: spend over time, by LoRA and size, success rates.",
            options=[_opt("--since", metavar="AGE", default="30d", help="e.g. 30d")],
        ),
        Command(
            "grid",
            "Open the prompt grid widget: prompts x LoRAs x sizes x seeds x any --vary axis. "
            "%%aurous grid takes one prompt per line of the cell body.",
            "words",
            "PROMPT",
            False,
            [
                _opt("--loras", "--lora", metavar="X,Y", help="comma-separated LoRA ids or slugs"),
                _opt("--sizes", metavar="S,T", help="comma-separated size presets"),
                _opt("--seeds", metavar="N,M", help="comma-separated seeds"),
                _opt(
                    "--vary",
                    action="append",
                    metavar="FIELD=A,B",
                    help="one more axis on any request field, e.g. cfg_rescale=0.2,0.8 "
                    "(repeatable; separate values with | when they hold commas)",
                ),
                _opt(
                    "--character",
                    "--characters",
                    metavar="A,B",
                    help="a character axis: comma-separated names or char_ ids (ready ones)",
                ),
                _opt(
                    "--ref",
                    action="append",
                    metavar="IMAGE",
                    help="a reference image for every cell: a path, an img_ id, a file_ id or an "
                    "https URL (repeatable; uploaded once, when the grid runs)",
                ),
                _opt("--preset", metavar="NAME", help="start from a preset (Aurous.presets)"),
                _opt("--rows", metavar="AXES", help="the axes of the rows (default: prompt)"),
                _opt("--cols", metavar="AXES", help="the axes of the columns (rest: pages)"),
                _opt("--budget", type=_credits, metavar="CREDITS", help="spending cap"),
            ],
        ),
        Command(
            "character",
            "Characters for --character: create NAME --from A.png B.png (free) | synth NAME "
            "--gender ... --age ... (4 generations, priced first) | list | show NAME | save "
            "NAME | delete NAME | regenerate NAME --pose side (1 generation).",
            "words",
            "ACTION [NAME]",
            True,
            _CHARACTER_OPTIONS,
            epilog="A synth waits until its poses are drawn (reviewing); look, then save.",
        ),
        Command("panel", "Open the generation panel widget."),
        Command("config", "The effective settings (the key masked)."),
        Command("help", "List the commands.", "id", "COMMAND"),
    ]
}
ALIASES = {"video_loras": "video-loras", "videoloras": "video-loras", "gen": "generate"}


# --------------------------------------------------------------------------------- parse


def _fail(command: str, message: str) -> UsageError:
    return UsageError(f"%aurous {command}: {message} (see %aurous {command} --help)")


def _reject_secrets(command: str, tokens: list[Token]) -> None:
    for tok in tokens:
        flag = tok.raw.split("=", 1)[0].lower()
        if flag in _KEY_OPTIONS:
            raise UsageError(
                "the API key is never an argument (it would be saved in the notebook): set the "
                "AUROUS_API_KEY environment variable (or a .env file / Colab secret), or use "
                "%aurous connect --ask"
            )
        if looks_like_key(tok.raw):
            raise UsageError(
                f"%aurous {command}: that looks like an API key; keys never go in a cell "
                "(set AUROUS_API_KEY instead). Nothing was sent."
            )


def _split(
    cmd: Command, parser: MagicArgumentParser, line: str
) -> tuple[list[tuple[str, str | None]], list[Token]]:
    """``(flag, value)`` pairs (values unquoted; None for switches) and the positional tokens."""
    actions = parser._option_string_actions
    argv: list[tuple[str, str | None]] = []
    positional: list[Token] = []
    tokens = tokenize(line)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        raw = tok.raw
        if raw.startswith("-") and len(raw) > 1 and not _is_number(raw):
            flag, eq, inline = raw.partition("=")
            action = actions.get(flag)
            if action is None:
                guess = difflib.get_close_matches(flag, list(actions), n=1)
                hint = f"; did you mean {guess[0]}?" if guess else ""
                raise _fail(cmd.name, f"unknown option {flag}{hint}")
            takes = action.nargs != 0
            if eq:
                if not takes:
                    raise _fail(cmd.name, f"{flag} takes no value")
                argv.append((flag, unquote(inline)))
            elif takes:
                if i + 1 >= len(tokens):
                    raise _fail(cmd.name, f"{flag} needs a value")
                i += 1
                argv.append((flag, tokens[i].value))
            else:
                argv.append((flag, None))
            i += 1
            continue
        positional.append(tok)
        i += 1
    return argv, positional


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _positional_value(cmd: Command, line: str, tokens: list[Token]) -> Any:
    if cmd.positional is None:
        if tokens:
            raise _fail(cmd.name, f"unexpected argument {tokens[0].raw!r}")
        return None
    if not tokens:
        if cmd.required:
            raise _fail(cmd.name, f"{cmd.metavar} is required")
        return [] if cmd.positional == "words" else None
    if cmd.positional == "words":
        return [t.value for t in tokens]
    if cmd.positional == "id":
        if len(tokens) > 1:
            raise _fail(cmd.name, f"one {cmd.metavar} expected, got {len(tokens)}")
        return tokens[0].value
    # free text: the source span, as written, when the words are contiguous
    between = [line[a.end : b.start] for a, b in itertools.pairwise(tokens)]
    if any(gap.strip() for gap in between) or _interrupted(line, tokens):
        raise _fail(
            cmd.name,
            f"the {cmd.metavar.lower()} is split by options; put it first, or quote it, and "
            "quote option values that have spaces",
        )
    if len(tokens) == 1:
        return tokens[0].value
    return line[tokens[0].start : tokens[-1].end]


def _interrupted(line: str, tokens: list[Token]) -> bool:
    span = line[tokens[0].start : tokens[-1].end]
    inner = tokenize(span)
    return len(inner) != len(tokens)


def parse(
    name: str, line: str, *, body: str | None = None, transform: Callable[[str], str] = str
) -> argparse.Namespace:
    """Parse ``line`` for command ``name``; ``body`` (a cell magic's body) supplies the text.

    ``transform`` is applied to the prompt and every option value ({{name}} interpolation).
    Raises ``UsageError`` (one line) or :class:`HelpRequested`.
    """
    cmd = COMMANDS[name]
    parser = cmd.parser()
    tokens = tokenize(line)
    _reject_secrets(name, tokens)
    argv, positional = _split(cmd, parser, line)
    if any(flag in ("-h", "--help") for flag, _ in argv):
        raise HelpRequested(parser.format_help().rstrip())
    if body is not None and body.strip():
        if positional:
            raise _fail(name, f"give the {cmd.metavar.lower()} in the line or the body, not both")
        if cmd.positional == "words":
            value: Any = [ln.strip() for ln in body.splitlines() if ln.strip()]
        else:
            value = body.strip("\n").strip()
    elif not positional and cmd.instead and any(flag == cmd.instead for flag, _ in argv):
        value = None
    else:
        value = _positional_value(cmd, line, positional)
    try:
        ns = parser.parse_args(
            [flag if value is None else f"{flag}={transform(value)}" for flag, value in argv]
        )
    except UsageError as exc:
        raise _fail(name, str(exc).removeprefix("argument ")) from None
    if isinstance(value, list):
        value = [transform(v) for v in value]
    elif isinstance(value, str):
        value = transform(value)
    ns.positional = value
    del ns.help
    return ns
