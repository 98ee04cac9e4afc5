"""The layers hold: faces -> services -> capabilities -> storage (read from the source files).

Faces (the CLI, the HTTP API, the dashboard, the demo) import only the services, the engine
that composes them, the errors and the plain event data types; capabilities never import a
face, the services or the engine. A new import that crosses a layer fails here with the file
and the module named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import omotenashi

PACKAGE = Path(omotenashi.__file__).resolve().parent
FACES = ("cli", "api", "demo", "dashboard")
#: The top of the package: faces, the service layer and the composition root; every other
#: package or module (capabilities, storage, events, errors, testing ...) lies below them.
UPPER = ("services", "engine", "__init__", "__main__", *FACES)


def _below() -> list[str]:
    """Every package or module below the services (new capability packages included)."""
    parts = [p.stem if p.suffix == ".py" else p.name for p in PACKAGE.iterdir()]
    found = [
        name
        for name in parts
        if name not in UPPER
        and not name.startswith((".", "_"))
        and (
            (PACKAGE / name).is_dir()
            and (PACKAGE / name / "__init__.py").exists()
            or (PACKAGE / f"{name}.py").exists()
        )
    ]
    return sorted(set(found))


#: What a face may import: the service layer, the composition root, errors, event data types,
#: and the faces themselves (the CLI starts the demo and the server).
FACE_ALLOWED = ("services", "engine", "errors", "events", "__version__", *FACES)


def _files(part: str) -> list[Path]:
    path = PACKAGE / part
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def _imports(file: Path) -> list[str]:
    """Every ``omotenashi.X`` module a file imports (X is the first part below the package)."""
    found = []
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "omotenashi":
                names = [f"omotenashi.{a.name}" for a in node.names]
            else:
                names = [node.module]
        else:
            continue
        found += [n.split(".")[1] for n in names if n.startswith("omotenashi.")]
    return found


def test_faces_import_only_the_services_the_engine_errors_and_event_types() -> None:
    crossing = [
        f"{file.relative_to(PACKAGE)} imports omotenashi.{name}"
        for face in FACES
        for file in _files(face)
        for name in _imports(file)
        if name not in FACE_ALLOWED
    ]
    assert crossing == []


def test_capabilities_know_nothing_of_faces_services_or_the_engine() -> None:
    below = _below()
    assert {"recommend", "value", "decisions", "identity", "profiles", "storage"} <= set(below)
    upward = {"services", "engine", *FACES}
    crossing = [
        f"{file.relative_to(PACKAGE)} imports omotenashi.{name}"
        for part in below
        for file in _files(part)
        for name in _imports(file)
        if name in upward
    ]
    assert crossing == []


def test_services_never_import_a_face() -> None:
    crossing = [
        f"{file.relative_to(PACKAGE)} imports omotenashi.{name}"
        for file in _files("services")
        for name in _imports(file)
        if name in FACES
    ]
    assert crossing == []
