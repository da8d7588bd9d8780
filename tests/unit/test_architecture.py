"""The import directions of DESIGN.md beyond what the import-linter contracts in pyproject.toml
can say: the edge core never reaches the wiring, and the contracts catch a wrong import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("edge", "drivers", "sync", "provisioning", "ui_kiosk")
WIRING = ("edge.service", "edge.cli")


def _is_wiring(module: str) -> bool:
    return any(module == w or module.startswith(w + ".") for w in WIRING)


def test_edge_core_never_imports_the_wiring() -> None:
    graph = grimp.build_graph(*ROOMS)
    core = [m for m in graph.find_descendants("edge") if not _is_wiring(m)]
    assert core, "found no core modules: is the edge package importable?"
    chains = []
    for module in core:
        for wiring in WIRING:
            if wiring in graph.modules:
                chain = graph.find_shortest_chain(importer=module, imported=wiring)
                if chain:
                    chains.append(" -> ".join(chain))
    assert chains == []


def test_import_contracts_reject_a_core_module_that_imports_a_driver(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for room in ROOMS:
        shutil.copytree(ROOT / room, tree / room, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    (tree / "edge" / "wrong_room.py").write_text("import drivers\n")
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode != 0
    assert "edge.wrong_room -> drivers" in result.stdout
