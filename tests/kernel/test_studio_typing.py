"""Type a description into a CharacterStudio and click Synthesize twice, in a real kernel, over
the widget subshell as JupyterLab sends it: one character is bought, with what was typed, and
its four poses are shown."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.kernel.kernelkit import kernel

SETUP = """
from aurous_nb.notebook import session
from aurous_nb.notebook.widgets import CharacterStudio
s = session.connect(sandbox=True, latency=0.05, latency_spread=0.0, time_factor=20)
studio = CharacterStudio()
display(studio)
await studio.ready()
print(s.base_url, studio.name.model_id, studio.fields["hair_color"].model_id,
      studio.fields["age"].model_id, studio.synth_button.model_id)
"""

REPORT = """
import json
try:
    await studio.wait()
    waited = None
except Exception as exc:
    waited = f"{type(exc).__name__}: {exc}"[:300]
c = studio.character
print(json.dumps({
    "waited": waited,
    "error": studio.error,
    "status": c.status if c else None,
    "name": c.name if c else None,
    "attributes": c.attributes if c else None,
    "previews": len(studio.previews),
}))
"""


def test_typing_then_clicking_synthesize_twice_buys_one_character(tmp_path: Path) -> None:
    with kernel(tmp_path) as k:
        base_url, name_id, hair_id, age_id, button_id = k.run(SETUP).split()
        k.type_into(name_id, "Mira")
        k.type_into(hair_id, "black")
        k.type_into(age_id, "28")
        k.click(button_id)
        k.click(button_id)  # a double click
        shown = json.loads(k.run(REPORT))
        book = httpx.get(f"{base_url}/_sandbox/ledger").json()
    assert shown["waited"] is None and shown["error"] is None, shown
    assert shown["status"] == "reviewing" and shown["name"] == "Mira"
    assert shown["attributes"] == {"hair_color": "black", "age": 28}
    assert shown["previews"] == 4
    [char] = book["characters"]
    assert char["rounds"] == 1 and char["credits_charged"] == 4
