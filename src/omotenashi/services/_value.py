"""Customer-value use cases: value a store or a transactions file (fit, report, lapse, segments),
save the figures as profile scores, and keep the served segments report of a workspace.

The models and the report computation live in ``omotenashi.value`` (plain frames in, small
dataclasses out); this module reads the inputs (store or file), saves what must be saved, and
keeps the JSON report that every worker process of a server shares (``value_report.json``).
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from omotenashi import value as value_models
from omotenashi.errors import Conflict, DataError
from omotenashi.value import transactions_from_events

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi
    from omotenashi.services._workspaces import Workspace

#: Columns of ``value.ValueReport.customers`` kept as scores in the store (see ``Value.refresh``).
VALUE_SCORES = ("segment", "rfm", "p_alive", "expected_purchases", "clv")
#: The served segments report of a workspace, in its artefacts folder.
REPORT_FILE = "value_report.json"


class EventSource(Protocol):
    """What :func:`from_store` needs from the store facade."""

    def events_frame(self, types: Sequence[str] | None = None) -> pd.DataFrame: ...

    def customers_frame(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class StoreData:
    """Transactions and attributes read from the store."""

    transactions: pd.DataFrame
    attributes: pd.DataFrame | None


def from_store(
    om: EventSource, kind: str = "purchase", *, types: Sequence[str] | None = None
) -> StoreData:
    """Read what the value models need from a store facade (the use-case side of value).

    Parameters
    ----------
    om : object
        Anything with ``events_frame(types=None)`` (store events: ``person_id``, ``type``,
        ``order_id``, ``value``, ``timestamp`` ...) and ``customers_frame()`` (``customer_id``
        plus attribute columns).
    kind : {"purchase", "visit"}
        Purchases (returns netted per order) or visit-like activity.
    types : sequence of str, optional
        Event types counted (see :func:`transactions_from_events`).

    Returns
    -------
    StoreData
    """
    wanted: list[str] | None
    if kind == "purchase":
        wanted = list(types or ["purchase"]) + ["return"]
    else:
        wanted = list(types) if types else None
    events = om.events_frame(types=wanted)
    if "person_id" in events.columns:  # anonymous activity cannot be valued
        events = events[events["person_id"].notna()]
    if "known" in events.columns:  # unlinked anonymous visitors (e.g. guest checkouts) neither
        events = events[events["known"].astype(bool)]
    transactions = transactions_from_events(events, kind, types=types)
    if transactions.empty:
        raise DataError(f"the store holds no {kind} event", field="type")
    attributes = om.customers_frame()
    return StoreData(
        transactions, attributes if attributes is not None and len(attributes) else None
    )


class Value:
    """Customer value over one engine's store, and over transactions files (no store needed).

    Parameters
    ----------
    om : Omotenashi, optional
        The engine whose store is valued; None for file-only use.
    """

    def __init__(self, om: Omotenashi | None = None) -> None:
        self._om = om

    # -- inputs ------------------------------------------------------------------------------
    def transactions(self, kind: str = "purchase") -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """(transactions, customer attributes) of the store (``kind``: purchase or visit)."""
        if self._om is None:
            raise DataError("no store: pass a transactions file", field="transactions")
        data = from_store(self._om, kind)
        return data.transactions, data.attributes

    @staticmethod
    def read_transactions(
        path: str | os.PathLike[str],
        mapping: str,
        *,
        sep: str | None = None,
        columns: Sequence[str] | None = None,
        time_format: str | None = None,
        negative: str = "error",
        encoding: str = "utf-8",
        decimal: str = ".",
    ) -> pd.DataFrame:
        """Transactions from a CSV/TSV/parquet file and a column map."""
        return value_models.read_transactions(
            path,
            mapping,
            sep=sep,
            time_format=time_format,
            negative=negative,
            columns=list(columns) if columns else None,
            encoding=encoding,
            decimal=decimal,
        )

    @staticmethod
    def read_attributes(path: str | os.PathLike[str]) -> pd.DataFrame:
        """Customer attributes from a file with a ``customer_id`` column (the one file reader)."""
        return value_models.read_attributes(path)

    # -- use cases -----------------------------------------------------------------------------
    @staticmethod
    def fit(
        transactions: pd.DataFrame, *, plots: Path | None = None, **options: Any
    ) -> tuple[Any, list[str]]:
        """Fit a purchase model (and Gamma-Gamma spend), with an optional holdout check.

        Returns the ``value.FitOutcome`` and the PNG plots written to ``plots`` (if given).
        """
        outcome = value_models.fit_value_model(transactions, **options)
        written = _fit_plots(outcome, plots) if plots is not None else []
        return outcome, written

    def report(
        self,
        transactions: pd.DataFrame | None = None,
        attributes: pd.DataFrame | None = None,
        *,
        save_scores: bool = False,
        plots: Path | None = None,
        **options: Any,
    ) -> tuple[Any, int, list[str]]:
        """Value every customer: ``(ValueReport, scores saved, plots written)``.

        Without ``transactions`` the store is valued; ``save_scores`` then saves each customer's
        segment, CLV and P(alive) as profile scores.
        """
        if transactions is None:
            transactions, attributes = self.transactions()
        report = value_models.value_report(transactions, attributes=attributes, **options)
        saved = self.save_scores(report) if save_scores else 0
        written: list[str] = []
        if plots is not None:
            import matplotlib.pyplot as plt

            plots.mkdir(parents=True, exist_ok=True)
            path = plots / "segment_sizes.png"
            plt.close(value_models.plot_segment_sizes(report.segments, path))
            written.append(str(path))
        return report, saved, written

    def refresh(self, **options: Any) -> Any:
        """Fit the value models on the store, save the per-customer figures as scores (shown in
        profiles), and return the ``value.ValueReport``."""
        transactions, attributes = self.transactions()
        report = value_models.value_report(transactions, attributes=attributes, **options)
        self.save_scores(report)
        return report

    def save_scores(self, report: Any) -> int:
        """Save a ``value.ValueReport``'s per-customer figures (``VALUE_SCORES``) as scores."""
        if self._om is None:
            raise DataError("no store to save scores to", field="db")
        columns = [c for c in VALUE_SCORES if c in report.customers.columns]
        return self._om.ingest.save_scores("value", report.customers[columns])

    @staticmethod
    def lapse(transactions: pd.DataFrame, as_of: Any, horizon_days: float) -> dict[str, Any]:
        """Backtest lapse risk up to ``as_of`` (default: the last activity day)."""
        end = as_of if as_of is not None else transactions["timestamp"].max()
        return value_models.lapse_backtest(transactions, end, horizon_days).to_dict()

    @staticmethod
    def segments(
        transactions: pd.DataFrame,
        attributes: pd.DataFrame | None = None,
        *,
        rules: Sequence[str] = (),
        kmeans: int = 4,
        features: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """RFM segments, marketer rules (``name: expression``) and described k-means clusters.

        Returns a JSON-ready dict (``customers``, ``rfm_segments``, ``rule_segments``,
        ``kmeans``) and, under ``frames``, the tables behind it for display.
        """
        summary = value_models.rfm_summary(transactions)
        frame = summary.join(value_models.RFMScorer().fit_transform(summary))
        if attributes is not None:
            frame = value_models.join_attributes(frame, attributes)
        rfm = value_models.segment_summary(frame, clv=None)
        parsed = [value_models.parse_named_rule(r) for r in rules]
        member = value_models.rule_membership(frame, parsed) if parsed else None
        clusters = None
        if kmeans > 0:
            clusters = value_models.KMeansSegmenter(
                n_clusters=kmeans, features=list(features) if features else None
            ).fit(frame)
        result: dict[str, Any] = {
            "customers": int(len(frame)),
            "rfm_segments": [
                {"segment": str(k), **row} for k, row in rfm.to_dict(orient="index").items()
            ],
        }
        if member is not None:
            result["rule_segments"] = [
                {
                    "segment": name,
                    "rule": text,
                    "customers": int(member[name].sum()),
                    "value": float(frame.loc[member[name], "monetary"].sum()),
                }
                for name, text in parsed
            ]
        if clusters is not None:
            result["kmeans"] = [
                {"cluster": int(k), **row}
                for k, row in clusters.profile_.to_dict(orient="index").items()
            ]
        result["frames"] = {
            "rfm": rfm,
            "kmeans": None if clusters is None else clusters.profile_,
        }
        return result


def _fit_plots(outcome: Any, directory: Path) -> list[str]:
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    T = float(outcome.summary["T"].max())
    horizon = T if outcome.split is None else outcome.split.holdout_length
    max_f = int(min(max(outcome.summary["repeat_purchases"].quantile(0.99), 5), 50))
    paths = {
        "expected_purchases.png": lambda p: value_models.plot_expected_purchases_heatmap(
            outcome.model, T, horizon, max_f, p
        ),
        "p_alive.png": lambda p: value_models.plot_p_alive_heatmap(outcome.model, T, max_f, p),
    }
    if outcome.split is not None:
        paths["calibration_holdout.png"] = lambda p: value_models.plot_calibration_holdout(
            outcome.model, outcome.split, path=p
        )
    written = []
    for name, draw in paths.items():
        fig = draw(directory / name)
        plt.close(fig)
        written.append(str(directory / name))
    return written


# -- the served segments report of a workspace (HTTP) ------------------------------------------
class _ValueState:
    """Per-workspace cache of the report file's contents and the refresh lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: tuple[int, int] | None = None
        self.payload: dict[str, Any] | None = None


def _state(ws: Workspace) -> _ValueState:
    return ws.state("value", _ValueState)


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and infinities to None."""
    if hasattr(value, "item") and not isinstance(value, dict | list | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def report_payload(report: Any, source: str) -> dict[str, Any]:
    """The JSON answer of ``GET /v1/segments`` from a :class:`omotenashi.value.ValueReport`.

    Parameters
    ----------
    report : omotenashi.value.ValueReport
        A fitted report.
    source : {"refresh", "segments"}
        What computed it.

    Returns
    -------
    dict
        ``computed_at``, ``source``, ``model``, ``horizon_months``, ``annual_discount_rate``,
        ``totals`` and ``segments`` (one dict per segment, largest first).
    """
    data = report.to_dict(top=0)
    segments = []
    for row in data["segments"]:
        row = _clean(row)
        row["customers"] = int(row["customers"])
        segments.append(row)
    return {
        "computed_at": datetime.now(UTC).isoformat(),
        "source": source,
        "model": str(data["model"]),
        "horizon_months": int(report.horizon_months),
        "annual_discount_rate": float(report.annual_discount_rate),
        "totals": _clean(report.totals()),
        "segments": segments,
    }


def _path(ws: Workspace) -> Path:
    return ws.om.store.artefacts.path(REPORT_FILE)


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)


def cached_report(ws: Workspace) -> dict[str, Any] | None:
    """The workspace's saved value report, or None when none was computed yet (cheap: a stat)."""
    state = _state(ws)
    path = _path(ws)
    stamp = _file_stamp(path)
    if stamp is None:
        return None
    if stamp != state.stamp or state.payload is None:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # replaced while reading: the next request reads it
            return state.payload
        state.payload, state.stamp = payload, stamp
    return state.payload


def _store(ws: Workspace, payload: dict[str, Any]) -> None:
    state = _state(ws)
    # readers see the old file or the new one, never half of one
    path = ws.om.store.artefacts.atomic_write(
        REPORT_FILE, json.dumps(payload, ensure_ascii=False, allow_nan=False)
    )
    state.payload, state.stamp = payload, _file_stamp(path)


def compute_segments(ws: Workspace) -> dict[str, Any]:
    """Compute the value report from the store (without saving scores) and keep it.

    Raises
    ------
    DataError
        The store cannot be valued yet (no purchase, too few buyers).
    """
    state = _state(ws)
    with state.lock:
        found = cached_report(ws)  # another request may have computed it meanwhile
        if found is not None:
            return found
        report, _, _ = ws.om.value.report()
        payload = report_payload(report, "segments")
        _store(ws, payload)
        return payload


def refresh_report(ws: Workspace, options: dict[str, Any]) -> dict[str, Any]:
    """Run ``Value.refresh`` on the workspace's store and keep the new report.

    Raises
    ------
    Conflict
        While another refresh of the workspace runs in this process (HTTP 409).
    DataError
        The store cannot be valued (no purchase event, too few buyers).
    """
    state = _state(ws)
    if not state.lock.acquire(blocking=False):
        raise Conflict("a value refresh of this workspace is already running")
    try:
        report = ws.om.value.refresh(**options)
        payload = report_payload(report, "refresh")
        _store(ws, payload)
        return {**payload, "customers_scored": int(len(report.customers))}
    finally:
        state.lock.release()


__all__ = [
    "REPORT_FILE",
    "VALUE_SCORES",
    "StoreData",
    "Value",
    "cached_report",
    "compute_segments",
    "from_store",
    "refresh_report",
    "report_payload",
]
