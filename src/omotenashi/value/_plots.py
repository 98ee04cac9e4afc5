"""PNG figures of the value models (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omotenashi.value._data import CalibrationHoldout


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _grid(model: Any, T: float, max_frequency: int, n_recency: int = 40) -> tuple[Any, ...]:
    freqs = np.arange(max_frequency + 1, dtype=float)
    recs = np.linspace(0.0, T, n_recency)
    f, r = np.meshgrid(freqs, recs, indexing="ij")
    r = np.where(f == 0, 0.0, r)
    grid = pd.DataFrame(
        {"repeat_purchases": f.ravel(), "recency": r.ravel(), "T": np.full(f.size, T)}
    )
    return freqs, recs, grid


def plot_expected_purchases_heatmap(
    model: Any, T: float, t: float, max_frequency: int = 20, path: str | Path | None = None
) -> Any:
    """Heat map of expected purchases in the next ``t`` units by frequency and recency.

    Parameters
    ----------
    model : BGNBD or ParetoNBD
        Fitted count model.
    T : float
        Age of the hypothetical customers (time since first purchase).
    t : float
        Horizon.
    max_frequency : int
        Largest frequency shown.
    path : str or Path, optional
        Where to save the PNG.

    Returns
    -------
    matplotlib.figure.Figure
    """
    freqs, recs, grid = _grid(model, T, max_frequency)
    z = model.expected_purchases(grid, t).reshape(len(freqs), len(recs))
    return _heatmap(
        z,
        freqs,
        recs,
        f"Expected purchases in the next {t:g} units (T = {T:g})",
        "expected purchases",
        path,
    )


def plot_p_alive_heatmap(
    model: Any, T: float, max_frequency: int = 20, path: str | Path | None = None
) -> Any:
    """Heat map of P(alive) by frequency and recency for customers of age ``T``."""
    freqs, recs, grid = _grid(model, T, max_frequency)
    z = model.probability_alive(grid).reshape(len(freqs), len(recs))
    return _heatmap(z, freqs, recs, f"P(alive) (T = {T:g})", "P(alive)", path)


def _heatmap(
    z: np.ndarray,
    freqs: np.ndarray,
    recs: np.ndarray,
    title: str,
    label: str,
    path: str | Path | None,
) -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    im = ax.imshow(
        z,
        origin="lower",
        aspect="auto",
        cmap="viridis",
        extent=(recs[0], recs[-1], freqs[0] - 0.5, freqs[-1] + 0.5),
    )
    ax.set_xlabel("recency (time of last purchase)")
    ax.set_ylabel("frequency (repeat purchases)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=label)
    return _finish(fig, path)


def plot_calibration_holdout(
    model: Any,
    split: CalibrationHoldout,
    max_frequency: int = 7,
    path: str | Path | None = None,
) -> Any:
    """Mean predicted vs actual holdout purchases, by calibration frequency (capped)."""
    plt = _pyplot()
    s = split.calibration
    predicted = model.expected_purchases(s, split.holdout_length)
    group = np.minimum(s["repeat_purchases"].to_numpy(), max_frequency)
    frame = pd.DataFrame(
        {"group": group, "predicted": predicted, "actual": split.holdout_purchases.to_numpy()}
    )
    means = frame.groupby("group")[["actual", "predicted"]].mean()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(means.index, means["actual"], "o-", label="actual")
    ax.plot(means.index, means["predicted"], "s--", label="predicted")
    labels = [f"{int(g)}" if g < max_frequency else f"{int(g)}+" for g in means.index]
    ax.set_xticks(means.index, labels)
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("mean purchases in holdout")
    ax.set_title("Calibration vs holdout")
    ax.legend()
    return _finish(fig, path)


def plot_segment_sizes(segments: pd.DataFrame, path: str | Path | None = None) -> Any:
    """Horizontal bar chart of customers per segment (``segment_summary`` output)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(segments) + 1.5))
    names = [str(i) for i in segments.index]
    ax.barh(names[::-1], segments["customers"].to_numpy()[::-1])
    ax.set_xlabel("customers")
    ax.set_title("Segment sizes")
    return _finish(fig, path)


def _finish(fig: Any, path: str | Path | None) -> Any:
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path), format="png", dpi=100)
    return fig


__all__ = [
    "plot_calibration_holdout",
    "plot_expected_purchases_heatmap",
    "plot_p_alive_heatmap",
    "plot_segment_sizes",
]
