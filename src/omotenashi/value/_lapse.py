"""Lapse (churn) risk for activity without purchases: visits, app use, clinic encounters.

Two views of the same question — "will this person be inactive over the next *h* days?":

* :class:`LapseRisk`, a logistic regression on recency/frequency/tenure features, trained with a
  strictly time-based split (features at ``as_of - h``, outcome over the following *h* days), so
  it never sees the future it is asked about;
* the BG/NBD probability of no activity in the next *h* days, which needs no labels.

:func:`lapse_backtest` scores both on the last *h* days before a date and reports calibration
(reliability table, Brier score, expected calibration error) next to discrimination (AUC): a
risk score that says 30% must lapse about 30% of the time to be acted upon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from omotenashi.errors import DataError
from omotenashi.value._base import _Fitted
from omotenashi.value._bgnbd import BGNBD
from omotenashi.value._data import _check_transactions, rfm_summary, to_timestamp

FEATURES = ("recency_days", "log_n", "tenure_days", "log_gap", "overdue")


def lapse_features(transactions: pd.DataFrame, as_of: object) -> pd.DataFrame:
    """Recency/frequency features of each person seen by ``as_of`` (inclusive).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``person_id``: ``recency_days`` (days since last activity), ``log_n``
        (log of active days), ``tenure_days`` (days since first activity), ``log_gap`` (log of
        the mean gap between active days; tenure for one-off visitors) and ``overdue``
        (recency over mean gap).
    """
    s = rfm_summary(transactions, as_of, freq="D")
    gap = np.where(
        s["repeat_purchases"] > 0, s["recency"] / s["repeat_purchases"].clip(lower=1), s["T"] + 1
    )
    gap = np.maximum(gap, 1.0)
    return pd.DataFrame(
        {
            "recency_days": s["recency_days"],
            "log_n": np.log(s["n_purchases"]),
            "tenure_days": s["T"],
            "log_gap": np.log(gap),
            "overdue": s["recency_days"] / gap,
        },
        index=s.index,
    )


def lapse_labels(
    transactions: pd.DataFrame, as_of: object, horizon_days: float, people: pd.Index
) -> pd.Series:
    """1 for each person in ``people`` without activity in ``(as_of, as_of + horizon_days]``."""
    tx = _check_transactions(transactions)
    start = to_timestamp(as_of, "as_of").floor("D") + pd.Timedelta(days=1)
    end = start + pd.Timedelta(days=float(horizon_days))
    day = tx["timestamp"].dt.floor("D")
    active = set(tx.loc[(day >= start) & (day < end), "person_id"])
    return pd.Series(
        [0 if p in active else 1 for p in people], index=people, name="lapsed", dtype=int
    )


class LapseRisk(_Fitted):
    """Supervised lapse risk: P(no activity in the next ``horizon_days``).

    Parameters
    ----------
    horizon_days : float, default 90
        Length of the window without activity that counts as a lapse.
    C : float, default 1.0
        Inverse L2 regularisation of the logistic regression.

    Attributes
    ----------
    coef_ : dict
        Coefficient of each standardised feature (positive = raises the risk).
    train_size_ : int
    train_rate_ : float
        Share of lapses among training customers.
    """

    def __init__(self, horizon_days: float = 90.0, C: float = 1.0) -> None:
        self.horizon_days = horizon_days
        self.C = C

    def fit(self, transactions: pd.DataFrame, as_of: object) -> LapseRisk:
        """Train on features at ``as_of - horizon_days`` and outcomes up to ``as_of``.

        Raises
        ------
        DataError
            When the training window is empty or holds only one outcome.
        """
        from sklearn.linear_model import LogisticRegression

        if not (isinstance(self.horizon_days, int | float) and self.horizon_days > 0):
            raise DataError(
                f"horizon_days must be positive, got {self.horizon_days!r}", field="horizon_days"
            )
        cutoff = to_timestamp(as_of, "as_of").floor("D") - pd.Timedelta(days=self.horizon_days)
        X = lapse_features(transactions, cutoff)
        y = lapse_labels(transactions, cutoff, self.horizon_days, X.index)
        if y.nunique() < 2:
            raise DataError(
                f"every customer {'lapsed' if y.iloc[0] else 'stayed active'} in the training "
                f"window ending {pd.Timestamp(as_of).date()}; the risk cannot be learnt — "
                "change as_of or horizon_days",
                field="as_of",
            )
        values = X[list(FEATURES)].to_numpy(dtype=float)
        self.mean_ = values.mean(axis=0)
        std = values.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        self._model = LogisticRegression(C=self.C, max_iter=1000)
        self._model.fit((values - self.mean_) / self.scale_, y.to_numpy())
        self.coef_ = dict(zip(FEATURES, map(float, self._model.coef_[0]), strict=True))
        self.train_size_ = len(y)
        self.train_rate_ = float(y.mean())
        self.params_ = {**self.coef_, "intercept": float(self._model.intercept_[0])}
        return self

    def predict_proba(self, transactions: pd.DataFrame, as_of: object) -> pd.Series:
        """Lapse probability of each person seen by ``as_of``, indexed by ``person_id``."""
        self._check_fitted()
        X = lapse_features(transactions, as_of)
        values = (X[list(FEATURES)].to_numpy(dtype=float) - self.mean_) / self.scale_
        return pd.Series(self._model.predict_proba(values)[:, 1], index=X.index, name="lapse_risk")


def calibration_table(predicted: np.ndarray, observed: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Reliability table over equal-count bins of the predicted probability.

    Returns
    -------
    pandas.DataFrame
        One row per bin: ``n``, ``mean_predicted``, ``observed_rate``.
    """
    predicted = np.asarray(predicted, dtype=float)
    observed = np.asarray(observed, dtype=float)
    order = np.argsort(predicted, kind="stable")
    groups = np.array_split(order, min(bins, len(order)))
    rows = [
        {
            "n": len(g),
            "mean_predicted": float(predicted[g].mean()),
            "observed_rate": float(observed[g].mean()),
        }
        for g in groups
        if len(g)
    ]
    return pd.DataFrame(rows)


def _scores(predicted: np.ndarray, observed: np.ndarray, bins: int) -> dict[str, object]:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    p = np.clip(predicted, 1e-12, 1 - 1e-12)
    table = calibration_table(p, observed, bins)
    ece = float(
        (table["n"] * (table["mean_predicted"] - table["observed_rate"]).abs()).sum()
        / table["n"].sum()
    )
    both = len(np.unique(observed)) == 2
    return {
        "n": int(len(observed)),
        "observed_rate": float(np.mean(observed)),
        "mean_predicted": float(np.mean(p)),
        "brier": float(brier_score_loss(observed, p)),
        "log_loss": float(log_loss(observed, p, labels=[0, 1])),
        "auc": float(roc_auc_score(observed, p)) if both else None,
        "ece": ece,
        "calibration": table.to_dict(orient="records"),
    }


@dataclass(frozen=True)
class LapseBacktest:
    """Scores of the lapse models on the last ``horizon_days`` before ``as_of``."""

    horizon_days: float
    test_start: str
    as_of: str
    supervised: dict[str, object]
    bgnbd: dict[str, object] | None
    bgnbd_error: str | None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "horizon_days": self.horizon_days,
            "test_start": self.test_start,
            "as_of": self.as_of,
            "supervised": self.supervised,
            "bgnbd": self.bgnbd,
            "bgnbd_error": self.bgnbd_error,
        }


def lapse_backtest(
    transactions: pd.DataFrame,
    as_of: object,
    horizon_days: float = 90.0,
    *,
    bins: int = 10,
    C: float = 1.0,
) -> LapseBacktest:
    """Time-based test of lapse risk: predict at ``as_of - h``, compare with ``(as_of - h, as_of]``.

    The supervised model is trained on outcomes that end at ``as_of - h`` (features at
    ``as_of - 2h``), so training and test outcomes do not overlap in time. The BG/NBD model is
    fitted on the daily summary at ``as_of - h``.

    Raises
    ------
    DataError
        When the history is too short for the windows.
    """
    end = to_timestamp(as_of, "as_of").floor("D")
    test_cutoff = end - pd.Timedelta(days=float(horizon_days))
    model = LapseRisk(horizon_days=horizon_days, C=C).fit(transactions, test_cutoff)
    risk = model.predict_proba(transactions, test_cutoff)
    observed = lapse_labels(transactions, test_cutoff, horizon_days, risk.index).to_numpy()
    supervised = _scores(risk.to_numpy(), observed, bins)
    supervised["train_size"] = model.train_size_
    supervised["coef"] = model.coef_
    bg_scores: dict[str, object] | None = None
    bg_error: str | None = None
    try:
        summary = rfm_summary(transactions, test_cutoff, freq="D")
        bg = BGNBD().fit(summary)
        p_quiet = bg.probability_no_purchase(summary, float(horizon_days))
        bg_scores = _scores(p_quiet, observed, bins)
        bg_scores["params"] = bg.params_
    except DataError as exc:
        bg_error = str(exc)
    return LapseBacktest(
        float(horizon_days),
        str(test_cutoff.date()),
        str(end.date()),
        supervised,
        bg_scores,
        bg_error,
    )


__all__ = [
    "LapseBacktest",
    "LapseRisk",
    "calibration_table",
    "lapse_backtest",
    "lapse_features",
    "lapse_labels",
]
