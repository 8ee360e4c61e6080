"""Running a cell the way a person does, for tests that drive ``%aurous`` in an IPython shell."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell


def run(ip: InteractiveShell, capsys: pytest.CaptureFixture[str], source: str) -> tuple[Any, str]:
    """Run a cell; return (its result, everything it printed)."""
    capsys.readouterr()
    result = ip.run_cell(source)
    out = capsys.readouterr()
    return result, out.out + out.err
