"""grid.contact_sheet(path): a labelled PNG (or a self-contained HTML page) to send around."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from aurous_nb.notebook.contact_sheet import wrap_text
from aurous_nb.notebook.session import Session
from aurous_nb.notebook.widgets import PromptGrid

LONG = (
    "a lighthouse on a basalt cliff at dusk, storm clouds rolling in from the sea, "
    "gulls over the foam, volumetric light through rain, 35mm film grain"
)


async def test_a_4x6_sheet_at_2k_is_labelled_and_under_10_mb(
    session: Session, tmp_path: Path
) -> None:
    prompts = [LONG, "a fox in the snow", "an owl at night", "a calm lake"]
    grid = await PromptGrid(prompts, seeds=range(6), sizes=["2k_1_1"]).ready()
    await grid.run()
    assert len(grid.thumbs) == 24
    sheet = grid.contact_sheet(tmp_path / "sheet.png")
    data = sheet.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 10 * 2**20
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        text = dict(img.text)  # the sheet explains itself too
    assert 6 * 256 < width < 4000 and 4 * 256 < height < 4000
    assert "24 credits" in text["Description"] and "seed" in text["Description"]
    assert session.sandbox is not None and session.sandbox.api_key.encode() not in data


async def test_html_sheet_embeds_images_and_no_url_or_key(session: Session, tmp_path: Path) -> None:
    grid = await PromptGrid(["a fox", "an owl"], loras=[None, "golden-hour"], seeds=[2]).ready()
    await grid.run()
    # a folder that does not exist yet is made (as grid.save does); a wrong suffix makes none
    with pytest.raises(ValueError, match=r"not 'sheet\.jpg'"):
        grid.contact_sheet(tmp_path / "other" / "sheet.jpg")
    assert not (tmp_path / "other").exists()
    page = grid.contact_sheet(tmp_path / "exports" / "sheets" / "sheet.html").read_text()
    assert page.count("data:image/") == 4 and "<img" in page
    assert "Golden Hour" in page and "a fox" in page and "4 credits" in page
    assert session.base_url not in page and "127.0.0.1" not in page and "localhost" not in page
    assert "token=" not in page and "sig=" not in page.lower() and "http" not in page
    assert session.sandbox is not None and session.sandbox.api_key not in page
    urls = [u for j in grid.batch.jobs for u in j.generation.output_urls]
    assert len(urls) == 4 and not any(u in page for u in urls)


def test_long_labels_wrap() -> None:
    from PIL import ImageFont

    font = ImageFont.load_default(size=14)
    lines = wrap_text(LONG, font, 200)
    assert len(lines) > 3 and all(font.getlength(line) <= 200 for line in lines)
    assert " ".join(lines) == LONG
    assert all(font.getlength(x) <= 60 for x in wrap_text("x" * 80, font, 60))
