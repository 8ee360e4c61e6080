"""Reads beyond one API answer, as untrusted as the answers themselves.

LoRA preview thumbnails come from a CDN the API names: the panel, the grid and the LoraBrowser
fetch every one, so a preview that answers 300 MB must cost a bounded read and show no picture.
A paginated list follows the server's cursors: one that never moves must end, not page for ever.
"""

from __future__ import annotations

import asyncio
import itertools
import tracemalloc
from pathlib import Path

import hostile
import pytest

from aurous_nb.client import Client, InvalidResponseError
from aurous_nb.notebook.widgets import _catalog

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


def test_a_list_whose_cursor_never_moves_ends_with_a_typed_error() -> None:
    """``has_more`` for ever on the same cursor: before, ``images.list()`` asked for ever."""
    with hostile.Hostile() as server:
        page = {
            "data": [hostile.generation(server, "img_AAAA")],
            "has_more": True,
            "next_cursor": "img_AAAA",
        }
        server.on("GET", "/v1/images", lambda ex: hostile.json_reply(page))
        key = "al_live_" + "h" * 40
        with (
            Client(api_key=key, base_url=server.base_url) as client,
            pytest.raises(InvalidResponseError, match="cursor"),
        ):
            list(itertools.islice(client.images.list(), 50))  # before: 50 pages, and on
        server.settle()
    assert server.requests["GET /v1/images"] == 2  # the repeat is seen at once
