"""A contact sheet: one labelled picture (or one self-contained page) of a whole grid, to send.

The grid describes itself as a :class:`Sheet` (pages of row and column labels, cells with their
image bytes and cost, a footer of parameters) and this module draws it with Pillow, or writes it
as HTML with every image embedded. Only bytes go in: no signed URL, no server address, no key,
so the file can be mailed or posted as it is. Cells are downscaled so that a 4 x 6 sheet of 2k
images stays a few megabytes (and under :data:`MAX_PNG_BYTES` in any case).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MAX_PNG_BYTES", "Cell", "Page", "Sheet", "wrap_text", "write"]

MAX_PNG_BYTES = 10 * 2**20
SHEET_WIDTH = 2000  # pixels the cells of one row share, at most
CELL_MAX, CELL_MIN = 320, 96
GAP, PAD = 10, 24
LABEL_WIDTH = 240
FONT, SMALL = 15, 13
INK, MUTED, PAPER, EMPTY = (30, 32, 38), (100, 104, 118), (255, 255, 255), (236, 238, 243)


@dataclass
class Cell:
    """One cell: its picture (bytes of any format Pillow reads; ``None``: none yet), its cost
    caption (``"1 credit"``) and, without a picture, what happened (``"failed: ..."``)."""

    image: bytes | None
    caption: str = ""
    note: str = ""
    alt: str = ""


@dataclass
class Page:
    title: str
    rows: list[str]
    cols: list[str]
    cells: list[list[Cell]]  # [row][column]
    axes: tuple[str, str] = ("", "")  # the names of the row and column axes, for the corner


@dataclass
class Sheet:
    title: str
    pages: list[Page]
    footer: list[str] = field(default_factory=list)  # "name value" parameters, said once
    summary: str = ""  # "24 cells · 24 credits"


def write(sheet: Sheet, path: str | Path, cell: int | None = None) -> Path:
    """Write ``sheet`` as PNG (``.png``) or self-contained HTML (``.html``/``.htm``); ``cell``
    caps the side of a PNG cell in pixels (default: as large as fits, up to 320)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".html", ".htm", ".png"):
        raise ValueError(f"contact_sheet: write a .png or an .html file, not {target.name!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        target.write_bytes(_png(sheet, cell))
    else:
        target.write_text(_html(sheet), encoding="utf-8")
    return target


# ------------------------------------------------------------------------------------ PNG


def _font(size: int) -> Any:
    """DejaVu Sans where the system has it (it has ×, arrows and most scripts), else Pillow's
    own face."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def wrap_text(text: str, font: Any, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels (words too long are cut)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while font.getlength(word) > width:  # a word wider than the line: cut it
            cut = len(word)
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines or [""]


def _png(sheet: Sheet, cell: int | None = None) -> bytes:
    most = max((len(p.cols) for p in sheet.pages), default=1)
    fit = min(CELL_MAX, cell or CELL_MAX, (SHEET_WIDTH - GAP * most) // max(1, most))
    side = max(CELL_MIN, fit)
    while True:
        data = _draw(sheet, side)
        if len(data) < MAX_PNG_BYTES or side <= CELL_MIN:
            return data
        side = max(CELL_MIN, int(side * 0.8))


def _draw(sheet: Sheet, side: int) -> bytes:
    from PIL import Image, ImageDraw
    from PIL.PngImagePlugin import PngInfo

    font, small, big = _font(FONT), _font(SMALL), _font(FONT + 5)
    line_h, small_h = FONT + 5, SMALL + 4
    most = max((len(p.cols) for p in sheet.pages), default=1)
    width = PAD * 2 + LABEL_WIDTH + most * (side + GAP)
    inner = width - 2 * PAD
    blocks: list[tuple[Page, list[list[str]], list[list[str]], int]] = []
    height = PAD + line_h + 8 + small_h + 12  # title and summary
    for page in sheet.pages:
        heads = [wrap_text(c, small, side)[:4] for c in page.cols]
        head_h = max([2, *(len(h) for h in heads)]) * small_h + 6
        rows = [wrap_text(r, small, LABEL_WIDTH - 12)[: max(1, side // small_h)] for r in page.rows]
        height += (line_h + 6 if page.title else 0) + head_h
        height += len(page.rows) * (side + small_h + GAP) + 12
        blocks.append((page, heads, rows, head_h))
    footer = wrap_text(" · ".join(sheet.footer), small, inner) if sheet.footer else []
    height += 8 + len(footer) * small_h + PAD

    img = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(img)
    y = PAD
    draw.text((PAD, y), sheet.title, font=big, fill=INK)
    y += line_h + 8
    draw.text((PAD, y), sheet.summary, font=small, fill=MUTED)
    y += small_h + 12
    for page, heads, rows, head_h in blocks:
        if page.title:
            draw.text((PAD, y), page.title, font=font, fill=INK)
            y += line_h + 6
        x0 = PAD + LABEL_WIDTH
        corner = [
            f"{name}: {axes}"
            for name, axes in zip(("rows", "cols"), page.axes, strict=True)
            if axes
        ]
        for i, text in enumerate(corner[: max(1, head_h // small_h)]):
            draw.text((PAD, y + i * small_h), text, font=small, fill=MUTED)
        for c, head in enumerate(heads):
            for i, text in enumerate(head):
                left = x0 + c * (side + GAP) + (side - small.getlength(text)) / 2
                draw.text((left, y + i * small_h), text, font=small, fill=INK)
        y += head_h
        for r, label in enumerate(rows):
            top = y + (side - len(label) * small_h) / 2  # beside the middle of its row
            for i, text in enumerate(label):
                draw.text((PAD, top + i * small_h), text, font=small, fill=INK)
            for c, cell in enumerate(page.cells[r]):
                x = x0 + c * (side + GAP)
                _paste(img, draw, cell, x, y, side, small, small_h)
                caption = cell.caption
                left = x + (side - small.getlength(caption)) / 2
                draw.text((left, y + side + 2), caption, font=small, fill=MUTED)
            y += side + small_h + GAP
        y += 12
    draw.line((PAD, y, width - PAD, y), fill=EMPTY, width=2)
    y += 8
    for text in footer:
        draw.text((PAD, y), text, font=small, fill=MUTED)
        y += small_h
    info = PngInfo()
    info.add_itxt("Title", sheet.title)
    info.add_itxt("Description", "\n".join([sheet.summary, *sheet.footer]))
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue()


def _paste(img: Any, draw: Any, cell: Cell, x: int, y: int, side: int, font: Any, lh: int) -> None:
    from PIL import Image

    if cell.image is not None:
        try:
            with Image.open(io.BytesIO(cell.image)) as picture:
                picture.thumbnail((side, side))
                tile = picture.convert("RGB")
            img.paste(tile, (x + (side - tile.width) // 2, y + (side - tile.height) // 2))
            return
        except Exception:  # an unreadable file shows as an empty cell with its note
            pass
    draw.rounded_rectangle((x, y, x + side, y + side), radius=8, fill=EMPTY)
    lines = wrap_text(cell.note or "no picture", font, side - 16)[: max(1, side // lh - 1)]
    top = y + (side - len(lines) * lh) / 2
    for i, text in enumerate(lines):
        draw.text(
            (x + (side - font.getlength(text)) / 2, top + i * lh), text, font=font, fill=MUTED
        )


# ----------------------------------------------------------------------------------- HTML

_CSS = """body{font-family:system-ui,sans-serif;color:#1e2026;margin:24px}
table{border-collapse:separate;border-spacing:8px}th{font-size:13px;font-weight:600;
vertical-align:bottom;max-width:320px}td.row{font-size:13px;max-width:240px;vertical-align:middle}
td{text-align:center;vertical-align:top}img{max-width:320px;max-height:320px;border-radius:6px}
.muted{color:#646876;font-size:12px}.empty{width:240px;height:240px;background:#eceef3;
border-radius:6px;display:flex;align-items:center;justify-content:center;color:#646876;
font-size:12px;padding:8px;box-sizing:border-box}footer{margin-top:16px}"""


def _data_uri(data: bytes, side: int = 640) -> str:
    """A downscaled copy of ``data`` as a data URI (JPEG, or PNG where there is alpha)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        picture.thumbnail((side, side))
        out = io.BytesIO()
        if picture.mode in ("RGBA", "LA", "P"):
            picture.save(out, format="PNG", optimize=True)
            mime = "image/png"
        else:
            picture.convert("RGB").save(out, format="JPEG", quality=85)
            mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(out.getvalue()).decode('ascii')}"


def _html(sheet: Sheet) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{esc(sheet.title)}</title><style>{_CSS}</style></head><body>",
        f"<h2>{esc(sheet.title)}</h2><p class='muted'>{esc(sheet.summary)}</p>",
    ]
    for page in sheet.pages:
        if page.title:
            parts.append(f"<h3>{esc(page.title)}</h3>")
        parts.append("<table><tr><th></th>")
        parts.extend(f"<th>{esc(c)}</th>" for c in page.cols)
        parts.append("</tr>")
        for label, cells in zip(page.rows, page.cells, strict=True):
            parts.append(f"<tr><td class='row'>{esc(label)}</td>")
            parts.extend(_html_cell(cell) for cell in cells)
            parts.append("</tr>")
        parts.append("</table>")
    parts.append("<footer class='muted'>" + " · ".join(esc(f) for f in sheet.footer) + "</footer>")
    parts.append("</body></html>")
    return "".join(parts)


def _html_cell(cell: Cell) -> str:
    caption = f"<div class='muted'>{html.escape(cell.caption)}</div>"
    if cell.image is not None:
        try:
            uri = _data_uri(cell.image)
            return f"<td><img src='{uri}' alt='{html.escape(cell.alt)}'/>{caption}</td>"
        except Exception:
            pass
    return f"<td><div class='empty'>{html.escape(cell.note or 'no picture')}</div>{caption}</td>"


def footer_items(pairs: Sequence[tuple[str, Any]]) -> list[str]:
    """``name value`` for each parameter that has one."""
    return [f"{name} {value}" for name, value in pairs if value not in (None, "", [], ())]
