"""PNG plots of an audit: the exposure Lorenz curve and, per attribute, bars of the groups'
figures. matplotlib is imported here, on first use, with the Agg backend (no display)."""

from __future__ import annotations

import re
from pathlib import Path

from omotenashi.audit._metrics import lorenz_curve
from omotenashi.audit._report import MISSING, AuditReport

#: The figures drawn for each group, with their titles.
GROUP_FIGURES: tuple[tuple[str, str], ...] = (
    ("coverage", "catalogue coverage"),
    ("gini", "exposure Gini"),
    ("popularity_lift", "popularity lift"),
    ("ild", "intra-list diversity"),
    ("narrowing", "narrowing (ILD newest window - list)"),
)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "attribute"


def write_plots(report: AuditReport, folder: str | Path) -> list[Path]:
    """Write ``exposure_lorenz.png``, ``narrowing_trajectory.png`` (when people have full
    windows) and ``by_<attribute>.png`` under ``folder`` (created); returns the files."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    items, share = lorenz_curve(report.exposure)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot(items, share, label="recommendations")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="equal exposure")
    gini = report.overall.get("gini")
    ax.set_title("Exposure Lorenz curve" + (f" (Gini {gini:.3f})" if gini is not None else ""))
    ax.set_xlabel("share of catalogue items (least exposed first)")
    ax.set_ylabel("share of recommendation slots")
    ax.legend(loc="upper left")
    fig.tight_layout()
    path = out / "exposure_lorenz.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)

    trajectory = report.overall.get("trajectory") or []
    if trajectory:
        labels = [f"window -{k}" for k in range(len(trajectory) - 1, 0, -1)] + ["recommended"]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(labels, trajectory, marker="o")
        ax.set_title(
            f"Diversity over each person's timeline ({report.overall['trajectory_customers']} "
            "people)"
        )
        ax.set_ylabel(f"mean ILD ({report.dissimilarity})")
        fig.tight_layout()
        path = out / "narrowing_trajectory.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    for attribute, breakdown in report.by.items():
        groups = breakdown["groups"]
        names = list(groups)
        fig, axes = plt.subplots(1, len(GROUP_FIGURES), figsize=(3.2 * len(GROUP_FIGURES), 4))
        for ax, (metric, title) in zip(axes, GROUP_FIGURES, strict=True):
            values = [groups[g].get(metric) for g in names]
            heights = [0.0 if v is None else v for v in values]
            colours = ["lightgrey" if g == MISSING else "tab:blue" for g in names]
            ticks = [f"{g}\n({groups[g]['customers']})" for g in names]  # with group sizes
            ax.bar(ticks, heights, color=colours)
            ax.set_title(title, fontsize=9)
            ax.tick_params(axis="x", labelrotation=0 if len(names) <= 4 else 45, labelsize=8)
        fig.suptitle(f"Audit by {attribute} (people per group in brackets)")
        fig.tight_layout()
        path = out / f"by_{_safe(attribute)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


__all__ = ["GROUP_FIGURES", "write_plots"]
