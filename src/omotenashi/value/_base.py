"""Shared machinery of the count models: input checks, data compression and the optimiser.

Customers with the same ``(frequency, recency, T)`` contribute the same likelihood term, and
real summaries repeat a lot (weekly or daily grids), so the models fit on the distinct triples
weighted by their counts. Parameters are optimised in log space (they are all positive), which
keeps the optimiser away from invalid values without ad-hoc clipping.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from omotenashi.errors import DataError, NotFittedError


@dataclass(frozen=True)
class RFT:
    """Validated repeat purchases / recency / age arrays (float64, same length)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray


def check_rft(
    summary: pd.DataFrame | None = None,
    *,
    frequency: object = None,
    recency: object = None,
    T: object = None,
    require_repeat: bool = False,
) -> RFT:
    """Read and check ``repeat_purchases``, ``recency`` and ``T`` from a summary or arrays.

    Parameters
    ----------
    summary : pandas.DataFrame, optional
        With columns ``repeat_purchases``, ``recency``, ``T``.
    frequency, recency, T : array-like, optional
        Used when ``summary`` is None.
    require_repeat : bool
        Raise when nobody has a repeat purchase (the models cannot be identified).

    Returns
    -------
    RFT

    Raises
    ------
    DataError
        Naming the field: missing, non-finite, negative, non-integer frequency, recency after
        T, positive recency without repeat purchases, empty input, or no repeat purchase.
    """
    if summary is not None:
        if not isinstance(summary, pd.DataFrame):
            raise DataError(f"summary must be a DataFrame, got {type(summary).__name__}")
        missing = [c for c in ("repeat_purchases", "recency", "T") if c not in summary.columns]
        if missing:
            raise DataError(
                f"summary lacks column(s) {missing}; build it with rfm_summary()", field=missing[0]
            )
        frequency, recency, T = summary["repeat_purchases"], summary["recency"], summary["T"]
    arrays = {}
    for name, values in (("repeat_purchases", frequency), ("recency", recency), ("T", T)):
        if values is None:
            raise DataError(f"{name} is required", field=name)
        try:
            arr = np.asarray(values, dtype=float).ravel()
        except (TypeError, ValueError):
            raise DataError(f"{name}: values must be numbers", field=name) from None
        if not np.isfinite(arr).all():
            raise DataError(
                f"{name}: {int((~np.isfinite(arr)).sum())} missing or non-finite value(s)",
                field=name,
            )
        if (arr < 0).any():
            raise DataError(f"{name}: {int((arr < 0).sum())} negative value(s)", field=name)
        arrays[name] = arr
    x, t_x, big_t = arrays["repeat_purchases"], arrays["recency"], arrays["T"]
    if not (len(x) == len(t_x) == len(big_t)):
        raise DataError(
            "repeat_purchases, recency and T must have the same length", field="repeat_purchases"
        )
    if len(x) == 0:
        raise DataError("summary is empty: no customer to fit", field="repeat_purchases")
    if (x % 1 != 0).any():
        raise DataError(
            "repeat_purchases: must be whole numbers of repeat purchases", field="repeat_purchases"
        )
    tol = 1e-9 * np.maximum(1.0, big_t)
    if (t_x > big_t + tol).any():
        raise DataError(
            f"recency: {int((t_x > big_t + tol).sum())} customer(s) have recency > T",
            field="recency",
        )
    if ((x == 0) & (t_x > 0)).any():
        raise DataError(
            "recency: must be 0 for customers without repeat purchases (repeat_purchases 0)",
            field="recency",
        )
    if require_repeat and not (x > 0).any():
        raise DataError(
            "repeat_purchases: no customer has a repeat purchase (all are one-off buyers); the "
            "purchase rate and dropout cannot be estimated — lengthen the calibration window",
            field="repeat_purchases",
        )
    if require_repeat and not (big_t > 0).any():
        raise DataError("T: every customer was first seen on the last day of the window", field="T")
    return RFT(x, np.minimum(t_x, big_t), big_t)


def compress(rft: RFT) -> tuple[RFT, np.ndarray]:
    """Distinct ``(x, t_x, T)`` triples and how many customers share each."""
    stacked = np.column_stack([rft.x, rft.t_x, rft.T])
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return RFT(uniq[:, 0], uniq[:, 1], uniq[:, 2]), counts.astype(float)


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`maximize`: parameters, log-likelihood and convergence details."""

    params: np.ndarray
    log_likelihood: float
    converged: bool
    message: str
    n_iter: int
    seconds: float


def maximize(
    neg_ll: Callable[[np.ndarray], tuple[float, np.ndarray] | float],
    starts: list[np.ndarray],
    *,
    jac: bool,
    bounds: tuple[float, float] = (-20.0, 20.0),
) -> FitResult:
    """Minimise a negative log-likelihood over log-parameters from several starting points.

    Tries L-BFGS-B from each start, polishes the best with Nelder-Mead when L-BFGS-B did not
    report success, and keeps the best finite answer.

    Raises
    ------
    DataError
        When no start gives a finite likelihood (the data cannot be fitted by this model).
    """
    t0 = time.perf_counter()
    best: optimize.OptimizeResult | None = None
    for x0 in starts:
        try:
            res = optimize.minimize(
                neg_ll,
                x0,
                jac=jac,
                method="L-BFGS-B",
                bounds=[bounds] * len(x0),
                options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
            )
        except (FloatingPointError, ValueError):
            continue
        if not np.isfinite(res.fun):
            continue
        if best is None or res.fun < best.fun:
            best = res
        if res.success:
            break
    if best is None:
        raise DataError("the likelihood is not finite at any starting point; check the summary")
    if not best.success:

        def value_only(p: np.ndarray) -> float:
            out = neg_ll(p)
            return float(out[0] if isinstance(out, tuple) else out)

        polished = optimize.minimize(
            value_only,
            best.x,
            method="Nelder-Mead",
            options={"maxiter": 4000, "xatol": 1e-9, "fatol": 1e-12},
        )
        if np.isfinite(polished.fun) and polished.fun <= best.fun:
            polished.x = np.clip(polished.x, *bounds)
            best = polished
    return FitResult(
        params=np.asarray(best.x, dtype=float),
        log_likelihood=float(-best.fun),
        converged=bool(best.success),
        message=str(best.message),
        n_iter=int(best.get("nit", 0)),
        seconds=time.perf_counter() - t0,
    )


class _Fitted:
    """Mixin: fitted-state check and parameter access."""

    _param_names: tuple[str, ...] = ()

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit() first")

    def get_params(self) -> dict[str, object]:
        """Hyper-parameters given to the constructor (scikit-learn convention)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {k: getattr(self, k) for k in names}

    def _param_array(self) -> np.ndarray:
        self._check_fitted()
        return np.array([self.params_[k] for k in self._param_names])  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        state = (
            ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())  # type: ignore[attr-defined]
            if hasattr(self, "params_")
            else "not fitted"
        )
        return f"{type(self).__name__}({state})"
