"""CharacterStudio: make a character from your images or a description, watch its four poses
arrive, redraw one, save it, then use it in a panel or a grid.

Every paid call goes through :mod:`aurous_nb.work.characters` (priced first, the ledger row
written before the request is sent), so a second click, a Stop or a re-run never buys the same
character twice: the same description again shows the character it already bought, for 0 credits.
Those calls are blocking, so they run in a worker thread; the kernel's loop only polls and
draws. The fields are read when a button is clicked, so what was typed is what is sent.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import ipywidgets as w

from aurous_nb.client.backoff import Backoff
from aurous_nb.notebook.context import cell_context
from aurous_nb.notebook.widgets._base import StaticFallback, budget_value, resolve_session
from aurous_nb.notebook.widgets._references import image_upload
from aurous_nb.notebook.widgets._static import (
    error_text,
    esc,
    image_format,
    sniff_mime,
    thumbnail,
    wrap,
)
from aurous_nb.notebook.widgets._tasks import Running, TaskSlot, Work, handler
from aurous_nb.statuses import FAILED, READY, REVIEWING, SYNTHESIZING
from aurous_nb.text import credits
from aurous_nb.work.characters import REGENERATE_GENERATIONS as REGEN
from aurous_nb.work.characters import SYNTH_GENERATIONS as SYNTH

__all__ = ["CharacterStudio"]

#: The four poses a synthesis draws, one slot each (uploaded refs of other poses show after).
SLOTS = ("portrait", "front", "side", "back")
TEXT_FIELDS = (
    "gender",
    "ethnicity",
    "hair_color",
    "hair_style",
    "eye_color",
    "body_type",
)
SIDE = 256
LABEL = {"description_width": "88px"}
_STATES = {
    "synthesizing": "drawing the poses…",
    "reviewing": "look at the poses, Regenerate one, or Save to make it ready",
    "ready": "use it in a panel or a grid",
    "failed": "see the message below",
}


class CharacterStudio(StaticFallback, w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Upload or describe a character; its poses fill in as they arrive; Regenerate, Save, then
    "Use in panel" / "Use in grid".

    ``CharacterStudio(session=None, *, character=None, panel=None, grid=None, budget=None)``:
    ``character`` (a name, a ``char_`` id or a Character) opens one that exists; ``panel`` and
    ``grid`` receive the character from the "Use in" buttons (with no panel, a new
    GenerationPanel opens below); ``budget`` caps what this studio may spend, in credits.
    From code: ``await studio.synthesize()``, ``await studio.create()``, ``await studio.save()``,
    ``await studio.regenerate("side")``; ``studio.attributes()`` is what Synthesize sends.
    """

    def __init__(
        self,
        session: Any = None,
        *,
        character: Any = None,
        panel: Any = None,
        grid: Any = None,
        budget: float | None = None,
    ) -> None:
        self.budget = budget
        self.session = resolve_session(session)
        self.panel = panel
        self.grid = grid
        self.character: Any = None
        self.outcome: Any = None  # the last paid call's work.characters.Outcome
        self.spent = 0.0
        self.error: str | None = None
        self._note = ""  # how the last call went (bought already, re-sent), kept in the status
        self.previews: dict[int, tuple[str, bytes]] = {}  # ref index -> (pose, small bytes)
        self._stale: set[str] = set()  # poses being redrawn: their old picture is not shown
        self._others: tuple[int, ...] = ()  # refs shown after the four slots
        self.prices: dict[int, Any] = {}  # generations -> Price (work.characters.Price)
        self.price_problems: dict[int, str] = {}
        self._run = TaskSlot(on_done=self._update_buttons, shown=True)
        self._build()
        super().__init__(children=self._layout())
        self.add_class("aurous-panel")
        self.add_class("aurous-studio")
        self._update_buttons()
        self._asked = character  # what the repr says until it is open
        self._setup = Work(lambda: self._load(character), shown=True)

    # -- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        full = w.Layout(width="100%")
        self.name = w.Text(
            description="Name", placeholder="What to call them", style=LABEL, layout=full
        )
        self.upload = image_upload("Images")
        self.upload_note = w.HTML("<span class='aurous-muted'>1 to 6 images of one person</span>")
        self.create_button = w.Button(
            description="Create · free", icon="user-plus", button_style="primary"
        )
        self.fields: dict[str, w.Widget] = {}
        for key in TEXT_FIELDS:
            self.fields[key] = w.Text(
                description=key.replace("_", " ").capitalize(),
                style=LABEL,
                layout=w.Layout(width="300px"),
            )
        self.fields["age"] = w.Text(
            description="Age", placeholder="years", style=LABEL, layout=w.Layout(width="180px")
        )
        self.fields["additional_details"] = w.Textarea(
            description="Details", placeholder="anything else", rows=2, style=LABEL, layout=full
        )
        self.synth_button = w.Button(
            description="Synthesize", icon="magic", button_style="primary", disabled=True
        )
        self.synth_button.layout.width = "220px"
        self.cost = w.HTML("<span class='aurous-muted'>Price: …</span>")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.status = w.HTML("<span class='aurous-muted'>Upload images or describe someone.</span>")
        self.errors = w.HTML()
        self.slots: dict[str, tuple[w.Image, w.HTML, w.Button]] = {}
        for pose in SLOTS:
            image = w.Image(format="png", layout=w.Layout(width="176px", display="none"))
            placeholder = w.HTML(_placeholder(pose, "waiting"))
            button = w.Button(
                description="Regenerate", disabled=True, layout=w.Layout(width="176px")
            )
            button.on_click(handler(self._regenerate_clicked(pose)))
            self.slots[pose] = (image, placeholder, button)
        self.extra = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.save_button = w.Button(description="Save", icon="check", disabled=True)
        self.use_panel_button = w.Button(description="Use in panel", icon="image", disabled=True)
        self.use_grid_button = w.Button(description="Use in grid", icon="th", disabled=True)
        self.below = w.VBox()  # the GenerationPanel "Use in panel" opens when none was given

        self.create_button.on_click(handler(self._clicked(self.create)))
        self.synth_button.on_click(handler(self._clicked(self.synthesize)))
        self.stop_button.on_click(handler(lambda _: self.stop()))
        self.save_button.on_click(handler(self._clicked(self.save)))
        self.use_panel_button.on_click(handler(self._clicked(self.use_in_panel)))
        self.use_grid_button.on_click(handler(self._clicked(self.use_in_grid)))
        self.upload.observe(handler(self._picked), names="value")

    def _layout(self) -> list[w.Widget]:
        from aurous_nb.notebook.widgets.panel import CSS

        row = w.Layout(align_items="center")
        header = w.HTML(
            f"{CSS}<span class='aurous-title'>Aurous · Character studio</span>"
            f"<span class='aurous-badge'>{esc(getattr(self.session, 'env', ''))}</span>"
        )
        from_images = w.VBox(
            [w.HBox([self.upload, self.upload_note], layout=row), self.create_button]
        )
        f = self.fields
        describe = w.VBox(
            [
                w.HBox([f["gender"], f["age"]], layout=row),
                w.HBox([f["ethnicity"], f["body_type"]], layout=row),
                w.HBox([f["hair_color"], f["hair_style"]], layout=row),
                f["eye_color"],
                f["additional_details"],
                w.HBox([self.synth_button, self.cost], layout=row),
            ]
        )
        self.tabs = w.Tab(children=[from_images, describe], titles=["From images", "Describe"])
        poses = w.HBox(
            [
                w.VBox(list(parts), layout=w.Layout(align_items="center"))
                for parts in self.slots.values()
            ],
            layout=w.Layout(flex_flow="row wrap"),
        )
        actions = w.HBox(
            [self.stop_button, self.save_button, self.use_panel_button, self.use_grid_button],
            layout=row,
        )
        return [
            header,
            self.name,
            self.tabs,
            self.status,
            self.errors,
            poses,
            self.extra,
            actions,
            self.below,
        ]

    # -- loading and prices --------------------------------------------------------------------

    async def _load(self, character: Any) -> None:
        await self._reprice()
        if character is not None:
            await self._run_now(self._open(character))

    async def ready(self) -> CharacterStudio:
        """Wait until the prices are in and a character asked for is open (code and tests)."""
        await self._setup
        return self

    @property
    def budget(self) -> float | None:
        """The most this studio may spend in credits (None: no cap)."""
        return self._budget

    @budget.setter
    def budget(self, value: float | None) -> None:
        self._budget = budget_value(value)
        if hasattr(self, "synth_button"):  # set after construction: the buttons say it now
            self._update_buttons()

    def _left(self) -> float | None:
        return None if self.budget is None else max(0.0, self.budget - self.spent)

    async def _reprice(self, attempt: int = 0) -> None:
        """Price a synthesis (4 generations) and a regeneration (1), each refused past the
        balance or a spending cap, in a worker thread (the budget is checked as it changes)."""
        from aurous_nb.work import caps
        from aurous_nb.work import characters as jobs

        session, notebook = self.session, cell_context()[0]
        failed = False

        def priced(generations: int) -> tuple[Any, str | None]:
            nonlocal failed
            try:
                quoted = jobs.price(session, generations)
            except ValueError as exc:
                return None, str(exc)
            except Exception as exc:  # the network: try again in a moment
                failed = True
                return None, f"no price yet ({error_text(exc)})"
            past = caps.blocked(session.ledger, str(session.env), notebook, quoted.amount)
            return (None, past) if past else (quoted, None)

        for generations in (SYNTH, REGEN):
            quoted, problem = await asyncio.to_thread(priced, generations)
            self.prices.pop(generations, None)
            self.price_problems.pop(generations, None)
            if quoted is not None:
                self.prices[generations] = quoted
            else:
                self.price_problems[generations] = problem or "no price yet"
        self._update_buttons()
        if failed and attempt < 3:
            await asyncio.sleep(2.0 * (attempt + 1))
            await self._reprice(attempt + 1)

    def _blocked(self, generations: int) -> str | None:
        if self._run.running:
            return "busy: Stop first, or wait"
        if generations in self.price_problems:
            return self.price_problems[generations]
        quoted = self.prices.get(generations)
        if quoted is None:
            return "no price yet"
        if self.budget is not None and self.spent + quoted.amount > self.budget + 1e-9:
            left = max(0.0, self.budget - self.spent)
            return (
                f"this costs {credits(quoted.amount)}, over the budget "
                f"({credits(left)} of {credits(self.budget)} left)"
            )
        return None

    def _update_buttons(self) -> None:
        running = self._run.running
        synth = self.prices.get(SYNTH)
        self.synth_button.description = (
            f"Synthesize · {credits(synth.amount)}" if synth is not None else "Synthesize"
        )
        reason = self._blocked(SYNTH)
        self.synth_button.disabled = reason is not None
        self.synth_button.tooltip = reason or "Spend the price and draw four poses"
        if synth is not None:
            self.cost.value = f"<span class='aurous-muted'>{esc(synth)}</span>"
        if reason is not None and not running:
            self.cost.value = f"<span class='aurous-error'>{esc(reason)}</span>"
        self.create_button.disabled = running
        self.stop_button.disabled = not running
        char = self.character
        status = getattr(char, "status", None)
        regen = self.prices.get(REGEN)
        regen_reason = self._blocked(REGEN)
        if regen_reason is None and status not in (REVIEWING, READY):
            regen_reason = "a pose can be redrawn once the character is reviewing or ready"
        for pose, (_, _, button) in self.slots.items():
            shown = char is not None and any(r.pose == pose for r in char.refs)
            button.description = (
                f"Regenerate · {credits(regen.amount)}" if regen is not None else "Regenerate"
            )
            button.disabled = regen_reason is not None or not shown
            button.tooltip = regen_reason or (
                f"Draw the {pose} pose again" if shown else f"no {pose} pose"
            )
        self.save_button.disabled = running or status != REVIEWING
        self.save_button.tooltip = "Save: reviewing -> ready" if status == REVIEWING else ""
        usable = status == READY
        self.use_panel_button.disabled = not usable
        self.use_panel_button.tooltip = "" if usable else "save the character first"
        if self.grid is None:
            self.use_grid_button.disabled = True
            self.use_grid_button.tooltip = "pass grid= to CharacterStudio to use it in a grid"
        else:
            self.use_grid_button.disabled = not usable
            self.use_grid_button.tooltip = "" if usable else "save the character first"

    # -- what the fields say -------------------------------------------------------------------

    def attributes(self) -> dict[str, Any]:
        """The attributes the Describe fields say, checked (ValidationError names the field)."""
        from aurous_nb.client.characters import check_attributes
        from aurous_nb.client.errors import ValidationError

        out: dict[str, Any] = {}
        for key, field in self.fields.items():
            text = str(field.value).strip()
            if not text:
                continue
            if key == "age":
                try:
                    age = float(text)
                except ValueError:
                    raise ValidationError(
                        "attributes.age", f"age: {text!r} is not a number of years"
                    ) from None
                if not math.isfinite(age) or not 0 <= age <= 150:
                    raise ValidationError("attributes.age", "age: a number from 0 to 150")
                out[key] = int(age) if age.is_integer() else age
            else:
                out[key] = text
        return check_attributes(out)

    def _name(self) -> str:
        from aurous_nb.client.characters import check_name

        return check_name(self.name.value.strip())

    def _images(self) -> list[tuple[str, bytes]]:
        from aurous_nb.client.characters import MAX_IMAGES
        from aurous_nb.client.errors import ValidationError
        from aurous_nb.client.files import read_image

        files = [(str(f.get("name") or "image"), bytes(f["content"])) for f in self.upload.value]
        if not files:
            raise ValidationError("images", "images: pick 1 to 6 images first")
        if len(files) > MAX_IMAGES:
            raise ValidationError("images", f"images: at most {MAX_IMAGES} (got {len(files)})")
        for i, (name, data) in enumerate(files):
            try:
                read_image(data, None, param=f"images[{i}]")
            except ValidationError as exc:
                raise ValidationError(exc.param or "images", f"{name}: {exc.message}") from None
        return files

    def _picked(self, _: Any = None) -> None:
        n = len(self.upload.value)
        self.upload_note.value = (
            f"<span class='aurous-muted'>{n} image{'s' * (n != 1)} picked · Create is free</span>"
            if n
            else "<span class='aurous-muted'>1 to 6 images of one person</span>"
        )

    # -- actions -------------------------------------------------------------------------------

    def _clicked(self, action: Callable[[], Any]) -> Callable[[Any], None]:
        """A button's callback: refusals were shown by the action, so nothing is raised here."""

        def click(_: Any) -> None:
            try:
                action()
            except Exception as exc:  # a refusal is shown already; anything else is shown now
                if not getattr(exc, "_aurous_shown", False):
                    self._show_error(exc)

        return click

    def _refuse(self, exc: BaseException) -> NoReturn:
        """Say why nothing was sent, then raise it to the caller (a click only shows it)."""
        self._show_error(exc, refused=True)
        exc._aurous_shown = True  # type: ignore[attr-defined]
        raise exc

    def _start(self, factory: Callable[[], Any], what: str) -> Running:
        work = self._run.start(factory)
        if work is None:  # a second click while the first runs: join it, never a duplicate
            assert self._run.task is not None
            work = self._run.task
        self._update_buttons()
        return Running(work, f"CharacterStudio {what}")

    def synthesize(self) -> Running:
        """Buy a synthesis of the Describe fields (4 generations, priced first); the same name and
        attributes again show the character already bought, for 0 credits."""
        if self._run.running and self._run.task is not None:
            return Running(self._run.task, "CharacterStudio synthesize")
        from aurous_nb.client.characters import character_body

        try:
            name = self._name()
            attrs = self.attributes()
            character_body(name, attributes=attrs)
            reason = self._blocked(SYNTH)
            if reason is not None:
                raise ValueError(f"Synthesize is not possible now: {reason}")
        except ValueError as exc:
            self._refuse(exc)
        context = cell_context()
        return self._start(lambda: self._synthesize(name, attrs, context), "synthesize")

    def create(self) -> Running:
        """Make a ready character from the uploaded images (free)."""
        if self._run.running and self._run.task is not None:
            return Running(self._run.task, "CharacterStudio create")
        try:
            name = self._name()
            files = self._images()
        except ValueError as exc:
            self._refuse(exc)
        context = cell_context()
        return self._start(lambda: self._create(name, files, context), "create")

    def regenerate(self, pose: str) -> Running:
        """Draw one pose again (1 generation, priced first)."""
        if self._run.running and self._run.task is not None:
            return Running(self._run.task, "CharacterStudio regenerate")
        try:
            if pose not in SLOTS:
                raise ValueError(f"pose must be one of {', '.join(SLOTS)}, not {pose!r}")
            status = getattr(self.character, "status", None)
            if status not in (REVIEWING, READY):
                raise ValueError(
                    f"a pose can be redrawn once the character is reviewing or ready ({status})"
                )
            reason = self._blocked(REGEN)
            if reason is not None:
                raise ValueError(f"Regenerate is not possible now: {reason}")
        except ValueError as exc:
            self._refuse(exc)
        return self._start(lambda: self._regenerate(pose), "regenerate")

    def _regenerate_clicked(self, pose: str) -> Callable[[Any], None]:
        return self._clicked(lambda: self.regenerate(pose))

    def save(self) -> Running:
        """``reviewing -> ready`` (free)."""
        if self._run.running and self._run.task is not None:
            return Running(self._run.task, "CharacterStudio save")
        if getattr(self.character, "status", None) != REVIEWING:
            self._refuse(ValueError("only a reviewing character can be saved"))
        return self._start(self._save, "save")

    def stop(self) -> bool:
        """Stop waiting (the character keeps being drawn on the server; asking again, or a new
        studio on it, picks it up without buying it again)."""
        stopped = self._run.cancel()
        if stopped:
            self._set_status(
                "Stopped watching. Synthesize again, or CharacterStudio(character=...), picks it "
                "up from the ledger: nothing is bought twice."
            )
        return stopped

    async def wait(self) -> Any:
        """Wait for the current action (if any); returns the character."""
        await self._setup
        await self._run.wait()
        return self.character

    def _ready_character(self) -> Any:
        if getattr(self.character, "status", None) != READY:
            self._refuse(ValueError("save the character first (it must be ready)"))
        return self.character

    def use_in_panel(self) -> Any:
        """Give the character to the panel (a new GenerationPanel below, when none was given)."""
        char = self._ready_character()
        if self.panel is None:
            from aurous_nb.notebook.widgets.panel import GenerationPanel

            self.panel = GenerationPanel(self.session)
            self.below.children = (self.panel,)
        self.panel.use_character(char)
        self._note = "in use in the panel"
        self._show(char)
        return self.panel

    def use_in_grid(self) -> Any:
        """Add the character to the grid's characters (``grid=`` must be given)."""
        if self.grid is None:
            self._refuse(ValueError("pass grid= to CharacterStudio to use a character in a grid"))
        char = self._ready_character()
        try:
            self.grid.add_character(char)
        except Exception as exc:  # e.g. the grid is running
            self._refuse(exc)
        self._note = "added to the grid"
        self._show(char)
        return self.grid

    # -- the work ------------------------------------------------------------------------------

    async def _run_now(self, coro: Any) -> None:
        work = self._run.start(lambda: coro)
        self._update_buttons()
        if work is not None:
            await work

    async def _guarded(self, what: str, body: Any) -> None:
        """Run ``body`` (a coroutine): failures shown and raised, the buttons and the saved copy
        brought up to date."""
        from aurous_nb.notebook.magics.errors import with_advice

        self.error = None
        self.errors.value = ""
        self._note = ""
        try:
            await body
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._show_error(exc)
            self._set_status(f"{what} failed.")
            raise with_advice(exc) from None
        finally:
            self._update_buttons()
            self.refresh_static()

    async def _synthesize(
        self, name: str, attrs: Mapping[str, Any], context: tuple[str | None, str | None]
    ) -> None:
        from aurous_nb.work import characters as jobs

        async def body() -> None:
            self._set_status("Buying a synthesis…")
            session, left = self.session, self._left()
            outcome = await asyncio.to_thread(
                jobs.synthesize, session, name, attrs, budget=left, context=context
            )
            self._bought(outcome)
            await self._follow()

        await self._guarded("Synthesize", body())

    async def _create(
        self, name: str, files: list[tuple[str, bytes]], context: tuple[str | None, str | None]
    ) -> None:
        from aurous_nb.work import characters as jobs

        async def body() -> None:
            self._set_status(f"Uploading {len(files)} image{'s' * (len(files) != 1)}…")
            images = [data for _, data in files]
            outcome = await asyncio.to_thread(
                jobs.create, self.session, name, images, context=context
            )
            self.upload.value = ()  # a second Create needs new pictures: no duplicate
            self._bought(outcome)
            await self._follow()

        await self._guarded("Create", body())

    async def _regenerate(self, pose: str) -> None:
        from aurous_nb.work import characters as jobs

        async def body() -> None:
            self._set_status(f"Buying a new {pose} pose…")
            outcome = await asyncio.to_thread(
                jobs.regenerate, self.session, self.character, pose, budget=self._left()
            )
            self._stale.add(pose)
            for index in [i for i, (p, _) in self.previews.items() if p == pose]:
                del self.previews[index]
            self._bought(outcome)
            await self._follow()

        await self._guarded("Regenerate", body())

    async def _save(self) -> None:
        from aurous_nb.work import characters as jobs

        async def body() -> None:
            self._set_status("Saving…")
            self._show(await asyncio.to_thread(jobs.save, self.session, self.character))

        await self._guarded("Save", body())

    async def _open(self, character: Any) -> None:
        from aurous_nb.client.models import Character
        from aurous_nb.work import characters as jobs

        async def body() -> None:
            if isinstance(character, Character):
                char = character
            else:
                self._set_status(f"Opening {character}…")
                char = await asyncio.to_thread(jobs.find, self.session, str(character))
            self.name.value = char.name
            self._show(char)
            await self._follow()

        await self._guarded("Open", body())

    def _bought(self, outcome: Any) -> None:
        self.outcome = outcome
        if outcome.how == "new" and outcome.price is not None:
            self.spent += float(outcome.price.amount)
            self._note = f"bought for {credits(outcome.price.amount)}"
        elif outcome.how == "reused":
            self._note = "bought already: shown again for 0 credits"
        elif outcome.how == "resent":
            self._note = "re-sent the unanswered request with its own key (no second buy)"
        self._show(outcome.character)

    async def _follow(self) -> None:
        """Poll until the character settles, filling each pose's slot as its ref appears."""
        from aurous_nb.store import characters as ledger_rows

        aclient, ledger = self.session.aclient, self.session.ledger
        gaps = Backoff()
        char = self.character
        while True:
            if char.is_settled:
                self._stale.clear()
            await self._fill(char)
            if char.is_settled:
                break
            await asyncio.sleep(gaps.next())
            char = await aclient.characters.get(char.id)
            ledger_rows.observe(ledger, self.session.env, char)
            self._show(char)
        self._show(char)
        await self._reprice(attempt=3)  # the balance changed (no retries: the work is done)

    async def _fill(self, char: Any) -> None:
        """Download each ref not shown yet (one at a time or all at once, as they come)."""
        for index, ref in enumerate(char.refs):
            if index in self.previews or ref.pose in self._stale:
                continue
            data = await self.session.aclient.characters.download_ref(char, index)
            self.previews[index] = (ref.pose, thumbnail(data, SIDE))
            self._draw()

    # -- showing -------------------------------------------------------------------------------

    def _show(self, char: Any) -> None:
        if self.character is not None and self.character.id != char.id:
            self.previews.clear()  # another character: none of the old pictures are its own
            self._stale.clear()
        self.character = char
        note = _STATES.get(char.status, char.status)
        how = f" · {self._note}" if self._note else ""
        self._set_status(f"{char.name} · {char.id} · {char.status}: {note}{how}")
        if char.status == FAILED:
            self.error = f"failed: {char.error_message or 'the synthesis failed'}"
            self.errors.value = f"<div class='aurous-error'><b>failed</b>: {esc(self.error)}</div>"
        self._draw()
        self._update_buttons()

    def _draw(self) -> None:
        """The four slots (placeholder until a picture comes) and any other refs after them."""
        char = self.character
        drawing = getattr(char, "status", None) == SYNTHESIZING
        shown: set[int] = set()
        for pose, (image, placeholder, _) in self.slots.items():
            found = next(((i, b) for i, (p, b) in self.previews.items() if p == pose), None)
            if found is not None:
                shown.add(found[0])
                image.format = image_format(found[1])
                image.value = found[1]
                image.layout.display = ""
                placeholder.value = f"<span class='aurous-muted'>{esc(pose)}</span>"
            else:
                image.layout.display = "none"
                state = "drawing…" if drawing else ("redrawing…" if pose in self._stale else "—")
                placeholder.value = _placeholder(pose, state)
        others = tuple(i for i in sorted(self.previews) if i not in shown)
        if others == self._others:
            return  # the same pictures: no new widgets
        self._others = others
        extras = []
        for index in others:
            pose, data = self.previews[index]
            image = w.Image(value=data, format=image_format(data), layout=w.Layout(width="120px"))
            caption = w.HTML(f"<span class='aurous-muted'>{esc(pose)}</span>")
            extras.append(w.VBox([image, caption], layout=w.Layout(align_items="center")))
        self.extra.children = tuple(extras)

    def _set_status(self, text: str) -> None:
        self.status.value = f"<span class='aurous-muted'>{esc(text)}</span>"

    def _show_error(self, exc: BaseException, *, refused: bool = False) -> None:
        message = error_text(exc)
        code = getattr(exc, "code", None)
        if code in (None, "client_validation"):
            code = getattr(exc, "param", None) or type(exc).__name__
        request_id = getattr(exc, "request_id", None)
        tail = f" · request id <code>{esc(request_id)}</code>" if request_id else ""
        if refused:
            tail += " · nothing was sent"
        self.error = f"{code}: {message}" + (f" (request id {request_id})" if request_id else "")
        self.errors.value = (
            f"<div class='aurous-error'><b>{esc(code)}</b>: {esc(message)}{tail}</div>"
        )

    def static_html(self) -> str:
        from aurous_nb.notebook.character_card import CharacterCard

        if self.character is None:
            body = "<p>No character yet.</p>"
        else:
            previews = [(p, sniff_mime(b), b) for _, (p, b) in sorted(self.previews.items())]
            body = CharacterCard(self.character, previews, self.spent or None)._repr_html_()
        if self.error:
            body += f"<p class='aurous-err'>{esc(self.error)}</p>"
        return wrap("Aurous · Character studio", body)

    def __repr__(self) -> str:
        char = self.character
        if char is not None:
            what = f"{char.name} ({char.id}) {char.status}"
        elif self._asked is not None and not self._setup.done():
            asked = getattr(self._asked, "name", None) or self._asked
            what = f"opening {asked} (await studio.ready())"
        else:
            what = "empty"
        return f"<CharacterStudio env={getattr(self.session, 'env', '?')} {what}>"


def _placeholder(pose: str, state: str) -> str:
    return (
        "<div style='width:176px;height:176px;border:1px dashed #c5c8d0;border-radius:6px;"
        "display:flex;align-items:center;justify-content:center;color:#889;font-size:12px'>"
        f"{esc(pose)} · {esc(state)}</div>"
    )
