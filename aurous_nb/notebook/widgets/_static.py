"""The static half of every widget: HTML with embedded previews and a table.

A live widget shows nothing once the kernel is gone (GitHub, nbviewer, a reopened notebook), so
each widget also emits ``text/html`` built here. Images are embedded as ``data:`` URIs of
downscaled bytes, never as signed URLs, so a saved notebook leaks no token and keeps working after
the URLs expire.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aurous_nb.text import credits, number

__all__ = [
    "CSS",
    "Markup",
    "chart",
    "credits",
    "data_uri",
    "error_text",
    "esc",
    "fmt_credits",
    "gallery",
    "image_format",
    "sniff_mime",
    "table",
    "thumbnail",
    "wrap",
]

THUMB_SIDE = 256

# Scoped by the .aurous-static class so it never restyles the rest of a page. The cell rule names
# the class twice to outrank JupyterLab's right-aligned output tables (a reopened notebook shows
# this copy there).
CSS = """<style>
.aurous-static{font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:13px;color:#222}
.aurous-static h4{margin:4px 0 6px;font-size:14px;font-weight:600}
.aurous-static table{border-collapse:collapse;margin:6px 0}
.aurous-static.aurous-static th,.aurous-static.aurous-static td{border:1px solid #ddd;
padding:3px 8px;text-align:left;vertical-align:top}
.aurous-static th{background:#f4f4f6}
.aurous-static .aurous-gallery{display:flex;flex-wrap:wrap;gap:6px}
.aurous-static figure{margin:0;text-align:center;font-size:11px;color:#555}
.aurous-static img{max-width:160px;max-height:160px;border-radius:4px;display:block}
.aurous-static img.aurous-chart{max-width:100%;max-height:none;height:auto;border-radius:0}
.aurous-static .aurous-err{color:#b00020}
</style>"""


def error_text(exc: BaseException) -> str:
    """What a widget says of a failure: the API's message, else the exception's text, else
    its type (an exception may carry none)."""
    return str(getattr(exc, "message", None) or exc or type(exc).__name__)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fmt_credits(value: float | None) -> str:
    """Credits as people read them: ``12``, ``2.5``, ``—`` when unknown (:mod:`aurous_nb.text`)."""
    return number(value)


def sniff_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return "application/octet-stream"


def image_format(data: bytes) -> str:
    """The ``format`` an ``ipywidgets.Image`` needs for these bytes (``png``, ``jpeg``...)."""
    mime = sniff_mime(data)
    return mime.split("/", 1)[1] if mime.startswith("image/") else "png"


def thumbnail(data: bytes, side: int = THUMB_SIDE) -> bytes:
    """A downscaled copy (long side ``side``) for embedding; the original if it cannot be read."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            if max(img.size) <= side:
                return data
            img.thumbnail((side, side))
            out = io.BytesIO()
            if img.mode in ("RGBA", "LA", "P"):
                img.save(out, format="PNG", optimize=True)
            else:
                img.convert("RGB").save(out, format="JPEG", quality=85)
            return out.getvalue()
    except Exception:
        return data


def data_uri(data: bytes) -> str:
    return f"data:{sniff_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def chart(data: bytes, alt: str) -> str:
    """A full-width figure (a report chart), exempt from the thumbnail size cap.

    The inline style repeats the class's rule for viewers that drop ``<style>`` blocks.
    """
    return (
        f'<img class="aurous-chart" src="{data_uri(data)}" alt="{esc(alt)}" '
        'style="max-width:100%;max-height:none;height:auto"/>'
    )


def gallery(items: Iterable[tuple[bytes, str]]) -> str:
    """Figures of (image bytes, caption)."""
    figures = [
        f'<figure><img src="{data_uri(img)}" alt="{esc(caption)}"/>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
        for img, caption in items
    ]
    return f'<div class="aurous-gallery">{"".join(figures)}</div>' if figures else ""


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain HTML table; cell values are escaped unless they are ``Markup`` (raw HTML)."""
    if not rows:
        return ""
    cols = list(columns or rows[0].keys())
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Markup(str):
    """A string already safe to put in HTML as is."""


def _cell(value: Any) -> str:
    return value if isinstance(value, Markup) else esc(value)


def wrap(title: str, *parts: str) -> str:
    """The whole static view: scoped CSS, a title, the parts."""
    return f'{CSS}<div class="aurous-static"><h4>{esc(title)}</h4>{"".join(parts)}</div>'
