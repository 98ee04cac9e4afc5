"""Limits a business sets on an audit, and the ones a report crosses.

A limit on a single figure applies to the overall figure (``max_gini``, ``min_coverage`` ...);
fairness between groups is limited through the gaps (``max_gap`` = largest allowed ``max - min``
of a figure over the groups of every ``--by`` attribute, ``max_gap_ratio`` = largest allowed
``max / min``). A figure that cannot be computed (None: no pair of items with features, a single
group) crosses no limit. Limits come from options and/or a JSON or TOML file whose keys are the
same names (``{"max_gini": 0.9, "max_gap": {"coverage": 0.05}}``); an option wins over the file.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from omotenashi.audit._report import GAP_METRICS, AuditReport
from omotenashi.errors import DataError

#: Single-figure limits: name -> (figure of ``overall``, "max" or "min").
LIMITS: dict[str, tuple[str, str]] = {
    "max_gini": ("gini", "max"),
    "min_coverage": ("coverage", "min"),
    "max_popularity_lift": ("popularity_lift", "max"),
    "max_popularity_percentile": ("popularity_percentile_recommended", "max"),
    "min_ild": ("ild", "min"),
    "max_narrowing": ("narrowing", "max"),
    "max_narrowed_share": ("narrowed_share", "max"),
}


@dataclass
class Thresholds:
    """Limits on an audit (None: no limit)."""

    max_gini: float | None = None
    min_coverage: float | None = None
    max_popularity_lift: float | None = None
    max_popularity_percentile: float | None = None
    min_ild: float | None = None
    max_narrowing: float | None = None
    max_narrowed_share: float | None = None
    max_gap: dict[str, float] = field(default_factory=dict)
    max_gap_ratio: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in LIMITS:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, _number(value, name))
        for name in ("max_gap", "max_gap_ratio"):
            limits = getattr(self, name)
            if not isinstance(limits, Mapping):
                raise DataError(
                    f"{name}: expected a table of figure = limit, got {limits!r}", field=name
                )
            for metric in limits:
                if metric not in GAP_METRICS:
                    raise DataError(
                        f"{name}: unknown figure {metric!r}; use {', '.join(GAP_METRICS)}",
                        field=name,
                    )
            setattr(self, name, {m: _number(v, f"{name}.{m}") for m, v in limits.items()})

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {n: getattr(self, n) for n in LIMITS if getattr(self, n) is not None}
        for name in ("max_gap", "max_gap_ratio"):
            if getattr(self, name):
                out[name] = dict(getattr(self, name))
        return out

    def merged(self, other: Thresholds) -> Thresholds:
        """These limits, with every limit ``other`` sets taking precedence."""
        values: dict[str, Any] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, dict):
                values[f.name] = {**mine, **theirs}
            else:
                values[f.name] = theirs if theirs is not None else mine
        return Thresholds(**values)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{name}: {value!r} is not a number", field=name)
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"{name}: {value!r} is not a number", field=name) from None
    if math.isnan(number) or math.isinf(number):
        raise DataError(f"{name}: {value!r} is not a finite number", field=name)
    return number


def parse_limits(items: list[str] | None, name: str) -> dict[str, float]:
    """``FIGURE=LIMIT`` options (``coverage=0.05``) as a dict."""
    out: dict[str, float] = {}
    for item in items or ():
        metric, sep, value = item.partition("=")
        if not sep or not metric.strip():
            raise DataError(
                f"{name} {item!r}: expected FIGURE=LIMIT, e.g. coverage=0.05", field=name
            )
        out[metric.strip()] = _number(value.strip(), f"{name} {metric.strip()}")
    return out


def load_thresholds(path: str | Path) -> Thresholds:
    """Limits from a JSON or TOML file (by suffix; ``.toml`` is TOML, anything else JSON)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{file}: cannot read thresholds file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{file}: a thresholds file is UTF-8 text (JSON or TOML); byte {exc.start} is not"
        ) from None
    try:
        data = tomllib.loads(text) if file.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        where = f", line {exc.lineno}" if hasattr(exc, "lineno") else ""
        raise DataError(f"{file}{where}: not valid {file.suffix or 'JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f'{file}: expected an object of limits, e.g. {{"max_gini": 0.9}}')
    known = [*LIMITS, "max_gap", "max_gap_ratio"]
    for key in data:
        if key not in known:
            raise DataError(
                f"{file}: unknown limit {key!r}; use {', '.join(known)}", field=str(key)
            )
    try:
        return Thresholds(**data)
    except DataError as exc:
        raise DataError(f"{file}: {exc}", field=exc.field) from None


def check_thresholds(report: AuditReport, thresholds: Thresholds) -> list[dict[str, Any]]:
    """The limits the report crosses, each with its figure, scope, value and limit."""
    crossed: list[dict[str, Any]] = []
    for name, (metric, kind) in LIMITS.items():
        limit = getattr(thresholds, name)
        value = report.overall.get(metric)
        if limit is None or value is None:
            continue
        if (kind == "max" and value > limit) or (kind == "min" and value < limit):
            word = "above" if kind == "max" else "below"
            crossed.append(
                {
                    "threshold": name,
                    "figure": metric,
                    "scope": "overall",
                    "value": value,
                    "limit": limit,
                    "message": f"{metric} {value:.4g} is {word} the limit {limit:g} ({name})",
                }
            )
    for name, key in (("max_gap", "gap"), ("max_gap_ratio", "ratio")):
        for metric, limit in getattr(thresholds, name).items():
            for attribute, breakdown in report.by.items():
                gap = (breakdown.get("gaps") or {}).get(metric)
                value = gap.get(key) if gap else None
                if value is None or value <= limit:
                    continue
                crossed.append(
                    {
                        "threshold": name,
                        "figure": metric,
                        "scope": f"by {attribute}",
                        "value": value,
                        "limit": limit,
                        "message": (
                            f"{metric} {key} between {attribute} groups {value:.4g} "
                            f"({gap['max_group']} {gap['max']:.4g} vs {gap['min_group']} "
                            f"{gap['min']:.4g}) is above the limit {limit:g} ({name})"
                        ),
                    }
                )
    return crossed


__all__ = ["LIMITS", "Thresholds", "check_thresholds", "load_thresholds", "parse_limits"]
