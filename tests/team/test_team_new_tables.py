"""Characters and uploaded references on a team's PostgreSQL ledger, as on the local file."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from PIL import Image

from aurous_nb.client import Client
from aurous_nb.notebook.session import Session
from aurous_nb.sandbox import Sandbox
from aurous_nb.store import characters as character_ledger
from aurous_nb.store.ledger import Ledger
from aurous_nb.work import characters as character_jobs

ATTRS = {"gender": "female", "age": 30, "hair_color": "red"}


def totals(sb: Sandbox) -> dict[str, object]:
    return httpx.get(f"{sb.base_url}/_sandbox/ledger", timeout=30).json()  # type: ignore[no-any-return]


def test_a_synthesis_is_kept_and_reused_on_postgresql(pg_url: str, home: Path) -> None:
    with Sandbox(latency=0.1, credits=100, time_factor=20, rate_limits=False) as sb:
        client = Client(api_key=sb.api_key, base_url=sb.base_url)
        s = Session(client, key_source="sandbox", ledger=Ledger(url=pg_url, user="ana"))
        first = character_jobs.synthesize(s, "Ivy", ATTRS)
        character_jobs.wait(s, first.character)
        again = character_jobs.synthesize(s, "Ivy", ATTRS)
        assert again.how == "reused" and again.character.id == first.character.id
        rows = character_ledger.jobs(s.ledger, s.env)
        assert len(rows) == 1 and len(totals(sb)["characters"]) == 1  # type: ignore[arg-type]
        s.close()


def test_two_sessions_on_postgresql_upload_a_picture_once(
    pg_url: str, home: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "ref.png"
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, format="PNG")
    photo.write_bytes(buf.getvalue())
    with Sandbox(latency=0.05) as sb:
        for user in ("ana", "bo"):
            client = Client(api_key=sb.api_key, base_url=sb.base_url)
            s = Session(client, ledger=Ledger(url=pg_url, user=user))
            s.client.images.create("a fox", reference_images=[photo])
            s.close()
        assert totals(sb)["totals"]["files_uploaded"] == 1  # type: ignore[index]
