"""Interactive panels for notebooks (ipywidgets 8): generate, explore a grid, watch spend, browse
styles, make characters.

Names load on first use, so ``import aurous_nb.notebook.widgets`` stays cheap; nothing else in
``aurous_nb`` imports this package at module level.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["CharacterStudio", "CostDashboard", "GenerationPanel", "LoraBrowser", "PromptGrid"]

_LAZY = {
    "GenerationPanel": "aurous_nb.notebook.widgets.panel",
    "PromptGrid": "aurous_nb.notebook.widgets.grid",
    "CostDashboard": "aurous_nb.notebook.widgets.dashboard",
    "LoraBrowser": "aurous_nb.notebook.widgets.loras",
    "CharacterStudio": "aurous_nb.notebook.widgets.studio",
}

if TYPE_CHECKING:
    from aurous_nb.notebook.widgets.dashboard import CostDashboard as CostDashboard
    from aurous_nb.notebook.widgets.grid import PromptGrid as PromptGrid
    from aurous_nb.notebook.widgets.loras import LoraBrowser as LoraBrowser
    from aurous_nb.notebook.widgets.panel import GenerationPanel as GenerationPanel
    from aurous_nb.notebook.widgets.studio import CharacterStudio as CharacterStudio


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aurous_nb.notebook.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
