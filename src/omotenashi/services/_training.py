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
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from omotenashi.errors import DataError, NotFound
from omotenashi.recommend import (
    EventWeights,
    Recommender,
    interactions_from_events,
    latest_version,
    load_model,
    make_model,
    rating_range,
    save_model,
    sessionize,
    set_default,
)
from omotenashi.storage import LockHeld

if TYPE_CHECKING:
    from omotenashi.services._consent import Consent

#: Model answering ``/items/{id}/bought-together`` (fitted on orders).
TOGETHER_MODEL = "together"
#: Session model trained next to the default model for anonymous visits.
SESSION_MODEL = "sknn"
#: Models compared on the customer's own data when ``train`` is given no model name. ``userknn``
#: joined by the rule of ``benchmarks/userknn_grid.py`` (ml-100k's validation split only), last
#: as it was measured there.
AUTO_CANDIDATES: tuple[str, ...] = (
    "ease",
    "rp3beta",
    "itemknn",
    "als",
    "ials",
    "popularity",
    "userknn",
)


class StoreLike(Protocol):
    """What training needs from an engine: frames, the artefacts root and consent (whose
    ``training_events`` leaves out the people without ``analytics`` consent; required: training
    never assumes everyone agreed)."""

    root: Any
    consent: Consent

    def events_frame(
        self, types: Sequence[str] | None = None, columns: Sequence[str] | None = None
    ) -> pd.DataFrame: ...

    def items_frame(self) -> pd.DataFrame: ...


def _items(om: StoreLike) -> pd.DataFrame | None:
    items = om.items_frame()
    return items if items is not None and len(items) else None


#: Seconds ``train``'s model choice may take (the defaults are scored even past them).
DEFAULT_BUDGET_S = 120.0

#: ``progress(message, done, total)``: a step of training finished (``done`` of ``total``).
TrainingProgress = Callable[[str, int, int], None]


#: The event columns the recommenders learn from (``interactions_from_events``, ``sessionize``)
TRAINING_COLUMNS = ("person_id", "type", "item_id", "timestamp", "rating", "quantity")
#: ... and bought together (orders)
ORDER_COLUMNS = ("person_id", "order_id", "item_id", "timestamp")


def training_events(
    om: StoreLike, types: list[str] | None = None, columns: Sequence[str] = TRAINING_COLUMNS
) -> pd.DataFrame:
    """The store's events that may train models (only ``columns``, read column-wise: a
    training at 20 million events must not hold every event's fifteen fields as Python
    objects): those of people without ``analytics`` consent are left out
    (``om.consent.training_events``), for every model trained."""
    events = om.events_frame(types or None, columns=columns)
    return om.consent.training_events(events)


def _rating_range(events: pd.DataFrame) -> list[float] | None:
    """The lowest and highest rating of the ``rating`` events (None without any): the scale the
    rating threshold is read against."""
    if "rating" not in events.columns:
        return None
    low, high = rating_range(events.loc[events["type"] == "rating", "rating"])
    return None if low is None else [low, high]


def learnt_through(om: StoreLike) -> int | None:
    """The store's last event ``seq`` as a training starts to read the events (None for an
    engine without an event log): the events after it are what the model has not learnt, and
    ``Recommendations`` adds a customer's to their answer until the next training."""
    try:
        log = om.store.events  # type: ignore[attr-defined]
    except AttributeError:  # frames only (a notebook's stand-in for an engine)
        return None
    return int(log.last_seq())


def train(
    om: StoreLike,
    model: str | None = None,
    *,
    tune: bool = False,
    budget: float = DEFAULT_BUDGET_S,
    weights: EventWeights | None = None,
    candidates: Sequence[str] = AUTO_CANDIDATES,
    session_model: bool = True,
    progress: TrainingProgress | None = None,
) -> dict[str, Any]:
    """Train, version and save the default recommender (and the session model) of a store.

    Parameters
    ----------
    om : StoreLike
    model : str, optional
        Model name; None tunes each of ``candidates`` on a validation split cut from the store's
        own data (last 20 % of each customer's interactions) within ``budget`` seconds and keeps
        the best by NDCG@10, or the blend of the best (``hybrid``: the two best, and more parts
        added while they help) when it scores higher on the same split (see
        :func:`omotenashi.evaluation.select_model`).
    tune : bool
        With a ``model`` name: tune that model's hyper-parameters the same way first.
    budget : float
        Seconds the model choice may take, counted from its start (every candidate's
        defaults are scored even past them; 0: no tuning). A step of the search that runs
        longer than estimated can take the choice past it by that step's excess (see
        :func:`omotenashi.evaluation.select_model`). The session model's own search gets the
        same number of seconds after it (``SessionKNN.tune_budget_s``).
    weights : EventWeights, optional
        Event-type weights (default :data:`DEFAULT_EVENT_WEIGHTS`).
    candidates : sequence of str
        Models compared when ``model`` is None.
    session_model : bool
        Also train the session model used for anonymous visits.
    progress : callable, optional
        Receives ``(message, done, total)`` after each step (``total`` may shrink when the
        search finds it needs fewer steps).

    Returns
    -------
    dict
        Metadata of the saved model (``model``, ``version``, ``path``, ``params``,
        ``data_range``, ``metrics``, ``selection`` (the validation table: one row per candidate
        with its tuned settings, and one for the blend when it was scored: its parts and weights),
        ``tuning`` (recency test, blend, validation sizes, time), ``fit_s``, ``event_weights``,
        ``rating_threshold`` and ``rating_unit`` (as set for the ratings' scale:
        ``EventWeights.on_scale``), ``rating_weights``, ``rating_range`` (the lowest and highest
        rating), ``events_seq`` (the last event learnt), ``unliked_pairs`` (pairs kept as seen only:
        rated below the threshold, returned); with the session model ``session``: its
        sessions, fit time, the settings it chose and its search's record, or ``model`` None
        and why it was ``skipped`` (no visits: :data:`MAX_MEDIAN_VISIT`)).

    Raises
    ------
    DataError
        The store has no usable interactions (empty store), or an unknown model name.
    """
    from omotenashi.evaluation import select_model

    if not budget >= 0:
        raise DataError(f"budget must be >= 0 seconds, got {budget}", field="budget")
    events_seq = learnt_through(om)  # before the read: a later event is never taken as learnt
    events = training_events(om)
    scale = _rating_range(events)
    # a threshold and unit left open are set for the ratings' own scale, and saved as set: the
    # live path weighs one event at a time, with no scale to read
    weights = (weights or EventWeights()).on_scale(*(scale or (None, None)))
    items = _items(om)
    # the pairs met but not liked (rated low, returned) are learnt from by no model; the final
    # fit keeps them so that their items count as seen, the model choice needs none of them
    every_pair = interactions_from_events(events, weights, keep_unliked=True)
    liked = every_pair["weight"].to_numpy() > 0
    interactions = every_pair if liked.all() else every_pair[liked]  # no copy when all are
    if interactions.empty:
        raise DataError("the store has no events with items yet: nothing to train on")
    after = 1 + (1 if session_model else 0)
    total = after

    def say(message: str, done: int, of: int) -> None:
        if progress is not None:
            progress(message, done, of)

    def tuning_step(done: int, of: int, message: str) -> None:
        nonlocal total
        total = of + after
        say(message, done, total)

    names = list(candidates) if model is None else ([model] if tune else [])
    selection = None
    params: dict[str, Any] = {}
    if names:
        say(f"tuning {', '.join(names)} on a validation split of your data", 0, total)
        try:
            selection = select_model(
                interactions, names, items=items, budget_s=budget, progress=tuning_step
            )
        except DataError as exc:
            if "validation split" not in str(exc):
                raise
            # too little data to validate on: the simplest candidate, untuned
            model = model or names[-1]
        if selection is not None:
            model, params = selection.model, dict(selection.params)
    assert model is not None
    done = total - after
    say(f"fitting {model} on all {len(interactions):,} interactions", done, total)
    estimator = make_model(model, **params)
    start = time.perf_counter()
    estimator.fit(every_pair, items)
    fit_s = time.perf_counter() - start
    winner = selection.table[0] if selection is not None else None
    meta = {
        "saved_at": datetime.now(UTC).isoformat(),
        "fit_s": round(fit_s, 3),
        "metrics": (
            {k: winner[k] for k in ("ndcg@10", "recall@20", "coverage", "novelty")}
            if winner
            else None
        ),
        "selection": (
            [
                {k: row[k] for k in ("model", "params", "ndcg@10", "recall@20", "default_ndcg@10")}
                | {"trials": row["trials"]}
                | {k: row[k] for k in ("folds_ndcg@10",) if k in row}
                for row in selection.table
            ]
            if selection is not None
            else []
        ),
        "tuned": selection is not None and any(row["trials"] > 1 for row in selection.table),
        "tuning": (
            {k: v for k, v in selection.as_dict().items() if k not in ("model", "params", "table")}
            if selection is not None
            else None
        ),
        "event_weights": dict(weights.weights),
        "rating_threshold": float(weights.rating_threshold),
        "rating_unit": float(weights.rating_unit),
        "rating_weights": (
            None
            if weights.rating_weights is None
            else {str(k): float(v) for k, v in weights.rating_weights.items()}
        ),
        # pairs kept as seen only (not offered back): rated below the threshold, returned
        "unliked_pairs": int(len(every_pair) - len(interactions)),
        "rating_range": scale,
        "events_seq": events_seq,
    }
    path = save_model(estimator, om.root, metadata=meta)
    set_default(om.root, model)
    result = {"model": model, "version": int(path.name[1:]), "path": str(path), **meta}
    result["params"] = estimator.get_params()
    result["data_range"] = list(estimator.data_range_)
    say(f"fitted {model}", done + 1, total)
    if session_model:
        sessions = sessionize(events[events["item_id"].notna()])
        no_visits = _no_visits(sessions)
        if no_visits:
            result["session"] = {"model": None, "skipped": no_visits}
            shutil.rmtree(Path(om.root) / "models" / SESSION_MODEL, ignore_errors=True)
        elif len(sessions):
            frame = sessions.rename(columns={"session_id": "user_id"})[
                ["user_id", "item_id", "timestamp"]
            ]
            # the session model tunes itself within the same budget (0: its defaults)
            sknn = make_model(SESSION_MODEL, tune=budget > 0, tune_budget_s=budget)

            def session_step(scored: int, best: float) -> None:
                say(
                    f"tuning the session model: {scored} settings scored "
                    f"(best HR@20 + MRR@20 {best:.4f})",
                    total - 1,
                    total,
                )

            sknn.tuning_progress = session_step
            say("fitting the session model for anonymous visits", total - 1, total)
            start = time.perf_counter()
            sknn.fit(frame, items)
            sknn.tuning_progress = None
            session_fit_s = time.perf_counter() - start
            save_model(sknn, om.root, metadata={"saved_at": meta["saved_at"]})
            result["session_model"] = SESSION_MODEL
            result["session"] = {
                "model": SESSION_MODEL,
                "sessions": int(sessions["session_id"].nunique()),
                "fit_s": round(session_fit_s, 3),
                "tuned": dict(sknn.tuned_),
                "tuning": dict(sknn.tuning_) or None,
            }
        fitted = (result.get("session") or {}).get("model")
        say(
            "fitted the session model for anonymous visits" if fitted else "no session model",
            total,
            total,
        )
    return result


#: A median visit longer than this is a customer's whole history in one go (times taken from a
#: file's order, a bulk load), not a visit: clickstreams have medians of a few clicks (the
#: diginetica sample: 3), a wholesale shop's visits 16 lines (Online Retail, all customers: p75
#: 29); ml-100k with its rows' order for times gives 65 (every customer rated 20 or more).
MAX_MEDIAN_VISIT = 50
_ANSWERED = "anonymous visits get the main model's answers"


def _no_visits(sessions: pd.DataFrame) -> str | None:
    """Why the store has no visits for a session model to learn from, or None when it has.

    A store whose times say nothing (one time for every row, times taken from a file's order)
    cuts each customer's history into one "visit": told by every event sharing one time, or by
    the visits' length, long where the session model's search is dear. Short ones cost little,
    and anonymous clickstreams with dates for times (no order within a day, but days apart) are
    visits all the same."""
    if sessions.empty:
        return None
    sizes = sessions.groupby("session_id", sort=False).size()
    if len(sizes) > 1 and sessions["timestamp"].nunique() == 1:
        return (
            "every event has the same time (a file imported with one --default-time): no "
            f"event comes before another, so there are no visits to learn from; {_ANSWERED}"
        )
    median = float(sizes.median())
    if median > MAX_MEDIAN_VISIT:
        return (
            f"its {len(sizes):,} visits have a median of {median:.0f} events: whole histories "
            "in one go (one time for every row, or times taken from a file's order?), not "
            f"visits, so there are none to learn from; {_ANSWERED}"
        )
    return None


#: What a refit after an erasure keeps of the newest version's metadata.
_KEPT_ON_REFIT = (
    "event_weights",
    "rating_threshold",
    "rating_unit",
    "rating_weights",
    "metrics",
    "tuned",
)


def saved_weights(meta: dict[str, Any]) -> EventWeights:
    """The event weights a saved model was trained with (five stars' threshold and unit where
    its metadata, written by an older release, does not say)."""
    default = EventWeights().on_scale(None, None)
    table = meta.get("rating_weights")
    return EventWeights(
        weights=meta.get("event_weights") or default.weights,
        rating_threshold=float(meta.get("rating_threshold", default.rating_threshold)),
        rating_unit=float(meta.get("rating_unit", default.rating_unit)),
        rating_weights=None if table is None else {float(k): v for k, v in table.items()},
    )


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
        budget: float = DEFAULT_BUDGET_S,
        weights: EventWeights | str | None = None,
        candidates: Sequence[str] = AUTO_CANDIDATES,
        session_model: bool = True,
        progress: TrainingProgress | None = None,
        rating_threshold: float | None = None,
    ) -> dict[str, Any]:
        """See :func:`train`; ``weights`` may also be text such as ``view=1,purchase=5``;
        ``rating_threshold`` replaces the weights' (ratings below it are not liked: learnt from
        not at all, and not offered back)."""
        if isinstance(weights, str):
            weights = parse_weights(weights)
        if rating_threshold is not None:  # checked by EventWeights
            weights = replace(weights or EventWeights(), rating_threshold=rating_threshold)
        return train(
            self._om,
            model,
            tune=tune,
            budget=budget,
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
        ``model``, ``version``, ``fit_s``, ``together`` (orders seen), ``lapse`` (the patients'
        lapse risk saved, when the store holds patients; ``lapse_error`` when it cannot be
        learnt) or ``skipped`` (another process is training) or ``error``.
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
                return {"error": str(exc), **_lapse_scores(om)}
            result = {"model": info["model"], "version": info["version"]}
            events = training_events(om, ["purchase"], ORDER_COLUMNS)
            orders = events[events["order_id"].notna() & events["item_id"].notna()]
            if len(orders):
                frame = orders.rename(columns={"order_id": "user_id"})[
                    ["user_id", "item_id", "timestamp"]
                ]
                items = om.items_frame()
                fitted = make_model(TOGETHER_MODEL).fit(frame, items if len(items) else None)
                save_model(fitted, root, metadata={"orders": int(frame["user_id"].nunique())})
                result["together"] = int(frame["user_id"].nunique())
            result.update(_lapse_scores(om))
            result["seconds"] = round(time.perf_counter() - start, 3)
            return json.loads(json.dumps(result, default=str))
    finally:
        om.close()


def _lapse_scores(om: Any) -> dict[str, Any]:
    """On a store with patients, save their lapse risk (one patient's recalls, brief and next
    best actions read it): ``{"lapse": ...}``, ``{"lapse_error": why}``, or {} (no patient)."""
    if not om.care.has_patients():
        return {}
    try:
        return {"lapse": om.care.score_lapse_risk()}
    except DataError as exc:
        return {"lapse_error": str(exc)}


def _params(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in meta.get("params", {}).items()}


def _refit(om: StoreLike, name: str, meta: dict[str, Any]) -> Recommender | None:
    """``name`` fitted again on the store as it is now, with the settings of ``meta`` (its
    newest version); None when the store holds nothing it can learn from any more."""
    items = _items(om)
    if name == TOGETHER_MODEL:
        events = om.events_frame(["purchase"], columns=ORDER_COLUMNS)
        orders = events[events["order_id"].notna() & events["item_id"].notna()]
        if orders.empty:
            return None
        frame = orders.rename(columns={"order_id": "user_id"})[["user_id", "item_id", "timestamp"]]
        return make_model(name, **_params(meta)).fit(frame, items)
    events = om.events_frame(columns=TRAINING_COLUMNS)
    if name == SESSION_MODEL:
        sessions = sessionize(events[events["item_id"].notna()])
        if sessions.empty:
            return None
        frame = sessions.rename(columns={"session_id": "user_id"})[
            ["user_id", "item_id", "timestamp"]
        ]
        return make_model(name, **_params(meta)).fit(frame, items)
    interactions = interactions_from_events(events, saved_weights(meta), keep_unliked=True)
    if not (interactions["weight"].to_numpy() > 0).any():
        return None
    return make_model(name, **_params(meta)).fit(interactions, items)


def retrain_saved(om: StoreLike, *, note: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Fit every saved model again on the store as it is now, each with the settings of its
    newest version (no new tuning: the same model a training from scratch with those settings
    gives), save it as a new version and delete every older version.

    Used after an erasure: each older version was learnt with the erased person's events and
    holds their ids (user index, session ids, order ids). A model the store no longer has data
    for is deleted. Waits for a training that is running in another process (the ``train``
    lock), so that no model learnt before the erasure is saved after it. Returns, per model,
    ``model``, ``version`` (None when deleted) and ``removed_versions``.
    """
    import shutil

    from omotenashi.recommend import list_versions

    root = Path(om.root)
    models = root / "models"
    done: list[dict[str, Any]] = []
    if not models.is_dir():
        return done
    with om.store.artefacts.lock("train"):  # type: ignore[attr-defined]
        for folder in sorted(p for p in models.iterdir() if p.is_dir()):
            old = [p for p in folder.iterdir() if p.is_dir()]  # versions and stale saves
            newest = latest_version(folder)
            if newest is None:
                shutil.rmtree(folder, ignore_errors=True)
                continue
            meta = json.loads((folder / f"v{newest}" / "meta.json").read_text())
            events_seq = learnt_through(om)
            fitted = _refit(om, folder.name, meta)
            version = None
            if fitted is not None:
                kept = {k: meta[k] for k in _KEPT_ON_REFIT if k in meta}
                extra = {
                    **kept,
                    "saved_at": datetime.now(UTC).isoformat(),
                    "events_seq": events_seq,
                    **(note or {}),
                }
                version = int(save_model(fitted, root, metadata=extra).name[1:])
            for path in old:
                shutil.rmtree(path, ignore_errors=True)
            if fitted is None:
                shutil.rmtree(folder, ignore_errors=True)
            done.append({"model": folder.name, "version": version, "removed_versions": len(old)})
        default = models / "DEFAULT"
        if default.exists() and not list_versions(root, default.read_text().strip()):
            default.unlink()  # its model had nothing left to learn from
    return done


#: A model folder's newest whole version by the folder's modification time (see models_stamp).
_LATEST_BY_MTIME: dict[str, tuple[int, int | None]] = {}
#: Only a folder unchanged for this long is trusted by its modification time: a file system
#: whose times are coarse (a second or two) could show the same time before and after a save.
_SETTLED_NS = 2_000_000_000


def _latest_version(folder: Path) -> int | None:
    """``latest_version`` of a model folder, looked up again only when the folder changed.

    A save renames a whole version into the folder and pruning removes one: both change the
    folder's modification time, so an unchanged, settled folder has the same newest version.
    Listing the versions and checking each one's ``meta.json`` on every answer cost 0.10 ms
    with one model folder of one version (more with more); with a ``stat`` per folder the
    whole stamp costs 0.04 ms.
    """
    try:
        changed = folder.stat().st_mtime_ns
    except OSError:
        return None
    key = str(folder)
    known = _LATEST_BY_MTIME.get(key)
    if known is not None and known[0] == changed:
        return known[1]
    latest = latest_version(folder)  # saved whole: a version being written is not seen
    if time.time_ns() - changed > _SETTLED_NS:
        _LATEST_BY_MTIME[key] = (changed, latest)
    return latest


def models_stamp(root: Path) -> tuple:
    """What changes on disk when a model is saved or a new default is set."""
    models = root / "models"
    default = models / "DEFAULT"
    try:
        marker = (default.read_text().strip(), default.stat().st_mtime_ns)
    except OSError:
        marker = None
    versions = []
    try:
        folders = sorted(e.name for e in os.scandir(models) if e.is_dir())
    except OSError:  # no models folder yet
        folders = []
    for name in folders:
        latest = _latest_version(models / name)
        if latest is not None:
            versions.append((name, latest))
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
    "DEFAULT_BUDGET_S",
    "SESSION_MODEL",
    "TOGETHER_MODEL",
    "ModelSet",
    "Training",
    "models_stamp",
    "parse_weights",
    "retrain_saved",
    "train",
    "train_job",
]
