"""Type into a GenerationPanel and click Generate, in a real kernel, as JupyterLab sends it.

The widget messages go over a kernel subshell (JupyterLab 4's default for widget comms), so the
keystrokes' callbacks and the click's run on another thread and loop than the cells: the panel
must still make exactly one generation and show its images (issue 14, item 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.kernel.kernelkit import kernel

SETUP = """
from aurous_nb.notebook import session
from aurous_nb.notebook.widgets import GenerationPanel
s = session.connect(sandbox=True, latency=0.05, latency_spread=0.0, time_factor=20)
panel = GenerationPanel(count=2)
display(panel)
await panel.ready()
print(s.base_url, panel.prompt.model_id, panel.generate_button.model_id)
"""

REPORT = """
import json
try:
    await panel.wait()
    waited = None
except Exception as exc:
    waited = f"{type(exc).__name__}: {exc}"[:300]
print(json.dumps({
    "waited": waited,
    "status": panel.record.status if panel.record else None,
    "error": panel.error,
    "errors": panel.errors.value,
    "images": len(panel.images),
    "gallery": len(panel.gallery.children),
    "prompt": panel.record.request.get("prompt") if panel.record else None,
}))
"""


@pytest.mark.parametrize("keys_per_update", [3, 100], ids=["typed", "pasted"])
def test_typing_then_clicking_generate_makes_one_generation(
    tmp_path: Path, keys_per_update: int
) -> None:
    with kernel(tmp_path) as k:
        base_url, prompt_id, button_id = k.run(SETUP).split()
        k.type_into(prompt_id, "a lighthouse on a cliff at dusk", step=keys_per_update)
        k.click(button_id)  # within the debounce of the last keystroke, as a person would
        shown = json.loads(k.run(REPORT))
        generations = httpx.get(f"{base_url}/_sandbox/ledger").json()["generations"]
    assert shown["waited"] is None and shown["error"] is None and shown["errors"] == "", shown
    assert shown["status"] == "succeeded" and shown["prompt"] == "a lighthouse on a cliff at dusk"
    assert shown["images"] == 2 and shown["gallery"] == 2
    assert len(generations) == 1
