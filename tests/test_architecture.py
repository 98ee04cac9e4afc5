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
