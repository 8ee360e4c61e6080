"""The prebuilt JupyterLab extension: current with its source, installed, and in step with Python.

The extension (``labextension/``, built into ``aurous_nb/labextension/`` and committed) is what
shows a widget's static copy when its model is gone; these checks need no npm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aurous_nb.notebook.widgets._base import STATIC_MIME

ROOT = Path(__file__).resolve().parents[1]
STAMP_SCRIPT = ROOT / "scripts" / "labextension_stamp.py"
BUILT = ROOT / "aurous_nb" / "labextension"
INSTALLED = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "aurous-nb"


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STAMP_SCRIPT), "--check", "--root", str(root)],
        capture_output=True,
        text=True,
    )


def test_prebuilt_extension_matches_its_source() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("edit", "stale"),
    [("labextension/src/index.ts", "source"), ("aurous_nb/labextension/package.json", "output")],
)
def test_a_source_edit_without_a_rebuild_is_caught(tmp_path: Path, edit: str, stale: str) -> None:
    for part in ("labextension", "aurous_nb/labextension"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("node_*"))
    assert check(tmp_path).returncode == 0
    with (tmp_path / edit).open("a") as handle:
        handle.write("\n")
    result = check(tmp_path)
    assert result.returncode == 1 and f"({stale} changed" in result.stderr
    assert "make labextension" in result.stderr


def test_the_venv_serves_the_committed_build() -> None:
    """`pip install -e .` (and the wheel) put the build where JupyterLab looks for it."""
    built = {p.relative_to(BUILT) for p in BUILT.rglob("*") if p.is_file()}
    for rel in built:
        assert (INSTALLED / rel).read_bytes() == (BUILT / rel).read_bytes(), (
            f"{rel} differs from the committed build: run `make install`"
        )
    assert json.loads((INSTALLED / "install.json").read_text())["packageName"] == "aurous-nb"
    # Where JupyterLab looks (what `jupyter labextension list` walks), in the same order.
    from jupyter_core.paths import jupyter_path

    assert str(INSTALLED.parent) in jupyter_path("labextensions")


def test_python_and_the_extension_name_the_same_mimetype_and_trait() -> None:
    load = json.loads((BUILT / "package.json").read_text())["jupyterlab"]["_build"]["load"]
    code = "".join(p.read_text() for p in (BUILT / "static").glob("*.js"))
    assert (BUILT / load).is_file()
    assert f'"{STATIC_MIME}"' in code and '"_static_html"' in code
