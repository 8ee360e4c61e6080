"""The short public module names people import resolve to the one module at its layered home."""

from __future__ import annotations

import subprocess
import sys

import aurous_nb


def run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_every_short_name_is_its_home_module() -> None:
    code = (
        "import importlib, aurous_nb\n"
        "for short, home in aurous_nb.PUBLIC.items():\n"
        "    a = importlib.import_module('aurous_nb.' + short)\n"
        "    assert a is importlib.import_module(home), short\n"
        "    assert a.__name__ == home and a.__spec__.name == home, short\n"
        "    assert getattr(aurous_nb, short) is a, short\n"
        "print('ok')"
    )
    assert run(code) == "ok"


def test_documented_imports_keep_working_and_load_each_module_once() -> None:
    code = (
        "import sys\n"
        "from aurous_nb import session, frames\n"
        "from aurous_nb.widgets import GenerationPanel\n"
        "import aurous_nb.widgets.panel as short\n"
        "from aurous_nb.notebook.widgets import panel as home\n"
        "assert short is home and GenerationPanel is home.GenerationPanel\n"
        "mods = {id(m): m for m in list(sys.modules.values())}.values()\n"
        "files = [m.__file__ for m in mods if getattr(m, '__file__', None)]\n"
        "assert len(files) == len(set(files)), 'a module was loaded twice'\n"
        "print(session.__name__, frames.__name__)"
    )
    assert run(code) == "aurous_nb.notebook.session aurous_nb.analysis.frames"


def test_an_unknown_name_is_still_an_error() -> None:
    code = "try:\n    import aurous_nb.framez\nexcept ModuleNotFoundError as e:\n    print(e.name)"
    assert run(code) == "aurous_nb.framez"
    assert "frames" in dir(aurous_nb)
