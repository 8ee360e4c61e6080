"""The ``%aurous`` line and cell magic: ``%load_ext aurous_nb``, then ``%aurous help``.

Each command is a method ``_cmd_<name>``; parsing lives in :mod:`aurous_nb.notebook.magics.args`,
``{{name}}`` interpolation in :mod:`aurous_nb.notebook.magics.interpolate`, the connection in
:mod:`aurous_nb.notebook.session`, waiting in :mod:`aurous_nb.notebook.magics.progress`, error
blocks in
:mod:`aurous_nb.notebook.magics.errors`. Settings are traitlets on :class:`Aurous`
(``%config Aurous.default_size = "2k_1_1"``).

Loading imports nothing heavy: the client, pandas and the widgets load when a command needs them.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Dict, Float, TraitError, Unicode, default, observe, validate

from aurous_nb.notebook.context import cell_context
from aurous_nb.notebook.magics.args import ALIASES, COMMANDS, HelpRequested, parse
from aurous_nb.notebook.magics.errors import with_advice

if TYPE_CHECKING:
    from aurous_nb.notebook.session import Session

__all__ = ["Aurous", "load_ipython_extension", "unload_ipython_extension"]

_EXTENSION = "aurous_nb"
_CELL_COMMANDS = ("generate", "estimate", "video", "grid")
_CAP_TRAITS = ("session_budget", "daily_budget", "notebook_budget")


@magics_class
class Aurous(Magics):
    """``%aurous <command>``: generate and inspect Aurous images and videos from a notebook.

    Commands: connect, disconnect, balance, pricing, loras, video-loras, estimate, generate,
    video, get, wait, cancel, jobs, budget, reproduce, history, report, grid, panel, config, help.
    ``%aurous <command> --help`` describes one. ``{{name}}`` inserts a notebook variable.
    """

    default_size = Unicode(
        None,
        allow_none=True,
        help="Size preset when a command gives none (the panel's default too; None: the API's).",
    ).tag(config=True)
    default_lora = Unicode(
        None, allow_none=True, help="LoRA style id or slug when a command gives none."
    ).tag(config=True)
    default_video_lora = Unicode(
        None, allow_none=True, help="Video model when %aurous video gives none."
    ).tag(config=True)
    auto_download = Bool(
        True, help="Fetch outputs into the local cache as soon as a job succeeds."
    ).tag(config=True)
    wait_timeout = Float(600.0, help="Seconds a command waits for a job before giving up.").tag(
        config=True
    )
    budget = Float(
        None, allow_none=True, help="Refuse any single generation whose estimate exceeds this."
    ).tag(config=True)
    session_budget = Float(
        None, allow_none=True, help="Credits this kernel may spend in all (see %aurous budget)."
    ).tag(config=True)
    daily_budget = Float(
        None,
        allow_none=True,
        help="Credits this home may spend per calendar day, all kernels together.",
    ).tag(config=True)
    notebook_budget = Float(
        None, allow_none=True, help="Credits one notebook may spend in all (when it is known)."
    ).tag(config=True)
    show_progress = Bool(True, help="Show live progress while waiting.").tag(config=True)
    reuse = Bool(
        True, help="Re-running an unchanged generate cell reuses the earlier result (0 credits)."
    ).tag(config=True)
    reuse_scope = Unicode(
        "me",
        help="Whose earlier purchases a re-run reuses on a team's ledger: 'me', or 'team' "
        "(anyone's result of the same request).",
    ).tag(config=True)
    ledger_url = Unicode(
        None,
        allow_none=True,
        help="A team's ledger, postgresql://user@host/db (password from PGPASSWORD or "
        "~/.pgpass); None: $AUROUS_NB_LEDGER, else the local SQLite file.",
    ).tag(config=True)

    @validate("reuse_scope")
    def _scope(self, proposal: Any) -> Any:
        if proposal["value"] not in ("me", "team"):
            raise TraitError(
                f"Aurous.reuse_scope must be 'me' or 'team', not {proposal['value']!r}"
            )
        return proposal["value"]

    @validate("ledger_url")
    def _masked(self, proposal: Any) -> Any:
        """Kept as a :class:`~aurous_nb.secret.MaskedUrl`: ``%config Aurous`` prints values
        with ``%r``, which must not show the URL's password."""
        from aurous_nb.secret import MaskedUrl

        value = proposal["value"]
        return None if value is None else MaskedUrl(value)

    @observe("ledger_url")
    def _ledger_moved(self, change: Any) -> None:
        """Later cells read and write the ledger at the new place."""
        from aurous_nb.config import set_ledger_url
        from aurous_nb.notebook import session

        set_ledger_url(change["new"])
        if session.is_connected():
            session.current().reopen_ledger()

    presets = Dict(
        help='Named request fields, e.g. {"poster": {"size": "2k_2_3", "lora": "neon-noir"}}: '
        "--preset poster (and PromptGrid(preset=...)) starts from them; options typed win.",
    ).tag(config=True)

    @validate("presets")
    def _presets(self, proposal: Any) -> Any:
        from aurous_nb.notebook import presets

        try:
            presets.check(proposal["value"])
        except ValueError as exc:
            raise TraitError(f"Aurous.presets: {exc}") from None
        return proposal["value"]

    @validate("budget", "wait_timeout", *_CAP_TRAITS)
    def _finite(self, proposal: Any) -> Any:
        """A NaN budget would cap nothing and a NaN timeout never end: refuse them (and
        infinities, negatives, a zero timeout) when set, keeping the value before."""
        from aurous_nb.client._params import number_problem  # loaded on first use

        name, value = proposal["trait"].name, proposal["value"]
        if value is None:
            return value
        problem = number_problem(value, 0, above=name == "wait_timeout")
        if problem:
            raise TraitError(f"Aurous.{name} {problem}")
        return value

    @observe(*_CAP_TRAITS)
    def _cap_changed(self, change: Any) -> None:
        """The caps live in :mod:`aurous_nb.caps`, where the one create path reads them."""
        from aurous_nb.work import caps

        caps.configure(**{change["name"].removesuffix("_budget"): change["new"]})

    @default("default_size")
    def _default_size(self) -> str:
        from aurous_nb.client._params import DEFAULT_IMAGE_SIZE  # loaded on first use

        return DEFAULT_IMAGE_SIZE

    # -- dispatch ------------------------------------------------------------------------

    @no_var_expand  # IPython would otherwise evaluate {x} and $x inside prompts
    @line_cell_magic
    def aurous(self, line: str, cell: str | None = None) -> Any:
        """Run one ``%aurous`` command (see ``%aurous help``)."""
        name, _, rest = line.strip().partition(" ")
        name = ALIASES.get(name.lower(), name.lower()) or "help"
        if name in ("-h", "--help"):
            name = "help"
        if name not in COMMANDS:
            import difflib

            guess = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            raise UsageError(f"%aurous: unknown command {name!r}{hint} (see %aurous help)")
        if cell is not None and name not in _CELL_COMMANDS:
            raise UsageError(
                f"%%aurous {name} takes no cell body (only {', '.join(_CELL_COMMANDS)})"
            )
        try:
            args = parse(name, rest, body=cell, transform=self._interpolate)
        except HelpRequested as help_text:
            print(help_text)
            return None
        handler: Callable[[argparse.Namespace], Any] = getattr(
            self, "_cmd_" + name.replace("-", "_")
        )
        try:
            return handler(args)
        except Exception as exc:
            raise with_advice(exc) from None

    def _interpolate(self, text: str) -> str:
        from aurous_nb.notebook.magics.interpolate import interpolate
        from aurous_nb.notebook.references import as_text

        return interpolate(text, self.shell.user_ns if self.shell is not None else {}, as_text)

    def _session(self) -> Session:
        from aurous_nb.notebook import rendering, session

        current = session.current()
        rendering.register(current)  # results render as cards from the first one on
        return current

    # -- connection ----------------------------------------------------------------------

    def _cmd_connect(self, args: argparse.Namespace) -> None:
        from aurous_nb.notebook import session

        sandbox_opts = {
            k: v for k, v in (("latency", args.latency), ("credits", args.credits)) if v is not None
        }
        if sandbox_opts and not args.sandbox:
            raise UsageError("%aurous connect: --latency and --credits apply only with --sandbox")
        if args.sandbox:
            if args.base_url or args.ask:
                raise UsageError("%aurous connect: --sandbox takes no --base-url or --ask")
            s = session.connect(sandbox=True, version=args.version, **sandbox_opts)
        elif args.ask:
            import getpass

            key = getpass.getpass("Aurous API key (hidden; not saved): ").strip()
            if not key:
                raise UsageError("%aurous connect: no key entered; nothing changed")
            s = session.connect(api_key=key, base_url=args.base_url, version=args.version)
            s.key_source = "prompt"
        else:
            s = session.connect(base_url=args.base_url, version=args.version)
        _banner(s)

    def _cmd_disconnect(self, args: argparse.Namespace) -> None:
        from aurous_nb.notebook import session

        session.disconnect()
        print("Disconnected.")

    def _cmd_config(self, args: argparse.Namespace) -> None:
        from aurous_nb.config import aurous_home, ledger_url
        from aurous_nb.notebook import session
        from aurous_nb.secret import mask_url

        rows: list[tuple[str, Any]] = []
        for name in sorted(self.class_trait_names(config=True)):
            value = getattr(self, name)
            if name == "ledger_url" and value is not None:
                value = mask_url(value)
            rows.append((f"Aurous.{name}", value))
        rows.append(("AUROUS_NB_HOME", str(aurous_home())))
        url = ledger_url()
        rows.append(("ledger", mask_url(url) if url else str(aurous_home() / "ledger.sqlite3")))
        if session.is_connected():
            s = session.current()
            rows += [
                ("base_url", s.base_url),
                ("environment", "sandbox (synthetic)" if s.synthetic else s.env),
                ("Aurous-Version", s.version or "(team default)"),
                ("api key", f"{s.key_preview} (from the {s.key_source})"),
            ]
        else:
            rows.append(("connection", "not connected (%aurous connect)"))
        width = max(len(k) for k, _ in rows)
        print(
            "\n".join(
                f"{k.ljust(width)}  {v!r}" if k.startswith("Aurous.") else f"{k.ljust(width)}  {v}"
                for k, v in rows
            )
        )

    def _cmd_help(self, args: argparse.Namespace) -> None:
        if args.positional:
            name = ALIASES.get(args.positional, args.positional)
            if name not in COMMANDS:
                raise UsageError(f"%aurous help: unknown command {args.positional!r}")
            print(COMMANDS[name].parser().format_help().rstrip())
            return
        width = max(len(n) for n in COMMANDS)
        lines = ["%aurous <command> [options]   (%aurous <command> --help for details)", ""]
        for cmd in COMMANDS.values():
            first = re.split(r"\.\s+(?=[A-Z%])", cmd.summary)[0].rstrip(".")
            lines.append(f"  {cmd.name.ljust(width)}  {first}")
        lines += [
            "",
            "{{name}} inserts a notebook variable (\\{{ for literal braces).",
            "Settings: %config Aurous  (e.g. %config Aurous.default_size = '2k_1_1')",
        ]
        print("\n".join(lines))

    # -- catalog and account -------------------------------------------------------------

    def _cmd_balance(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook.magics import tables
        from aurous_nb.store import snapshots

        s = self._session()
        bal = snapshots.balance(s.client, lambda: s.ledger)
        return tables.balance(bal, synthetic=s.synthetic)

    def _cmd_pricing(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook.magics import tables
        from aurous_nb.store import snapshots

        s = self._session()
        card = snapshots.pricing(s.client, lambda: s.ledger)
        return tables.pricing(card)

    def _cmd_loras(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook.magics import tables

        s = self._session()
        return tables.loras(s.client.loras.list(), args.positional)

    def _cmd_video_loras(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook.magics import tables

        return tables.video_loras(self._session().client.video_loras.list())

    def _cmd_estimate(self, args: argparse.Namespace) -> None:
        from aurous_nb.notebook import styles
        from aurous_nb.notebook.magics import characters as character_magic
        from aurous_nb.notebook.magics import generation as generating

        s = self._session()
        params = generating.image_params(args, self)
        params.update(character_magic.character_param(s, args))  # a name resolved to its id
        styles.check_request(s, params)
        params.update(self._references(s, args))
        est = s.client.images.estimate(args.positional, **params)
        print(generating.describe_estimate(est))

    # -- generations ---------------------------------------------------------------------

    def _cmd_generate(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook.magics import characters as character_magic
        from aurous_nb.notebook.magics import generation as generating

        if args.like:
            return self._generate_like(args)
        request = {"prompt": args.positional, **generating.image_params(args, self)}
        request.update(character_magic.character_param(self._session(), args))
        if args.ref:
            from aurous_nb.notebook import styles
            from aurous_nb.work import jobs

            s = self._session()
            jobs.validate("image", request)  # the rest is checked before anything is uploaded
            styles.check_request(s, request)
            request.update(self._references(s, args))
        return self._run_job("image", request, args)

    def _cmd_character(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook.magics import characters as character_magic

        return character_magic.run(self, args)

    def _references(self, s: Session, args: argparse.Namespace) -> dict[str, Any]:
        """``--ref`` as ``reference_image_urls`` (local images uploaded once)."""
        from aurous_nb.notebook import references

        if not args.ref:
            return {}
        return {"reference_image_urls": references.resolve(s, args.ref)}

    def _generate_like(self, args: argparse.Namespace) -> Any:
        """``--like PATH``: the file's request, changed by the options typed; reused when the
        ledger already has it (from any cell), else priced, said, and bought."""
        from pathlib import Path

        from aurous_nb.notebook.magics import generation as generating
        from aurous_nb.store import provenance
        from aurous_nb.text import credits

        path = Path(args.like).expanduser()
        try:
            request = provenance.request_of(path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"%aurous generate --like: {exc}") from None
        typed = generating.image_params(
            args, argparse.Namespace(default_lora=None, default_size=None)
        )
        if args.positional:
            request["prompt"] = args.positional
        if {"lora_id", "loras"} & set(typed):
            request.pop("lora_id", None), request.pop("loras", None)
        if {"size", "width", "height"} & set(typed):
            for name in ("size", "width", "height"):
                request.pop(name, None)
        request.update(typed)
        s = self._session()
        if args.fresh or not self.reuse or s.ledger.reusable(s.env, "image", request) is None:
            fields = dict(request)
            estimate = s.client.images.estimate(fields.pop("prompt"), **fields)
            print(f"Like {path.name}: {credits(estimate.amount)} to make it again.")
        return self._run_job("image", request, args, context=(None, None))

    def _cmd_video(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook import styles
        from aurous_nb.notebook.magics import generation as generating

        lora = args.video_lora or self.default_video_lora
        if not lora:
            raise UsageError(
                "%aurous video: --video-lora is required (see %aurous video-loras, or set "
                "%config Aurous.default_video_lora)"
            )
        params = generating.video_params(args)
        if args.from_image is not None:
            if "first_frame_url" in params:
                raise UsageError("%aurous video: --from and --first-frame: pass one")
            params["first_frame_url"] = args.from_image
        styles.check(
            self._session(), lora, param="video_lora_id", hint="%aurous video-loras", video=True
        )
        self._frames(params, lora, args)
        if args.estimate:
            est = self._session().client.videos.estimate(lora, **params)
            print(generating.describe_estimate(est))
            return None
        return self._run_job("video", {"video_lora_id": lora, **params}, args)

    def _frames(self, params: dict[str, Any], lora: str, args: argparse.Namespace) -> None:
        """The frames as ``file_`` ids or URLs, checked with the rest before any upload."""
        from aurous_nb.notebook import references
        from aurous_nb.work import jobs

        names = [n for n in ("first_frame", "last_frame") if f"{n}_url" in params]
        if not names:
            return
        stand_ins = {f"{n}_url": "file_checked" for n in names}
        jobs.validate("video", {"video_lora_id": lora, **params, **stand_ins})
        s = self._session()
        for name in names:
            option = f"--{name.replace('_', '-')}"
            if name == "first_frame" and args.from_image is not None:
                option = "--from"
            [params[f"{name}_url"]] = references.resolve(s, [params[f"{name}_url"]], name, option)

    def _run_job(
        self,
        kind: str,
        request: dict[str, Any],
        args: argparse.Namespace,
        context: tuple[str | None, str | None] | None = None,
    ) -> Any:
        from aurous_nb.notebook import styles
        from aurous_nb.notebook.magics import generation as generating

        s = self._session()
        if kind == "image":
            styles.check_request(s, request)
        run = generating.Run(
            s,
            kind,
            request,
            fresh=args.fresh or not self.reuse,
            budget=args.budget if args.budget is not None else self.budget,
            wait=not args.no_wait,
            timeout=args.timeout if args.timeout is not None else self.wait_timeout,
            progress=self.show_progress,
            download=self.auto_download,
            context=cell_context(self.shell) if context is None else context,
            reuse_scope=self.reuse_scope,
        )
        result = run.execute()
        return self._deliver(result, args.out)

    def _deliver(self, result: Any, out: str | None) -> Any:
        if out and self.shell is not None:  # a name magic_args.variable_name accepted
            self.shell.user_ns[out] = result
        return result

    def _cmd_get(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook.magics import generation as generating

        s = self._session()
        gen = s.client.images.get(args.positional)
        return generating.show(s, generating.observe(s, gen, self.auto_download))

    def _cmd_wait(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook.magics import generation as generating

        s = self._session()
        gen_id = args.positional or generating.latest_pending(s)
        timeout = args.timeout if args.timeout is not None else self.wait_timeout
        gen = generating.wait_and_record(
            s, s.client.images.get(gen_id), timeout, self.show_progress, self.auto_download
        )
        return generating.show(s, gen)

    def _cmd_cancel(self, args: argparse.Namespace) -> None:
        from aurous_nb.notebook.magics import generation as generating

        s = self._session()
        gen = s.client.images.cancel(args.positional)
        generating.observe(s, gen, False)
        print(f"{gen.id}: {gen.status}; its held credits are released.")

    def _cmd_jobs(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook.magics import generation as generating

        return generating.jobs_table(
            self._session(), resume=args.resume, download=self.auto_download
        )

    def _cmd_budget(self, args: argparse.Namespace) -> Any:
        from aurous_nb.work import caps

        s = self._session()
        notebook, _ = cell_context(self.shell)
        return caps.report(s.ledger, s.env, notebook)

    def _cmd_reproduce(self, args: argparse.Namespace) -> Any:
        from aurous_nb.notebook import reproduce

        s = self._session()
        if args.from_ledger and not args.quote:
            raise UsageError(
                "%aurous reproduce: --from-ledger goes with --quote (a run reuses only what "
                "this home's ledger and outputs cache hold)"
            )
        if args.quote:
            q = reproduce.quote(
                args.positional, client=s.client, ledger=s.ledger, from_ledger=args.from_ledger
            )
            if args.max_spend is not None and q.to_buy > args.max_spend + 1e-9:
                print(q)
                raise UsageError(
                    f"%aurous reproduce: it would buy {q.to_buy:g} credits, more than "
                    f"--max-spend {args.max_spend:g}"
                )
            return q
        q = reproduce.run(
            args.positional,
            s,
            max_spend=args.max_spend,
            timeout=self.wait_timeout,
            progress=self.show_progress,
            download=self.auto_download,
        )
        skipped = f"; not run (unknown): cells {', '.join(str(u.cell) for u in q.unknown)}"
        print(
            f"Reproduced {q.notebook}: {len(q.items) - q.buys} reused ({q.owned:g} credits "
            f"owned), {q.buys} bought (quoted {q.to_buy:g} credits)"
            + (skipped if q.unknown else "")
        )
        return None

    # -- history, reports, widgets --------------------------------------------------------

    def _cmd_history(self, args: argparse.Namespace) -> Any:
        from aurous_nb.analysis import frames
        from aurous_nb.notebook.magics.history_table import HistoryTable

        _check_since("history", args.since)
        s = self._session()
        return HistoryTable.of(
            frames.history(
                None if args.offline else s.client, s.ledger, since=args.since, env=s.env
            )
        )

    def _cmd_report(self, args: argparse.Namespace) -> Any:
        try:
            from aurous_nb.analysis import reports
        except ImportError as exc:
            print(f"%aurous report is unavailable: {exc}")
            return None
        _check_since("report", args.since)
        s = self._session()
        return reports.cost_report(client=s.client, ledger=s.ledger, env=s.env, since=args.since)

    def _cmd_grid(self, args: argparse.Namespace) -> Any:
        PromptGrid = _widget("PromptGrid")
        if PromptGrid is None:
            return None
        if not args.positional:
            raise UsageError(
                "%aurous grid: give at least one prompt (or one per line of %%aurous grid)"
            )
        from aurous_nb.notebook import styles

        s = self._session()
        for lora in _csv(args.loras):
            styles.check(s, lora, param="--loras")
        from aurous_nb.client.errors import NotFoundError
        from aurous_nb.notebook import references
        from aurous_nb.notebook.grid_layout import vary_axes

        refs = [references.source(s, r) for r in args.ref or []]  # a cached output: its file
        try:
            return PromptGrid(
                prompts=list(args.positional),
                loras=_csv(args.loras) or None,
                sizes=_csv(args.sizes) or self._grid_sizes(args.preset),
                seeds=[_int("--seeds", v) for v in _csv(args.seeds)] or None,
                budget=args.budget,
                session=s,
                axes=vary_axes(args.vary or []),
                preset=args.preset,
                rows=args.rows,
                cols=args.cols,
                characters=_csv(args.character) or None,  # names resolved before pricing
                **({"reference_images": refs} if refs else {}),
            )
        except ValueError as exc:  # an unknown axis or field: a usage error, nothing sent
            text = re.sub(r"^reference_images\[(\d+)\]", lambda m: _ref_option(m, refs), str(exc))
            raise UsageError(f"%aurous grid: {text}") from None
        except NotFoundError as exc:  # an unknown or deleted character: nothing priced
            raise UsageError(f"%aurous grid: {exc.message}") from None

    def _grid_sizes(self, preset: str | None) -> list[str] | None:
        """``default_size`` for a grid, unless its preset names a size."""
        from aurous_nb.notebook import presets

        try:
            fields = presets.resolve(preset)
        except ValueError as exc:
            raise UsageError(f"%aurous grid --preset: {exc}") from None
        if {"size", "width", "height"} & set(fields) or not self.default_size:
            return None
        return [self.default_size]

    def _cmd_panel(self, args: argparse.Namespace) -> Any:
        GenerationPanel = _widget("GenerationPanel")
        if GenerationPanel is None:
            return None
        return GenerationPanel(session=self._session(), size=self.default_size)


# ------------------------------------------------------------------------------- helpers


def _banner(s: Session) -> None:
    from IPython.display import display

    text = s.banner()
    color = "#fff4e5" if s.synthetic else "#e8f5e9"
    border = "#f0a020" if s.synthetic else "#43a047"
    import html

    display(  # type: ignore[no-untyped-call]
        {
            "text/plain": text,
            "text/html": (
                f'<div style="background:{color};border-left:4px solid {border};'
                f'padding:6px 10px;font-family:sans-serif">{html.escape(text)}</div>'
            ),
        },
        raw=True,
    )


def _ref_option(match: re.Match[str], refs: list[Any]) -> str:
    """``reference_images[0]`` as the option the person typed: ``--ref`` (``--ref 2``)."""
    return "--ref" if len(refs) == 1 else f"--ref {int(match.group(1)) + 1}"


def _csv(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _check_since(command: str, since: str) -> None:
    """A ``--since`` that is not a time is a usage error naming the forms, before any work."""
    from aurous_nb.timestamps import epoch

    try:
        epoch(since)
    except ValueError as exc:
        raise UsageError(f"%aurous {command}: --since: {exc}") from None


def _int(option: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not an integer") from None


def _widget(name: str) -> Any:
    try:
        import aurous_nb.notebook.widgets as widgets

        return getattr(widgets, name)
    except Exception as exc:  # ipywidgets missing, or the widget failed to import
        print(f"The {name} widget is unavailable here ({type(exc).__name__}: {exc}).")
        return None


# ------------------------------------------------------------------------------- extension


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%aurous`` and the ``Aurous`` configurable; loading twice is silent."""
    if getattr(ipython, "_aurous_magics", None) is None:
        magics = _new_magics(ipython)
        ipython.register_magics(magics)
        if magics not in ipython.configurables:
            ipython.configurables.append(magics)
        ipython._aurous_magics = magics
        configured = {  # caps set in the config before loading; caps set in code are kept
            name.removesuffix("_budget"): getattr(magics, name)
            for name in _CAP_TRAITS
            if getattr(magics, name) is not None
        }
        if configured:
            from aurous_nb.work import caps

            caps.configure(**configured)
    _quiet_second_load(ipython)


def _new_magics(ipython: Any) -> Aurous:
    """``Aurous`` on this shell. ``%config`` keeps a value the trait refused in the shell's own
    config (IPython merges it there anyway), where it would break every later load; such a
    value is dropped, and said, so the settings start from the defaults instead."""
    try:
        return Aurous(shell=ipython)
    except TraitError:
        from traitlets.config import Config

        section = ipython.config.get("Aurous") or {}
        for name in list(section):
            try:
                Aurous(config=Config({"Aurous": {name: section[name]}}))
            except TraitError as exc:
                del section[name]
                print(f"aurous_nb: ignored a refused setting: {exc}")
        return Aurous(shell=ipython)


def _quiet_second_load(ipython: Any) -> None:
    """Make a second ``%load_ext aurous_nb`` silent while ``%unload_ext`` keeps working.

    IPython's ExtensionManager answers ``"already loaded"`` for a name in its ``loaded`` set
    (and ``%load_ext`` prints two lines about ``%reload_ext``), but ``%unload_ext`` refuses a
    name that is *not* in that set, so the name has to stay there. Instead this shell's manager
    gets a ``load_extension`` that, for ``aurous_nb`` only and only while it is loaded, calls
    our idempotent loader and reports success; every other name, and a first load after an
    unload, goes to IPython's own method unchanged.
    """
    manager = getattr(ipython, "extension_manager", None)
    if manager is None or getattr(manager.load_extension, "_aurous_quiet", False):
        return
    original = manager.load_extension

    def load_extension(module_str: str) -> str | None:
        if module_str == _EXTENSION and module_str in manager.loaded:
            load_ipython_extension(ipython)  # idempotent: registers only what is missing
            return None
        result: str | None = original(module_str)
        return result

    load_extension._aurous_quiet = True  # type: ignore[attr-defined]
    manager.load_extension = load_extension


def unload_ipython_extension(ipython: Any) -> None:
    magics = getattr(ipython, "_aurous_magics", None)
    if magics is None:
        return
    ipython.magics_manager.magics["line"].pop("aurous", None)
    ipython.magics_manager.magics["cell"].pop("aurous", None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
    del ipython._aurous_magics
