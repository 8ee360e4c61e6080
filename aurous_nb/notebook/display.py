"""How a generation looks in a notebook: previews embedded as bytes from the local cache.

A signed output URL dies after a day and carries a token, so nothing here ever links one: the
HTML embeds downscaled JPEG/PNG previews (and small videos) read from the outputs cache, next to
the prompt, LoRA, size, seed, cost, status and id. A saved notebook keeps showing its images and
shares no secret. Pillow (and PyAV, for a video poster) load only when something is rendered.
"""

from __future__ import annotations

import base64
import io
import shutil
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurous_nb import statuses
from aurous_nb.config import env_for
from aurous_nb.statuses import ACTIVE, SUCCEEDED
from aurous_nb.store.ledger import JobRecord, Ledger, OutputFile, ledger_or_default
from aurous_nb.text import NO_LORA, UNKNOWN, credits, moment, number

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["Gallery", "GenerationView", "gallery", "view"]

PREVIEW_PX = 320  # long side of an embedded preview
VIDEO_EMBED_MAX = 8 * 1024 * 1024  # bigger videos get a poster frame and their path instead


#: Badge colours of the terminal statuses (``reports`` adds the active ones for its charts).
class GenerationView:
    """One generation as the ledger and the outputs cache know it, ready to display.

    ``.image(i)`` is the full-size PIL image, ``.save(dir)`` copies the cached files out,
    ``.paths`` lists them; in a notebook it renders as previews plus the facts beside them.
    """

    def __init__(self, record: JobRecord, files: Sequence[OutputFile]) -> None:
        self.record = record
        self.files = sorted((f for f in files if f.is_intact()), key=lambda f: f.index)
        self._previews: dict[int, tuple[str, bytes]] = {}

    # -- data ----------------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        return self.record.generation_id

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def paths(self) -> list[Path]:
        """The cached output files, by index."""
        return [f.path for f in self.files]

    def image(self, index: int = 0) -> Image:
        """The full-size output ``index`` as a PIL image (loaded from the cache)."""
        from PIL import Image as PILImage

        image = PILImage.open(self._file(index).path)
        image.load()
        return image

    def save(self, directory: str | Path) -> list[Path]:
        """Copy the cached outputs into ``directory`` as ``<generation_id>_<index>.<ext>``."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for f in self.files:
            target = folder / f"{f.generation_id}_{f.index}{f.path.suffix}"
            shutil.copyfile(f.path, target)
            out.append(target)
        return out

    def _file(self, index: int) -> OutputFile:
        for f in self.files:
            if f.index == index:
                return f
        have = [f.index for f in self.files]
        raise IndexError(f"output {index} of {self.id} is not in the cache (cached: {have})")

    # -- rendering -----------------------------------------------------------------------

    def _preview(self, f: OutputFile) -> tuple[str, bytes]:
        """``(mime type, bytes)`` of a downscaled preview of an image output."""
        cached = self._previews.get(f.index)
        if cached is None:
            from PIL import Image as PILImage

            with PILImage.open(f.path) as image:
                cached = _thumbnail(image)
            self._previews[f.index] = cached
        return cached

    def _media_html(self, f: OutputFile, size: int) -> str:
        if (f.content_type or "").startswith("video/"):
            return _video_html(f, size)
        try:
            mime, data = self._preview(f)
        except Exception as exc:  # a damaged file should not break the whole cell
            return f"<div>preview unavailable ({escape(type(exc).__name__)})</div>"
        return (
            f'<img src="data:{mime};base64,{base64.b64encode(data).decode()}" '
            f'style="max-width:{size}px;max-height:{size}px;border-radius:4px" '
            f'alt="output {f.index + 1} of {escape(self.id or "")}" '
            f'title="{escape(shown_path(f.path))}"/>'
        )

    def _placeholder(self) -> str:
        record = self.record
        if record.status in ACTIVE:
            text = f"{record.status}: no output yet"
        elif record.status == SUCCEEDED:
            text = "outputs not in the local cache (download them with aurous_nb.store.outputs)"
        else:
            text = f"{record.status}: no output"
            if record.error_message:
                text += f"; {record.error_message}"
        return (
            f'<div style="padding:1em;border:1px dashed #bbb;border-radius:4px;'
            f'color:#616161;max-width:{PREVIEW_PX}px">{escape(text)}</div>'
        )

    def _facts(self) -> list[tuple[str, str]]:
        r = self.record
        facts: list[tuple[str, str]] = []
        if r.prompt:
            facts.append(("prompt", r.prompt))
        facts.append(("LoRA", r.lora or NO_LORA))
        size = r.size or ""
        if r.width and r.height and str(r.width) not in size:
            size = f"{size} ({r.width}×{r.height})".strip()
        if size:
            facts.append(("size", size))
        if r.image_count and r.media_type == "image":
            facts.append(("images", str(r.image_count)))
        if r.seed is not None:
            facts.append(("seed", str(r.seed)))
        details = {**(r.request or {}), **(r.generation or {})}
        if details.get("negative_prompt"):
            facts.append(("negative", str(details["negative_prompt"])))
        if details.get("enhance_prompt"):
            facts.append(("enhance", "prompt rewritten by the platform (billed)"))
        facts.append(("cost", _cost_text(r)))
        facts.append(("status", r.status))
        if r.created_at:
            facts.append(("created", moment(r.created_at)))
        facts.append(("id", r.generation_id or f"(not answered yet; key {r.key})"))
        facts.append(("env", r.env))
        if self.files:
            facts.append(("files", shown_path(self.files[0].path.parent)))
        return facts

    def _card_html(self, size: int, facts: bool = True) -> str:
        media = (
            "".join(
                f'<div style="margin:2px">{self._media_html(f, size)}</div>' for f in self.files
            )
            or self._placeholder()
        )
        rows = ""
        if facts:
            rows = "".join(
                f'<tr><th style="text-align:left;padding:1px 8px 1px 0;vertical-align:top">'
                f'{escape(k)}</th><td style="text-align:left;padding:1px 0">{_value_html(k, v)}'
                "</td></tr>"
                for k, v in self._facts()
            )
            rows = (
                '<table style="font-size:12px;border-collapse:collapse;max-width:440px">'
                f"{rows}</table>"
            )
        return (
            '<div style="display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start">'
            f'<div style="display:flex;flex-wrap:wrap">{media}</div>{rows}</div>'
        )

    def _repr_html_(self) -> str:
        # Several outputs shrink a little so the facts still fit beside them.
        shown = {0: PREVIEW_PX, 1: PREVIEW_PX, 2: 240}.get(len(self.files), 180)
        return self._card_html(shown)

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self._repr_html_()}

    def text(self) -> str:
        """What a terminal shows: the facts in one line, then where each output was saved."""
        lines = [repr(self)]
        lines += [f"  saved: {shown_path(f.path)}" for f in self.files]
        if not self.files and self.record.status == SUCCEEDED:
            lines.append(
                "  not in the local cache (auto-download is off); "
                "aurous_nb.store.outputs.download_outputs(client, None, id) fetches it"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        r = self.record
        prompt = (r.prompt or "")[:60] + ("…" if r.prompt and len(r.prompt) > 60 else "")
        files = f", {len(self.files)} cached file(s)" if self.files else ""
        return (
            f"<Generation {r.generation_id or r.key} {r.status} {r.media_type} "
            f"{r.size or ''} cost={_cost_text(r)}{files} prompt={prompt!r}>"
        )


class Gallery:
    """Several generations as a grid of compact cards (a batch, a prompt grid)."""

    def __init__(
        self, views: Sequence[GenerationView], *, size: int = 192, ledger: Ledger | None = None
    ) -> None:
        self.views = list(views)
        self.size = size
        self.ledger = ledger_or_default(ledger)

    def __len__(self) -> int:
        return len(self.views)

    def __getitem__(self, index: int) -> GenerationView:
        return self.views[index]

    def rate(self, index: int, stars: Any) -> int | None:
        """Rate the ``index``-th generation shown (1-5, ``"reject"``, ``None`` clears)."""
        from aurous_nb.store.ratings import rate

        return rate(self.views[index].record, stars, ledger=self.ledger)

    def _repr_html_(self) -> str:
        from aurous_nb.store.ratings import stars_text

        ids = [v.id for v in self.views if v.id]
        envs = {v.record.env for v in self.views}
        stars = self.ledger.ratings(envs.pop(), ids) if ids and len(envs) == 1 else {}
        cards = []
        for v in self.views:
            facts = (v.record.lora, v.record.size, _cost_text(v.record), v.status)
            caption = escape(
                " · ".join(x for x in (*facts, stars_text(stars.get(v.id or ""))) if x)
            )
            prompt = escape((v.record.prompt or "")[:80])
            cards.append(
                f'<figure style="margin:4px;max-width:{self.size * 2 + 16}px" '
                f'title="{escape(v.id or "")}">{v._card_html(self.size, facts=False)}'
                f'<figcaption style="font-size:11px">{prompt}<br/>'
                f'<span style="color:#616161">{caption}</span></figcaption></figure>'
            )
        return f'<div style="display:flex;flex-wrap:wrap">{"".join(cards)}</div>'

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def __repr__(self) -> str:
        return f"<Gallery of {len(self.views)} generation(s)>"


def view(
    generation: Any,
    ledger: Ledger | None = None,
    *,
    client: Any = None,
    env: str | None = None,
    download: bool | None = None,
) -> GenerationView:
    """A displayable view of a generation: a ``JobRecord``, a client ``Generation``, its JSON,
    or an id.

    With a ``client``, a generation the ledger has not seen is fetched and recorded, and a
    succeeded one whose outputs are not cached yet is downloaded first (unless auto-download
    is off or ``download=False``).
    """
    from aurous_nb.store import outputs
    from aurous_nb.work import jobs

    ledger = ledger_or_default(ledger)
    if env is None and client is not None:
        env = env_for(str(client.base_url))
    record = _record_for(generation, ledger, env)
    if record is None:
        if client is None:
            raise LookupError(f"{generation!r} is not in the ledger; pass client= to fetch it")
        gen_id = generation if isinstance(generation, str) else _gen_id(generation)
        record = jobs.observe(client, ledger, client.images.get(gen_id), download=download)
    elif (
        client is not None
        and record.status == SUCCEEDED
        and outputs.should_download(download)
        and len(outputs.cached_outputs(ledger, record.generation_id or "", record.env))
        < record.output_count
    ):
        outputs.download_outputs(client, ledger, record)
    files = ledger.outputs(record.generation_id, record.env) if record.generation_id else []
    return GenerationView(record, files)


def gallery(
    generations: Iterable[Any], ledger: Ledger | None = None, *, client: Any = None
) -> Gallery:
    """:func:`view` for many generations, shown as a grid."""
    ledger = ledger_or_default(ledger)
    return Gallery([view(g, ledger, client=client) for g in generations], ledger=ledger)


# -- helpers ---------------------------------------------------------------------------------


def _gen_id(generation: Any) -> str:
    raw = getattr(generation, "raw", generation)
    if isinstance(raw, dict) and raw.get("id"):
        return str(raw["id"])
    raise TypeError(f"not a generation: {type(generation).__name__}")


def _record_for(generation: Any, ledger: Ledger, env: str | None) -> JobRecord | None:
    if isinstance(generation, JobRecord):
        if generation.generation_id is None and generation.key is not None:
            return ledger.job(generation.key) or generation
        fresh = ledger.find(generation.generation_id or "", generation.env)
        return fresh or generation
    if isinstance(generation, str):
        return ledger.find(generation, env) or ledger.job(generation)
    gen_id = _gen_id(generation)
    if env is not None:
        # A fresh payload in hand: record it, so the view shows the newest status.
        return ledger.record_generation(env, generation)
    return ledger.find(gen_id)


def _cost_text(record: JobRecord) -> str:
    if record.terminal:
        charged = record.charged or 0.0
        text = credits(charged)
        if record.estimate is not None and record.estimate != charged:
            text += f" (estimated {number(record.estimate)})"
        return text
    if record.held is not None:
        return f"{credits(record.held)} held"
    if record.estimate is not None:
        return f"~{credits(record.estimate)} (estimate)"
    return UNKNOWN


def _value_html(key: str, value: str) -> str:
    if key == "status":
        color = statuses.COLORS.get(value, "#1565c0")
        return (
            f'<span style="background:{color};color:white;border-radius:3px;padding:0 5px">'
            f"{escape(value)}</span>"
        )
    if key in ("id", "files", "env"):
        return f'<code style="word-break:break-all">{escape(value)}</code>'
    if key == "prompt":
        return f'<span style="white-space:pre-wrap">{escape(value)}</span>'
    return escape(value)


def _thumbnail(image: Image) -> tuple[str, bytes]:
    """A preview no larger than PREVIEW_PX: JPEG for opaque images, PNG when alpha matters."""
    copy = image.copy()
    copy.thumbnail((PREVIEW_PX, PREVIEW_PX))
    buffer = io.BytesIO()
    if "A" in copy.getbands() or copy.mode == "P":
        copy.save(buffer, format="PNG", optimize=True)
        return "image/png", buffer.getvalue()
    copy.convert("RGB").save(buffer, format="JPEG", quality=82, optimize=True)
    return "image/jpeg", buffer.getvalue()


def _video_poster(path: Path) -> tuple[str, bytes] | None:
    """The first frame of a video as a preview, when PyAV is installed."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                decoded: Any = frame
                return _thumbnail(decoded.to_image())
    except Exception:
        return None
    return None


def shown_path(path: Path) -> str:
    """A path as a shared notebook may show it: under the home folder as ``~/...``.

    Notebooks get shared; the absolute path would give away the user's name and folders.
    """
    try:
        return "~/" + path.resolve().relative_to(Path.home().resolve()).as_posix()
    except ValueError:
        return str(path)


def _video_html(f: OutputFile, size: int) -> str:
    if f.bytes <= VIDEO_EMBED_MAX:
        encoded = base64.b64encode(f.path.read_bytes()).decode()
        return (
            f'<video controls loop muted playsinline style="max-width:{size}px;'
            f'max-height:{size}px;border-radius:4px" title="{escape(shown_path(f.path))}">'
            f'<source type="{escape(f.content_type or "video/mp4")}" '
            f'src="data:{escape(f.content_type or "video/mp4")};base64,{encoded}"/></video>'
        )
    poster = _video_poster(f.path)
    note = (
        f'<div style="font-size:11px">video ({f.bytes / 1e6:.1f} MB, too large to embed): '
        f"<code>{escape(shown_path(f.path))}</code></div>"
    )
    if poster is None:
        return note
    mime, data = poster
    return (
        f'<img src="data:{mime};base64,{base64.b64encode(data).decode()}" '
        f'style="max-width:{size}px;max-height:{size}px" alt="video poster"/>{note}'
    )
