"""Customers simulated from known BG/NBD, Pareto/NBD and Gamma-Gamma parameters.

Planted-truth data for tests, benchmarks and documentation: recovering the parameters that
generated a sample, and checking that predicted holdout purchases match simulated ones, tests
the likelihood and the predictions without reference to any other implementation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    return (
        random_state
        if isinstance(random_state, np.random.Generator)
        else np.random.default_rng(random_state)
    )


def _summarise(times: list[np.ndarray], T: np.ndarray, holdout: float) -> pd.DataFrame:
    rows = []
    for purchase_times, age in zip(times, T, strict=True):
        cal = purchase_times[purchase_times <= age]
        rows.append(
            (
                len(cal),
                cal[-1] if len(cal) else 0.0,
                age,
                int(((purchase_times > age) & (purchase_times <= age + holdout)).sum()),
            )
        )
    frame = pd.DataFrame(rows, columns=["repeat_purchases", "recency", "T", "holdout_purchases"])
    frame["repeat_purchases"] = frame["repeat_purchases"].astype(float)
    frame.index = pd.Index([f"c{i}" for i in range(len(frame))], name="person_id")
    return frame


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    T: float | np.ndarray = 52.0,
    holdout: float = 0.0,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Customers from the BG/NBD process, first purchase at time 0.

    Returns
    -------
    pandas.DataFrame
        ``repeat_purchases``, ``recency``, ``T`` (calibration) and ``holdout_purchases`` in
        ``(T, T + holdout]``.
    """
    rng = _rng(random_state)
    ages = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    times = []
    for i in range(n):
        end = ages[i] + holdout
        t, out = 0.0, []
        while True:
            t += rng.exponential(1.0 / lam[i]) if lam[i] > 0 else np.inf
            if t > end:
                break
            out.append(t)
            if rng.random() < p[i]:
                break
        times.append(np.array(out))
    return _summarise(times, ages, holdout)


def simulate_pareto_nbd(
    n: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    *,
    T: float | np.ndarray = 52.0,
    holdout: float = 0.0,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Customers from the Pareto/NBD process (same columns as :func:`simulate_bgnbd`)."""
    rng = _rng(random_state)
    ages = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    tau = rng.exponential(1.0 / mu)
    times = []
    for i in range(n):
        end = min(tau[i], ages[i] + holdout)
        count = rng.poisson(lam[i] * end)
        times.append(np.sort(rng.uniform(0.0, end, count)))
    return _summarise(times, ages, holdout)


def simulate_spend(
    frequency: np.ndarray,
    p: float,
    q: float,
    gamma: float,
    random_state: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Average spend of ``frequency`` transactions per customer under Gamma-Gamma (0 if none)."""
    rng = _rng(random_state)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    out = np.zeros(len(x))
    buyers = x > 0
    # The mean of x Gamma(p, nu) draws is Gamma(p x, nu x).
    out[buyers] = rng.gamma(p * x[buyers], 1.0 / (nu[buyers] * x[buyers]))
    return out


__all__ = ["simulate_bgnbd", "simulate_pareto_nbd", "simulate_spend"]
