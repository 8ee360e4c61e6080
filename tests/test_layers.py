"""The layers of the package: every import points down (or sideways), never back up.

Read from the source with ``ast`` (imports inside functions too), so a lazy import that crosses
a layer the wrong way fails here instead of in a review.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "aurous_nb"
# Lower numbers sit lower; a module may import its own layer or any lower one.
RANK = {"shared": 0, "client": 1, "store": 2, "work": 3, "analysis": 4, "notebook": 5}
SHARED = {"canonical", "config", "secret", "statuses", "text", "timestamps"}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in SHARED:
        return "shared"
    if parts[1] == "webhooks":
        return "client"  # the public alias of client.webhooks
    return parts[1]


def imports_of(path: Path) -> list[str]:
    module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in found if name.startswith("aurous_nb.")]


def modules() -> list[Path]:
    skip = {"labextension", "__pycache__"}
    return [p for p in ROOT.rglob("*.py") if not skip & set(p.parts) and p != ROOT / "__init__.py"]


def test_every_import_points_down() -> None:
    upward = []
    for path in modules():
        here = layer_of(".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
        for name in imports_of(path):
            there = layer_of(name)
            if here == "sandbox":
                ok = there == "sandbox" or name.startswith("aurous_nb.secret")
            else:
                ok = there != "sandbox" or here == "notebook" or name == "aurous_nb.sandbox"
                ok = ok and RANK.get(there, 0) <= RANK[here]
            if not ok:
                upward.append(f"{path.relative_to(ROOT)} ({here}) imports {name} ({there})")
    assert upward == []


def test_the_sandbox_stands_alone() -> None:
    names = {n for p in (ROOT / "sandbox").rglob("*.py") for n in imports_of(p)}
    outside = {n.rpartition(".")[0] if n.count(".") > 1 else n for n in names}
    assert {n for n in outside if not n.startswith("aurous_nb.sandbox")} <= {"aurous_nb.secret"}
