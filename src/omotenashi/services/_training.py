"""Model training and swapping: train a store's recommenders, and load them as one set.

``train`` compares, tunes, fits, versions and saves the default recommender (and the session
model) of a store. ``train_job`` is what a server runs in a separate process, so serving threads
never wait for it. A training job trains the default recommender and the session model
(``train``) and a bought-together model when the store has orders, then saves them as new
versions. Servers notice new versions on disk and swap them in (``Recommendations.reload``); so
a model trained by ``omotenashi train`` from the command line is picked up the same way. A lock
file keeps two server processes from training the same workspace at once
(``store.artefacts.lock``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from omotenashi.errors import DataError, NotFound
from omotenashi.recommend import (
    EventWeights,
    Recommender,
    interactions_from_events,
    latest_version,
    load_model,
    make_model,
    save_model,
    sessionize,
    set_default,
)
from omotenashi.storage import LockHeld

#: Model answering ``/items/{id}/bought-together`` (fitted on orders).
TOGETHER_MODEL = "together"
#: Session model trained next to the default model for anonymous visits.
SESSION_MODEL = "sknn"
#: Models compared on the customer's own data when ``train`` is given no model name.
AUTO_CANDIDATES: tuple[str, ...] = ("recent_ease", "itemknn", "als", "popularity")


class StoreLike(Protocol):
    """What training and recommending need from an engine: frames and the artefacts root."""

    root: Any

    def events_frame(self) -> pd.DataFrame: ...

    def items_frame(self) -> pd.DataFrame: ...


def _items(om: StoreLike) -> pd.DataFrame | None:
    items = om.items_frame()
    return items if items is not None and len(items) else None


def _select(
    interactions: pd.DataFrame, items: pd.DataFrame | None, candidates: Sequence[str]
) -> tuple[str, list[dict[str, Any]]]:
    from omotenashi.evaluation import evaluate_topn, split_p1

    try:
        val = split_p1(interactions, min_rating=None, min_positives=5)
    except DataError:
        return candidates[-1], []
    rows = evaluate_topn(val, [(name, make_model(name)) for name in candidates], items=items)
    best = max(rows, key=lambda r: r["ndcg@10"])
    return best["model"], rows


def train(
    om: StoreLike,
    model: str | None = None,
    *,
    tune: bool = False,
    weights: EventWeights | None = None,
    candidates: Sequence[str] = AUTO_CANDIDATES,
    session_model: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train, version and save the default recommender (and the session model) of a store.

    Parameters
    ----------
    om : StoreLike
    model : str, optional
        Model name; None compares ``candidates`` on a validation split cut from the store's own
        data (last 20 % of each customer's interactions) and keeps the best by NDCG@10.
    tune : bool
        Grid-search the chosen model's hyper-parameters on that validation split first.
    weights : EventWeights, optional
        Event-type weights (default :data:`DEFAULT_EVENT_WEIGHTS`).
    candidates : sequence of str
        Models compared when ``model`` is None.
    session_model : bool
        Also train the session model used for anonymous visits.
    progress : callable, optional
        Receives a short message at each step.

    Returns
    -------
    dict
        Metadata of the saved model (``model``, ``version``, ``path``, ``params``,
        ``data_range``, ``metrics``, ``selection``, ``fit_s``).

    Raises
    ------
    DataError
        The store has no usable interactions (empty store).
    """
    from omotenashi.evaluation import TUNE_GRIDS
    from omotenashi.evaluation import tune as tune_grid

    say = progress or (lambda message: None)
    weights = weights or EventWeights()
    events = om.events_frame()
    items = _items(om)
    interactions = interactions_from_events(events, weights)
    if interactions.empty:
        raise DataError("the store has no events with items yet: nothing to train on")
    selection: list[dict[str, Any]] = []
    if model is None:
        say(f"comparing {', '.join(candidates)} on a validation split of your data")
        model, selection = _select(interactions, items, candidates)
    params: dict[str, Any] = {}
    tuning: list[dict[str, Any]] = []
    if tune and model in TUNE_GRIDS:
        say(f"tuning {model} on the validation split")
        try:
            params, tuning = tune_grid(model, interactions, TUNE_GRIDS[model], items=items)
        except DataError:
            params, tuning = {}, []
    say(f"fitting {model} on all {len(interactions):,} interactions")
    estimator = make_model(model, **params)
    start = time.perf_counter()
    estimator.fit(interactions, items)
    fit_s = time.perf_counter() - start
    chosen = next((r for r in selection if r["model"] == model), None)
    best_tuned = max(tuning, key=lambda r: r["ndcg@10"]) if tuning else None
    metrics = best_tuned or chosen
    meta = {
        "saved_at": datetime.now(UTC).isoformat(),
        "fit_s": round(fit_s, 3),
        "metrics": (
            {k: metrics[k] for k in ("ndcg@10", "recall@20", "coverage", "novelty")}
            if metrics
            else None
        ),
        "selection": [
            {"model": r["model"], "ndcg@10": r["ndcg@10"], "recall@20": r["recall@20"]}
            for r in selection
        ],
        "tuned": bool(tuning),
        "event_weights": dict(weights.weights),
    }
    path = save_model(estimator, om.root, metadata=meta)
    set_default(om.root, model)
    result = {"model": model, "version": int(path.name[1:]), "path": str(path), **meta}
    result["params"] = estimator.get_params()
    result["data_range"] = list(estimator.data_range_)
    if session_model:
        say("fitting the session model for anonymous visits")
        sessions = sessionize(events[events["item_id"].notna()])
        if len(sessions):
            frame = sessions.rename(columns={"session_id": "user_id"})[
                ["user_id", "item_id", "timestamp"]
            ]
            sknn = make_model(SESSION_MODEL).fit(frame, items)
            save_model(sknn, om.root, metadata={"saved_at": meta["saved_at"]})
            result["session_model"] = SESSION_MODEL
    return result


def parse_weights(text: str | None) -> EventWeights | None:
    """Event weights from ``view=1,purchase=5`` over the defaults (None for no text)."""
    if not text:
        return None
    from omotenashi.files import parse_column_map

    table = {k: float(v) for k, v in parse_column_map(text).items()}
    return EventWeights(weights={**EventWeights().weights, **table})


class Training:
    """Training of one engine's models (saved under its artefacts root, swapped in by servers)."""

    def __init__(self, om: StoreLike) -> None:
        self._om = om

    def train(
        self,
        model: str | None = None,
        *,
        tune: bool = False,
        weights: EventWeights | str | None = None,
        candidates: Sequence[str] = AUTO_CANDIDATES,
        session_model: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """See :func:`train`; ``weights`` may also be text such as ``view=1,purchase=5``."""
        if isinstance(weights, str):
            weights = parse_weights(weights)
        return train(
            self._om,
            model,
            tune=tune,
            weights=weights,
            candidates=candidates,
            session_model=session_model,
            progress=progress,
        )

    def job(self, model: str | None = None) -> dict[str, Any]:
        """What a server's background training does, run here (see :func:`train_job`)."""
        return train_job(self._om.url, model)  # type: ignore[attr-defined]


def train_job(db_url: str, model: str | None) -> dict[str, Any]:
    """Train the models of one store (runs in a child process).

    Parameters
    ----------
    db_url : str
        The workspace's store.
    model : str, optional
        Default model to train; None lets ``train`` choose on the store's data.

    Returns
    -------
    dict
        ``model``, ``version``, ``fit_s``, ``together`` (orders seen) or ``skipped`` (another
        process is training) or ``error``.
    """
    from omotenashi.services._engine import Omotenashi

    start = time.perf_counter()
    om = Omotenashi(db_url, create=False)
    try:
        root = Path(om.root)
        with ExitStack() as held:
            try:
                held.enter_context(om.store.artefacts.lock("train", wait=False))
            except LockHeld:
                return {"skipped": "another process is training this workspace"}
            try:
                info = train(om, model)
            except DataError as exc:
                return {"error": str(exc)}
            result = {"model": info["model"], "version": info["version"]}
            events = om.events_frame(["purchase"])
            orders = events[events["order_id"].notna() & events["item_id"].notna()]
            if len(orders):
                frame = orders.rename(columns={"order_id": "user_id"})[
                    ["user_id", "item_id", "timestamp"]
                ]
                items = om.items_frame()
                fitted = make_model(TOGETHER_MODEL).fit(frame, items if len(items) else None)
                save_model(fitted, root, metadata={"orders": int(frame["user_id"].nunique())})
                result["together"] = int(frame["user_id"].nunique())
            result["seconds"] = round(time.perf_counter() - start, 3)
            return json.loads(json.dumps(result, default=str))
    finally:
        om.close()


def models_stamp(root: Path) -> tuple:
    """What changes on disk when a model is saved or a new default is set."""
    models = root / "models"
    default = models / "DEFAULT"
    try:
        marker = (default.read_text().strip(), default.stat().st_mtime_ns)
    except OSError:
        marker = None
    versions = []
    if models.is_dir():
        for folder in sorted(p for p in models.iterdir() if p.is_dir()):
            latest = latest_version(folder)  # saved whole: a version being written is not seen
            if latest is not None:
                versions.append((folder.name, latest))
    return marker, tuple(versions)


class ModelSet:
    """The models an engine serves with, swapped as one reference.

    The default model is loaded with the set; the session and bought-together models are loaded
    on first use (a server's maintenance thread touches them right after a swap, see
    ``Workspace.reload_models``; a command that answers one customer never pays for them).
    """

    def __init__(
        self,
        main: Recommender | None = None,
        meta: dict[str, Any] | None = None,
        session: Recommender | None = None,
        together: Recommender | None = None,
        stamp: tuple = (),
        root: Path | None = None,
    ) -> None:
        self.main = main
        self.meta = meta or {}
        self.stamp = stamp
        self._models = {SESSION_MODEL: session, TOGETHER_MODEL: together}
        names = {name for name, _ in stamp[1]} if len(stamp) > 1 else set()
        self._pending = (
            {n for n in (SESSION_MODEL, TOGETHER_MODEL) if n in names and self._models[n] is None}
            if root is not None
            else set()
        )
        self._root = root
        self._lock = threading.Lock()

    def _get(self, name: str) -> Recommender | None:
        if name in self._pending:
            with self._lock:
                if name in self._pending:
                    self._models[name] = load_model(self._root, name)[0]  # type: ignore[arg-type]
                    self._pending.discard(name)
        return self._models[name]

    @property
    def session(self) -> Recommender | None:
        """The session model for anonymous visits (None when none was trained)."""
        return self._get(SESSION_MODEL)

    @property
    def together(self) -> Recommender | None:
        """The bought-together model (None when the store had no orders)."""
        return self._get(TOGETHER_MODEL)

    @property
    def label(self) -> str | None:
        if self.main is None:
            return None
        return f"{self.meta.get('model')}:v{self.meta.get('version')}"

    @classmethod
    def load(cls, root: Path) -> ModelSet:
        """The default model found under ``root``, with its session and bought-together models
        to load on first use."""
        stamp = models_stamp(root)
        try:
            main, meta = load_model(root)
        except NotFound:
            return cls(stamp=stamp)
        return cls(main, meta, stamp=stamp, root=Path(root))


__all__ = [
    "AUTO_CANDIDATES",
    "SESSION_MODEL",
    "TOGETHER_MODEL",
    "ModelSet",
    "Training",
    "models_stamp",
    "parse_weights",
    "train",
    "train_job",
]
