"""Build the README's picture from the browser test's screenshots (``make readme-picture``).

The browser test (``make test``) saves real JupyterLab screenshots under ``build/screenshots/``;
this stacks the panel and the grid into one small PNG for the README.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

SHOTS = Path("build/screenshots")
OUT = Path("docs/screenshot.png")
WIDTH = 880


def main() -> int:
    parts = [SHOTS / "panel.png", SHOTS / "grid.png"]
    missing = [str(p) for p in parts if not p.exists()]
    if missing:
        print(f"missing {', '.join(missing)}: run `make browser` first", file=sys.stderr)
        return 1
    images = []
    for path in parts:
        with Image.open(path) as img:
            scale = WIDTH / img.width
            images.append(
                img.convert("RGB").resize((WIDTH, round(img.height * scale)), Image.LANCZOS)
            )
    gap = 16
    sheet = Image.new("RGB", (WIDTH, sum(i.height for i in images) + gap), "white")
    y = 0
    for img in images:
        sheet.paste(img, (0, y))
        y += img.height + gap
    OUT.parent.mkdir(exist_ok=True)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
