"""The import contracts in pyproject.toml (``[tool.importlinter]``) hold.

They keep the arrows of docs/architecture.md pointing one way: faces -> services -> capabilities
-> storage, no cycle between capability packages, database drivers and concrete backends only
inside ``storage``, no web or CLI framework below the faces. A broken contract fails here with
import-linter's report (which module imports which, and on what line).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "import-linter is a dev dependency: pip install -e '.[dev]'"
    run = subprocess.run(
        [command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_package_reaches_into_another_packages_private_modules() -> None:
    """``omotenashi.x._impl`` is imported only inside ``x``; elsewhere ``omotenashi.x`` names it."""
    import ast

    source = ROOT / "src" / "omotenashi"
    crossing = []
    for file in sorted(source.rglob("*.py")):
        parts = file.relative_to(source).parts
        own = parts[0] if len(parts) > 1 else None
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                dotted = name.split(".")
                if dotted[0] != "omotenashi" or len(dotted) < 3 or dotted[1] == own:
                    continue
                if any(part.startswith("_") for part in dotted[2:]):
                    crossing.append(f"{file.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not crossing, "\n".join(crossing)
