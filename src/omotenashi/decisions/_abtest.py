"""A/B tests: deterministic assignment by hashing and a per-arm report with a stated winner rule.

An experiment is a decision point with a uniform policy and hashed assignment, so its log is an
ordinary decision log; this module adds the stable assignment function and the statistics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from omotenashi.decisions._engine import hash_unit
from omotenashi.errors import DataError


def assign_arm(
    experiment: str,
    customer_id: str,
    arms: Sequence[str],
    weights: Sequence[float] | None = None,
) -> str:
    """Arm of a customer, stable across calls and processes (SHA-256 of experiment and id).

    Gives the same arm as a :func:`experiment` decision point for the same customer.

    Parameters
    ----------
    experiment : str
        Experiment name (the salt: different experiments split people independently).
    customer_id : str
        Customer or session id.
    arms : sequence of str
        Arm ids.
    weights : sequence of float, optional
        Traffic shares (normalised); equal by default.

    Returns
    -------
    str

    Examples
    --------
    >>> assign_arm("subject_line", "c42", ["control", "short"]) == assign_arm(
    ...     "subject_line", "c42", ["control", "short"])
    True
    """
    if not arms:
        raise DataError("arms: at least one arm is needed", field="arms")
    w = np.ones(len(arms)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(arms),) or (w < 0).any() or w.sum() <= 0:
        raise DataError("weights: one non-negative weight per arm, not all zero", field="weights")
    cum = np.cumsum(w / w.sum())
    j = int(np.searchsorted(cum, hash_unit(experiment, customer_id), side="right"))
    return arms[min(j, len(arms) - 1)]


@dataclass(frozen=True)
class ArmReport:
    """KPI of one arm and its comparison with the control arm.

    ``lift`` is the difference of means (arm - control) with a Welch normal interval and a
    Holm-adjusted two-sided p-value; all three are NaN for the control itself.
    """

    arm: str
    n: int
    mean: float
    ci_low: float
    ci_high: float
    lift: float
    lift_ci_low: float
    lift_ci_high: float
    p_value: float


@dataclass(frozen=True)
class ABReport:
    """Per-arm KPIs, the winner (or None) and the rule used to call it."""

    control: str
    arms: tuple[ArmReport, ...]
    winner: str | None
    rule: str

    def to_frame(self) -> pd.DataFrame:
        """One row per arm."""
        return pd.DataFrame([asdict(a) for a in self.arms])


def _wilson(k: float, n: int, z: float) -> tuple[float, float]:
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return centre - half, centre + half


def ab_report(
    frame: pd.DataFrame,
    *,
    arm: str = "variant",
    kpi: str = "reward",
    control: str | None = None,
    alpha: float = 0.05,
    min_per_arm: int = 100,
) -> ABReport:
    """Compare the arms of an experiment on one KPI.

    Winner rule: with at least ``min_per_arm`` observations in every arm, the treatment arm with
    the highest mean among those whose lift over control is positive with Holm-adjusted
    p-value below ``alpha``; if none, the control when every treatment is significantly worse;
    otherwise no winner yet.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per exposure, e.g. a decision log (``variant``, ``reward``); rows with a missing
        KPI are dropped (rewards not arrived yet count as missing, so fill them with 0 first
        when no news means failure).
    arm, kpi : str
        Column names.
    control : str, optional
        Control arm; the first arm in sorted order by default.
    alpha : float
        Family-wise error rate.
    min_per_arm : int
        Smallest sample per arm before a winner may be called.

    Returns
    -------
    ABReport

    Raises
    ------
    DataError
        Missing columns, non-numeric KPI, fewer than two arms or an unknown control.
    """
    for col in (arm, kpi):
        if col not in frame.columns:
            raise DataError(f"{col}: no such column in the experiment data", field=col)
    if not 0 < alpha < 1:
        raise DataError(f"alpha: must lie in (0, 1), got {alpha}", field="alpha")
    data = frame[[arm, kpi]].dropna()
    try:
        values = data[kpi].astype(float)
    except (TypeError, ValueError):
        raise DataError(f"{kpi}: KPI values must be numeric", field=kpi) from None
    groups = {str(a): values[data[arm] == a].to_numpy() for a in sorted(data[arm].unique())}
    binary = bool(np.isin(values.to_numpy(), (0.0, 1.0)).all())
    totals = {name: (len(x), float(x.sum()), float((x * x).sum())) for name, x in groups.items()}
    return ab_report_from_totals(
        totals, binary=binary, arm=arm, control=control, alpha=alpha, min_per_arm=min_per_arm
    )


def ab_report_from_totals(
    totals: Mapping[str, tuple[int, float, float]],
    *,
    binary: bool,
    arm: str = "variant",
    control: str | None = None,
    alpha: float = 0.05,
    min_per_arm: int = 100,
) -> ABReport:
    """:func:`ab_report` from per-arm sums, for logs too large to read row by row.

    ``totals`` maps each arm to ``(n, sum of KPI, sum of squared KPI)`` (a database computes
    them in one pass); ``binary`` says whether every KPI value is 0 or 1 (Wilson intervals).
    The statistics and the winner rule are those of :func:`ab_report`.
    """
    if not 0 < alpha < 1:
        raise DataError(f"alpha: must lie in (0, 1), got {alpha}", field="alpha")
    groups = {str(name): t for name, t in sorted(totals.items()) if t[0] > 0}
    if len(groups) < 2:
        raise DataError(f"{arm}: need at least two arms with data, got {len(groups)}", field=arm)
    control = control if control is not None else next(iter(groups))
    if control not in groups:
        raise DataError(f"control: arm {control!r} has no data", field="control")

    def moments(t: tuple[int, float, float]) -> tuple[int, float, float]:
        n, total, squares = t
        mean = total / n
        var = max(0.0, (squares - n * mean * mean) / (n - 1)) if n > 1 else math.nan
        return n, mean, var

    stats_of = {name: moments(t) for name, t in groups.items()}
    z = float(stats.norm.ppf(1 - alpha / 2))
    cn, cmean, cvar = stats_of[control]
    raw: dict[str, tuple[float, float, float, float]] = {}
    for name, (n, mean, var) in stats_of.items():
        if name == control:
            continue
        diff = mean - cmean
        se = math.sqrt(var / n + cvar / cn) if min(n, cn) > 1 else math.inf
        p = 2 * float(stats.norm.sf(abs(diff) / se)) if se > 0 else float(diff == 0)
        raw[name] = (diff, diff - z * se, diff + z * se, p)
    # Holm step-down adjustment over the treatment-vs-control comparisons
    order = sorted(raw, key=lambda a: raw[a][3])
    m, running, adjusted = len(order), 0.0, {}
    for i, name in enumerate(order):
        running = max(running, min(1.0, (m - i) * raw[name][3]))
        adjusted[name] = running
    reports = []
    for name, (n, mean, var) in stats_of.items():
        if binary:
            lo, hi = _wilson(groups[name][1], n, z)
        else:
            half = z * math.sqrt(var) / math.sqrt(n) if n > 1 else math.inf
            lo, hi = mean - half, mean + half
        if name == control:
            reports.append(ArmReport(name, n, mean, lo, hi, math.nan, math.nan, math.nan, math.nan))
        else:
            d, dlo, dhi, _ = raw[name]
            reports.append(ArmReport(name, n, mean, lo, hi, d, dlo, dhi, adjusted[name]))
    rule = (
        f"every arm >= {min_per_arm} observations; best treatment with positive lift and "
        f"Holm-adjusted p < {alpha}; else control if all treatments are significantly worse"
    )
    winner = None
    if min(t[0] for t in groups.values()) >= min_per_arm:
        better = [r for r in reports if r.arm != control and r.lift > 0 and r.p_value < alpha]
        worse = [r for r in reports if r.arm != control and r.lift < 0 and r.p_value < alpha]
        if better:
            winner = max(better, key=lambda r: r.mean).arm
        elif len(worse) == len(reports) - 1:
            winner = control
    return ABReport(control, tuple(reports), winner, rule)
