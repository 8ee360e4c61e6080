"""LoRA preview thumbnails come from a CDN the API names: read them as untrusted answers too.

The panel, the grid and the LoraBrowser fetch every preview of the catalogue; a preview URL that
answers 300 MB (or never ends) must cost a bounded read and show no picture, not fill memory.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

import hostile

from aurous_nb.widgets import _catalog

MiB = 1 << 20


def test_a_huge_preview_is_refused_in_bounded_memory(home: Path) -> None:
    with hostile.Hostile() as server:
        server.on("GET", "/huge", lambda ex: hostile.flood(300_000_000, length=False))
        server.on("GET", "/small", lambda ex: hostile.reply(hostile.png(4, 4)))
        tracemalloc.start()
        try:
            huge, small = asyncio.run(
                _catalog.previews([f"{server.base_url}/huge.png", f"{server.base_url}/small.png"])
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        server.settle()
    assert huge is None and small is not None  # the huge one shows no picture; the other does
    assert peak < 64 * MiB  # before: read whole (+300 MB)
    assert server.unsent > 200_000_000  # the client hung up long before the end
    assert not list((home / "previews").glob("*.part"))
