"""The value models tied together: fit with a holdout check, CLV, the value report.

Plain DataFrames in, small dataclasses with a JSON-ready ``to_dict`` out; reading a store and
saving scores is the value service's part (``omotenashi.services.Value``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from omotenashi.errors import DataError, NotFound
from omotenashi.value._bgnbd import BGNBD
from omotenashi.value._data import (
    CalibrationHoldout,
    calibration_holdout_split,
    rfm_summary,
    unit_days,
)
from omotenashi.value._gamma_gamma import GammaGamma, spend_frequency_correlation
from omotenashi.value._pareto import ParetoNBD
from omotenashi.value._rfm import RFMScorer, segment_summary

ModelName = Literal["bgnbd", "pareto"]
CountModel = BGNBD | ParetoNBD

DAYS_PER_MONTH = 365.25 / 12


def make_count_model(model: str, penalizer: float = 0.0) -> CountModel:
    """A fresh count model by name (``"bgnbd"`` or ``"pareto"``)."""
    if model == "bgnbd":
        return BGNBD(penalizer=penalizer)
    if model == "pareto":
        return ParetoNBD(penalizer=penalizer)
    raise DataError(f"model must be 'bgnbd' or 'pareto', got {model!r}", field="model")


def holdout_metrics(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Per-customer error and totals of predicted vs actual holdout purchases.

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``pearson_r`` (0.0 when either side is constant), ``predicted_total``,
        ``actual_total``, ``n_customers``.
    """
    p = np.asarray(predicted, dtype=float)
    a = np.asarray(actual, dtype=float)
    err = p - a
    r = float(np.corrcoef(p, a)[0, 1]) if p.std() > 0 and a.std() > 0 else 0.0
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "pearson_r": r,
        "predicted_total": float(p.sum()),
        "actual_total": float(a.sum()),
        "n_customers": int(len(p)),
    }


def customer_lifetime_value(
    count_model: CountModel,
    spend_model: GammaGamma,
    summary: pd.DataFrame,
    *,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.1,
    freq: str | None = None,
) -> np.ndarray:
    r"""Discounted expected spend of each customer over the next ``horizon_months``.

    .. math::

        CLV = \sum_{m=1}^{M} \bar z \,
              \frac{E[Y(t_m)] - E[Y(t_{m-1})]}{(1+d)^{m/12}}

    with :math:`t_m` the end of month *m* in the summary's time unit, :math:`\bar z` the
    Gamma-Gamma expected spend and *d* the annual discount rate.

    Parameters
    ----------
    count_model : BGNBD or ParetoNBD
        Fitted purchase model.
    spend_model : GammaGamma
        Fitted spend model.
    summary : pandas.DataFrame
        Columns ``repeat_purchases``, ``recency``, ``T``, ``mean_repeat_spend``.
    horizon_months : int, default 12
    annual_discount_rate : float, default 0.1
    freq : {"D", "W"}, optional
        Time unit of the summary; default ``summary.attrs["freq"]`` or ``"D"``.

    Returns
    -------
    numpy.ndarray of shape (n_customers,)
    """
    if not isinstance(horizon_months, int) or horizon_months < 1:
        raise DataError(
            f"horizon_months must be a positive integer, got {horizon_months!r}",
            field="horizon_months",
        )
    if not (math.isfinite(annual_discount_rate) and annual_discount_rate > -1):
        raise DataError(
            f"annual_discount_rate must be > -1, got {annual_discount_rate!r}",
            field="annual_discount_rate",
        )
    unit = unit_days(freq or summary.attrs.get("freq", "D"))
    spend = spend_model.expected_average_spend(summary)
    clv = np.zeros(len(summary))
    previous = np.zeros(len(summary))
    for m in range(1, horizon_months + 1):
        current = count_model.expected_purchases(summary, m * DAYS_PER_MONTH / unit)
        clv += spend * (current - previous) / (1 + annual_discount_rate) ** (m / 12)
        previous = current
    return clv


@dataclass(frozen=True)
class FitOutcome:
    """A fitted count model with its summary and, when asked, its holdout check."""

    model_name: str
    model: CountModel
    summary: pd.DataFrame
    freq: str
    fit_s: float
    holdout: dict[str, float] | None = None
    split: CalibrationHoldout | None = None
    spend_model: GammaGamma | None = None
    spend_holdout: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``model``, ``params``, ``fit_s``, ``log_likelihood`` ... ."""
        out: dict[str, Any] = {
            "model": self.model_name,
            "params": self.model.params_,
            "fit_s": round(self.fit_s, 4),
            "log_likelihood": self.model.log_likelihood_,
            "converged": self.model.converged_,
            "n_customers": self.model.n_customers_,
            "freq": self.freq,
            "calibration_end": self.summary.attrs.get("end"),
            "repeat_customers": int((self.summary["repeat_purchases"] > 0).sum()),
        }
        if self.spend_model is not None:
            out["spend_params"] = self.spend_model.params_
        if self.holdout is not None:
            out["holdout"] = self.holdout
        if self.spend_holdout is not None:
            out["spend_holdout"] = self.spend_holdout
        if self.notes:
            out["notes"] = self.notes
        return out


def fit_value_model(
    transactions: pd.DataFrame,
    *,
    model: str = "bgnbd",
    freq: str = "W",
    calibration_end: object = None,
    holdout_end: object = None,
    penalizer: float = 0.0,
    spend: bool = True,
) -> FitOutcome:
    """Fit a count model (and the spend model) on transactions, with an optional holdout test.

    Parameters
    ----------
    transactions : pandas.DataFrame
        ``person_id``, ``timestamp``, ``value`` (see :func:`transactions_from_frame`).
    model : {"bgnbd", "pareto"}
    freq : {"D", "W"}
        Time unit.
    calibration_end : date-like, optional
        End of the fitting window (inclusive); default the last transaction day.
    holdout_end : date-like, optional
        When given, the holdout runs from the day after ``calibration_end`` to this day and
        ``holdout`` reports ``mae``, ``rmse``, ``pearson_r``, ``predicted_total``,
        ``actual_total`` of per-customer purchases.
    penalizer : float
        L2 penalty passed to the models.
    spend : bool
        Also fit Gamma-Gamma when at least two customers have positive repeat spend.

    Returns
    -------
    FitOutcome
    """
    notes: list[str] = []
    split = None
    if holdout_end is not None:
        if calibration_end is None:
            raise DataError("holdout_end needs calibration_end", field="calibration_end")
        split = calibration_holdout_split(transactions, calibration_end, holdout_end, freq=freq)
        summary = split.calibration
    else:
        summary = rfm_summary(transactions, calibration_end, freq=freq)
    t0 = time.perf_counter()
    count = make_count_model(model, penalizer).fit(summary)
    fit_s = time.perf_counter() - t0
    if not count.converged_:
        notes.append("the optimiser did not report convergence; the best point found is shown")
    spend_model = None
    if (
        spend
        and ((summary["repeat_purchases"] > 0) & (summary["mean_repeat_spend"] > 0)).sum() >= 2
    ):
        spend_model = GammaGamma(penalizer=penalizer).fit(summary)
        corr = spend_frequency_correlation(summary)
        if abs(corr) > 0.3:
            notes.append(
                f"spend and frequency correlate (r={corr:.2f}); Gamma-Gamma assumes "
                "they do not, so spend predictions may be biased"
            )
    holdout = spend_holdout = None
    if split is not None:
        predicted = count.expected_purchases(summary, split.holdout_length)
        holdout = holdout_metrics(predicted, split.holdout_purchases.to_numpy())
        if spend_model is not None:
            buyers = split.holdout_purchases.to_numpy() > 0
            if buyers.any():
                expected = spend_model.expected_average_spend(summary)[buyers]
                actual = (
                    split.holdout_value.to_numpy()[buyers]
                    / split.holdout_purchases.to_numpy()[buyers]
                )
                spend_holdout = {
                    "customers": int(buyers.sum()),
                    "predicted_mean_spend": float(expected.mean()),
                    "actual_mean_spend": float(actual.mean()),
                    "mae": float(np.abs(expected - actual).mean()),
                    "predicted_value_total": float(
                        (predicted * spend_model.expected_average_spend(summary)).sum()
                    ),
                    "actual_value_total": float(split.holdout_value.sum()),
                }
    return FitOutcome(
        model, count, summary, freq, fit_s, holdout, split, spend_model, spend_holdout, notes
    )


@dataclass(frozen=True)
class ValueReport:
    """Value of every customer and of every segment.

    Attributes
    ----------
    customers : pandas.DataFrame
        Indexed by ``person_id``: the RFM summary, ``p_alive``, ``expected_purchases``,
        ``expected_spend``, ``clv``, the RFM scores ``r``, ``f``, ``m``, ``rfm`` and ``segment``
        (plus any attribute columns given).
    segments : pandas.DataFrame
        :func:`segment_summary` of the RFM segments.
    fit : FitOutcome
        The fitted models.
    horizon_months, annual_discount_rate : int, float
        CLV settings.
    """

    customers: pd.DataFrame
    segments: pd.DataFrame
    fit: FitOutcome
    horizon_months: int
    annual_discount_rate: float

    def totals(self) -> dict[str, float]:
        """Base-wide figures: customers, expected purchases, CLV, share of active customers."""
        c = self.customers
        return {
            "customers": int(len(c)),
            "expected_purchases": float(c["expected_purchases"].sum()),
            "clv": float(c["clv"].sum()),
            "mean_clv": float(c["clv"].mean()),
            "expected_alive": float(c["p_alive"].sum()),
            "historical_value": float(c["monetary"].sum()),
        }

    def customer(self, person_id: str) -> dict[str, Any]:
        """Value and segment of one customer, JSON-ready.

        Raises
        ------
        NotFound
            When the customer is not in the report.
        """
        key = str(person_id)
        if key not in self.customers.index:
            raise NotFound(f"customer {key!r} has no purchase in the value report")
        row = self.customers.loc[key]
        return {"person_id": key, **{k: _jsonable(v) for k, v in row.items()}}

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """JSON-ready summary: model, totals, segments and the ``top`` customers by CLV."""
        best = self.customers.sort_values("clv", ascending=False).head(top)
        return {
            **self.fit.to_dict(),
            "horizon_months": self.horizon_months,
            "annual_discount_rate": self.annual_discount_rate,
            "totals": self.totals(),
            "segments": [
                {"segment": str(k), **{c: _jsonable(v) for c, v in row.items()}}
                for k, row in self.segments.iterrows()
            ],
            "top_customers": [self.customer(str(pid)) for pid in best.index],
        }


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def value_report(
    transactions: pd.DataFrame,
    *,
    model: str = "bgnbd",
    freq: str = "W",
    as_of: object = None,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.1,
    rfm: RFMScorer | None = None,
    attributes: pd.DataFrame | None = None,
    penalizer: float = 0.0,
) -> ValueReport:
    """Fit the value models on all history up to ``as_of`` and value every customer.

    Parameters
    ----------
    transactions : pandas.DataFrame
        ``person_id``, ``timestamp``, ``value``.
    model : {"bgnbd", "pareto"}
    freq : {"D", "W"}
    as_of : date-like, optional
        Last day of history used (default: last transaction day).
    horizon_months, annual_discount_rate :
        CLV settings (see :func:`customer_lifetime_value`).
    rfm : RFMScorer, optional
        Scorer with custom bins or segment rules; default quintiles and
        :data:`DEFAULT_RFM_SEGMENTS`.
    attributes : pandas.DataFrame, optional
        ``customer_id`` plus attribute columns, joined to ``customers`` (for rule segments).
    penalizer : float

    Returns
    -------
    ValueReport
    """
    fit = fit_value_model(
        transactions, model=model, freq=freq, calibration_end=as_of, penalizer=penalizer
    )
    s = fit.summary
    out = s.copy()
    out["p_alive"] = fit.model.probability_alive(s)
    out["expected_purchases"] = fit.model.expected_purchases(
        s, horizon_months * DAYS_PER_MONTH / unit_days(freq)
    )
    if fit.spend_model is not None:
        out["expected_spend"] = fit.spend_model.expected_average_spend(s)
        out["clv"] = customer_lifetime_value(
            fit.model,
            fit.spend_model,
            s,
            horizon_months=horizon_months,
            annual_discount_rate=annual_discount_rate,
            freq=freq,
        )
    else:
        fit.notes.append("no spend model (fewer than 2 customers with repeat spend): clv = 0")
        out["expected_spend"] = 0.0
        out["clv"] = 0.0
    scorer = rfm if rfm is not None else RFMScorer()
    out = out.join(scorer.fit_transform(s))
    if attributes is not None:
        out = join_attributes(out, attributes)
    return ValueReport(out, segment_summary(out), fit, horizon_months, annual_discount_rate)


def join_attributes(customers: pd.DataFrame, attributes: pd.DataFrame) -> pd.DataFrame:
    """Left-join customer attributes (``customer_id`` + columns) onto a frame indexed by id."""
    if "customer_id" not in attributes.columns:
        raise DataError(
            f"attributes lack column 'customer_id'; they have {list(attributes.columns)}",
            field="customer_id",
        )
    attrs = attributes.assign(customer_id=attributes["customer_id"].astype(str))
    attrs = attrs.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    attrs = attrs.drop(columns=[c for c in attrs.columns if c in customers.columns])
    return customers.join(attrs)


def customer_value(report: ValueReport, person_id: str) -> dict[str, Any]:
    """Value and segment of one customer (the HTTP ``GET /v1/customers/{id}`` figures).

    Raises
    ------
    NotFound
        When the customer is not in the report.
    """
    return report.customer(person_id)


def segment_frame(
    report: ValueReport, rules: Mapping[str, str] | Sequence[tuple[str, str]] | None = None
) -> pd.DataFrame:
    """The report's customers with one boolean column per marketer rule (``rule:<name>``)."""
    from omotenashi.value._rules import rule_membership

    if not rules:
        return report.customers
    member = rule_membership(report.customers, rules).add_prefix("rule:")
    return report.customers.join(member)


__all__ = [
    "FitOutcome",
    "ValueReport",
    "customer_lifetime_value",
    "customer_value",
    "fit_value_model",
    "holdout_metrics",
    "join_attributes",
    "make_count_model",
    "segment_frame",
    "value_report",
]
