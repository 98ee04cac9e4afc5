"""Versioned model artefacts: one directory per trained model, arrays in ``.npz``, the rest JSON.

No pickle: an artefact can be inspected with any npz/JSON reader and loading it cannot run code.
Layout: ``<root>/models/<name>/v<N>/{arrays.npz, meta.json, catalog.json}``.

A version appears whole or not at all: it is written into a hidden folder beside the versions
and renamed to ``v<N>`` in one step, so a server polling for new versions (from another process)
never loads, or swaps in, half a model. Readers still take only versions with ``meta.json`` (a
folder left by an older release killed mid-save is skipped, not served as "no model").
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from omotenashi.errors import NotFound
from omotenashi.recommend._base import Recommender, unliked_matrix
from omotenashi.recommend._catalog import ItemCatalog
from omotenashi.storage import FolderArtefacts

FORMAT_VERSION = 1
_BASE = ("user_items_", "user_ages_", "item_popularity_")
#: Saved since customers' unliked items are kept apart (weight-0 interactions); an artefact
#: saved before has none.
_UNLIKED = ("unliked_user_ids_", "user_unliked_")


def _pack(prefix: str, value: Any, out: dict[str, np.ndarray]) -> None:
    if sp.issparse(value):
        m = sp.csr_matrix(value)
        out[f"{prefix}::csr_data"] = m.data
        out[f"{prefix}::csr_indices"] = m.indices
        out[f"{prefix}::csr_indptr"] = m.indptr
        out[f"{prefix}::csr_shape"] = np.array(m.shape)
    else:
        arr = np.asarray(value)
        out[prefix] = arr.astype(str) if arr.dtype == object else arr


def _unpack(arrays) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in arrays.files:
        if "::csr_" in key:
            name, part = key.split("::csr_")
            if part != "data":
                continue
            out[name] = sp.csr_matrix(
                (arrays[key], arrays[f"{name}::csr_indices"], arrays[f"{name}::csr_indptr"]),
                shape=tuple(arrays[f"{name}::csr_shape"]),
            )
        else:
            out[key] = arrays[key]
    return out


_SAVING = ".saving-"


def _next_version(directory: Path) -> int:
    versions = [int(p.name[1:]) for p in directory.glob("v*") if p.name[1:].isdigit()]
    return max(versions, default=0) + 1


def latest_version(directory: Path) -> int | None:
    """The newest version under one model's folder that was saved whole, or None."""
    numbers = sorted(
        (int(p.name[1:]) for p in directory.glob("v*") if p.name[1:].isdigit()), reverse=True
    )
    for number in numbers:
        if (directory / f"v{number}" / "meta.json").is_file():
            return number
    return None


def _remove_stale_saves(directory: Path) -> None:
    """Delete hidden folders of saves whose process no longer runs (killed mid-save)."""
    for stale in directory.glob(f"{_SAVING}*"):
        try:
            pid = int(stale.name[len(_SAVING) :].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue


def save_model(
    model: Recommender, root: str | os.PathLike, *, metadata: dict[str, Any] | None = None
) -> Path:
    """Save a fitted model as a new version under ``root/models/<name>/``.

    Parameters
    ----------
    model : Recommender
        A fitted model.
    root : path
        Artefact root (the store's directory).
    metadata : dict, optional
        Extra JSON-serialisable facts (metrics, data source ...).

    Returns
    -------
    pathlib.Path
        The new version's directory.
    """
    model._check_fitted()
    base = Path(root) / "models" / model.name
    base.mkdir(parents=True, exist_ok=True)
    _remove_stale_saves(base)
    target = base / f"{_SAVING}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    target.mkdir()
    try:
        return _publish(_write_version(model, target, metadata), base)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _publish(folder: Path, base: Path) -> Path:
    """Rename a fully written version folder to the next free ``v<N>`` (one step); its
    ``meta.json`` gets the number it was published under."""
    while True:
        version = _next_version(base)
        meta_file = folder / "meta.json"
        meta = json.loads(meta_file.read_text())
        meta["version"] = version
        meta_file.write_text(json.dumps(meta, indent=2, default=str))
        target = base / f"v{version}"
        try:
            os.rename(folder, target)  # fails when another process took this number
        except OSError:
            if not target.exists():
                raise
            continue
        return target


def _write_version(model: Recommender, target: Path, metadata: dict[str, Any] | None) -> Path:
    arrays: dict[str, np.ndarray] = {}
    _pack("user_ids", model.user_ids_, arrays)
    _pack("item_ids", model.item_ids_, arrays)
    for attr in _BASE + _UNLIKED:
        _pack(attr, getattr(model, attr), arrays)
    for key, value in model._state().items():
        _pack(f"state.{key}", value, arrays)
    np.savez(target / "arrays.npz", **arrays)  # uncompressed: loads fast
    cat = model.catalog_
    catalog = {
        "titles": [str(t) for t in cat.titles],
        "categories": cat.categories,
        "tags": cat.tags,
        "attributes": [{k: v for k, v in a.items() if _jsonable(v)} for a in cat.attributes],
        "descriptions": cat.descriptions,
    }
    (target / "catalog.json").write_text(json.dumps(catalog))
    meta = {
        "format": FORMAT_VERSION,
        "model": model.name,
        "version": None,  # set when published
        "params": model.get_params(),
        "n_users": len(model.user_ids_),
        "n_items": len(model.item_ids_),
        "n_interactions": int(model.user_items_.nnz),
        "data_range": list(model.data_range_),
        # whether the reasons' weights add up to the scores (else each answer says what share)
        "exact_reasons": bool(model.exact_reasons),
        **(metadata or {}),
    }
    (target / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    return target


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def list_versions(root: str | os.PathLike, name: str | None = None) -> list[dict[str, Any]]:
    """Metadata of every saved model version (optionally of one model), oldest first."""
    base = Path(root) / "models"
    metas = []
    for meta_file in sorted(base.glob(f"{name or '*'}/v*/meta.json")):
        meta = json.loads(meta_file.read_text())
        meta["path"] = str(meta_file.parent)
        metas.append(meta)
    return sorted(metas, key=lambda m: (m.get("saved_at", ""), m["model"], m["version"]))


def load_model(
    root: str | os.PathLike, name: str | None = None, version: int | None = None
) -> tuple[Recommender, dict[str, Any]]:
    """Load a saved model: the given name/version, else the latest saved default.

    Parameters
    ----------
    root : path
        Artefact root.
    name : str, optional
        Model name; None takes the model ``omotenashi train`` marked as default.
    version : int, optional
        Version number; None takes the latest.

    Returns
    -------
    (Recommender, dict)
        The model and its metadata.

    Raises
    ------
    NotFound
        Nothing saved that matches.
    """
    from omotenashi.recommend._registry import make_model

    root = Path(root)
    if name is None:
        default = root / "models" / "DEFAULT"
        if not default.exists():
            raise NotFound(f"no trained model under {root}; run `omotenashi train` first")
        name = default.read_text().strip()
    base = root / "models" / name
    if version is None:
        version = latest_version(base)  # a version still being written is not a version yet
        if version is None:
            raise NotFound(f"no saved version of model {name!r}")
    target = base / f"v{version}"
    if not (target / "meta.json").exists():
        raise NotFound(f"model {name!r} has no version {version}")
    meta = json.loads((target / "meta.json").read_text())
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
    model = make_model(meta["model"], **params)
    with np.load(target / "arrays.npz", allow_pickle=False) as npz:
        arrays = _unpack(npz)
    model.user_ids_ = arrays.pop("user_ids").astype(object).astype(str)
    model.item_ids_ = arrays.pop("item_ids").astype(object).astype(str)
    for attr in _BASE:
        setattr(model, attr, arrays.pop(attr))
    if _UNLIKED[0] in arrays:
        model.unliked_user_ids_ = arrays.pop(_UNLIKED[0]).astype(object).astype(str)
        model.user_unliked_ = arrays.pop(_UNLIKED[1])
    else:
        model.unliked_user_ids_, model.user_unliked_ = unliked_matrix(None, model.item_ids_)
    model.data_range_ = tuple(meta.get("data_range", (None, None)))
    model._set_index()
    catalog = json.loads((target / "catalog.json").read_text())
    model.catalog_ = _catalog_from_json(model.item_ids_, catalog)
    state = {k[len("state.") :]: v for k, v in arrays.items() if k.startswith("state.")}
    model._load_state(state)
    for part in getattr(model, "models_", []):
        part.user_ids_, part.item_ids_ = model.user_ids_, model.item_ids_
        for attr in _BASE + _UNLIKED:
            setattr(part, attr, getattr(model, attr))
        part.catalog_, part.data_range_ = model.catalog_, model.data_range_
        part._set_index()
    meta["path"] = str(target)
    return model, meta


def _catalog_from_json(item_ids: np.ndarray, data: dict[str, Any]) -> ItemCatalog:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "item_id": item_ids,
            "title": data["titles"],
            "categories": data["categories"],
            "tags": data["tags"],
            "description": data["descriptions"],
            "attributes": data["attributes"],
        }
    )
    return ItemCatalog(item_ids, frame)


def set_default(root: str | os.PathLike, name: str) -> None:
    """Mark ``name`` as the model that ``load_model(root)`` returns."""
    # servers poll this file from other processes: replace it in one step, never half-written
    FolderArtefacts(root).atomic_write(Path("models") / "DEFAULT", name + "\n")
