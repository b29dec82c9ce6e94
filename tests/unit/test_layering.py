"""The layers of docs/ARCHITECTURE.md, read from the import statements themselves:
the engine (sync/) and the data (models/) never import a window toolkit, and
models/ depends on nothing above it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "sync": {"tkinter", "gui", "sv_ttk", "matplotlib"},
    "models": {"tkinter", "gui", "sv_ttk", "matplotlib", "sync", "pika"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_lower_layer_never_imports_a_higher_one(package):
    files = sorted((ROOT / package).glob("*.py"))
    assert files
    offenders = {f.name: sorted(imported_packages(f) & FORBIDDEN[package]) for f in files}
    assert {name: bad for name, bad in offenders.items() if bad} == {}
