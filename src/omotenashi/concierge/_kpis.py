"""Contact-centre KPIs from contact and survey events, before and after a concierge assignment.

Event conventions (any channel: ``phone``, ``chat``, ``email`` ...):

* ``contact`` — one contact with the customer; ``context.outcome`` is ``resolved``,
  ``unresolved``, ``transferred`` or ``abandoned``; ``context.handle_seconds`` its handling time;
* ``survey`` — an answer; ``context.kind`` is ``csat`` (``rating`` 1-5; 4 or 5 = satisfied) or
  ``nps`` (``rating`` 0-10; 9-10 promoters, 0-6 detractors).

KPIs: first-contact resolution (a resolved contact with no other contact by the same customer
within ``repeat_days`` after it), repeat-contact rate (contacts followed by another within
``repeat_days``), contacts per customer, average handling time (seconds), CSAT (share
satisfied) and NPS (% promoters - % detractors). Contacts whose ``repeat_days`` window is not
over by the end of the data are left out of FCR and repeat rate (their outcome is not known
yet).

Intervals (95%): **Wilson** score intervals for the shares (FCR, repeat rate, CSAT);
**bootstrap** percentile intervals (2,000 resamples, fixed seed) for contacts per customer and
handling time — resampling *customers*, since one customer's contacts are not independent — and
for NPS, resampling answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 2000


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval of a share (None, None for n = 0)."""
    if n == 0:
        return None, None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return round(centre - half, 4), round(centre + half, 4)


def _bootstrap(
    groups: list[np.ndarray], statistic: Any, seed: int
) -> tuple[float | None, float | None]:
    if not groups:
        return None, None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        pick = rng.integers(0, len(groups), len(groups))
        value = statistic([groups[i] for i in pick])
        if value is not None and not np.isnan(value):
            values.append(value)
    if not values:
        return None, None
    low, high = np.percentile(values, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def _context(frame: pd.DataFrame, key: str) -> pd.Series:
    return frame["context"].map(lambda c: c.get(key) if isinstance(c, dict) else None)


def contact_table(events: pd.DataFrame, repeat_days: int = 7) -> pd.DataFrame:
    """One row per contact: ``person_id, timestamp, channel, outcome, handle_seconds,
    repeated`` (another contact by the person within ``repeat_days`` after), ``settled`` (that
    window is over by the last event of the data) and ``fcr``."""
    contacts = events[events["type"] == "contact"].sort_values(["person_id", "timestamp"])
    end = events["timestamp"].max() if len(events) else pd.Timestamp(0, tz="UTC")
    table = pd.DataFrame(
        {
            "person_id": contacts["person_id"].to_numpy(),
            "timestamp": contacts["timestamp"].to_numpy(),
            "channel": contacts["channel"].to_numpy(),
            "outcome": _context(contacts, "outcome").to_numpy(),
            "handle_seconds": pd.to_numeric(
                _context(contacts, "handle_seconds"), errors="coerce"
            ).to_numpy(),
        }
    )
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True)
    following = table.groupby("person_id")["timestamp"].shift(-1)
    window = pd.Timedelta(days=repeat_days)
    table["repeated"] = (following - table["timestamp"]) <= window
    table["settled"] = table["timestamp"] + window <= end
    table["fcr"] = (table["outcome"] == "resolved") & ~table["repeated"]
    return table


def _answers(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    surveys = events[events["type"] == "survey"]
    surveys = surveys[(_context(surveys, "kind") == kind).astype(bool).to_numpy()]
    return surveys[["person_id", "timestamp", "rating"]].dropna(subset=["rating"])


def kpis(
    contacts: pd.DataFrame, surveys: Mapping[str, pd.DataFrame], seed: int = 0
) -> dict[str, Any]:
    """The KPIs of a set of contacts (from :func:`contact_table`) and survey answers
    (``{"csat": frame, "nps": frame}`` with ``person_id, rating``), each with its interval."""
    settled = contacts[contacts["settled"]]
    out: dict[str, Any] = {
        "contacts": len(contacts),
        "customers": int(contacts["person_id"].nunique()),
    }
    n = len(settled)
    fcr = int(settled["fcr"].sum())
    repeats = int(settled["repeated"].sum())
    out["fcr"] = {
        "value": round(fcr / n, 4) if n else None,
        "n": n,
        "ci": wilson(fcr, n),
        "method": "wilson",
    }
    out["repeat_rate"] = {
        "value": round(repeats / n, 4) if n else None,
        "n": n,
        "ci": wilson(repeats, n),
        "method": "wilson",
    }
    per_person = [
        g["handle_seconds"].to_numpy(dtype=float) for _, g in contacts.groupby("person_id")
    ]
    counts = [np.array([len(g)]) for g in per_person]
    out["contacts_per_customer"] = {
        "value": round(len(contacts) / out["customers"], 4) if out["customers"] else None,
        "n": out["customers"],
        "ci": _bootstrap(counts, lambda gs: float(np.mean([g[0] for g in gs])), seed),
        "method": "bootstrap (customers)",
    }

    def mean_handle(gs: list[np.ndarray]) -> float | None:
        values = np.concatenate(gs) if gs else np.array([])
        values = values[~np.isnan(values)]
        return float(values.mean()) if len(values) else None

    aht = mean_handle(per_person)
    out["aht_seconds"] = {
        "value": None if aht is None else round(aht, 2),
        "n": int(contacts["handle_seconds"].notna().sum()),
        "ci": _bootstrap(per_person, mean_handle, seed),
        "method": "bootstrap (customers)",
    }
    csat = surveys.get("csat", pd.DataFrame(columns=["rating"]))
    ratings = pd.to_numeric(csat["rating"], errors="coerce").dropna()
    satisfied = int((ratings >= 4).sum())
    out["csat"] = {
        "value": round(satisfied / len(ratings), 4) if len(ratings) else None,
        "n": len(ratings),
        "ci": wilson(satisfied, len(ratings)),
        "method": "wilson",
    }
    nps = pd.to_numeric(
        surveys.get("nps", pd.DataFrame(columns=["rating"]))["rating"], errors="coerce"
    ).dropna()

    def score(gs: list[np.ndarray]) -> float:
        values = np.concatenate(gs)
        return float(100 * ((values >= 9).mean() - (values <= 6).mean()))

    answers = [np.array([v]) for v in nps.to_numpy(dtype=float)]
    out["nps"] = {
        "value": round(score(answers), 2) if answers else None,
        "n": len(answers),
        "ci": _bootstrap(answers, score, seed),
        "method": "bootstrap (answers)",
    }
    return out


def kpis_around_assignment(
    events: pd.DataFrame,
    assigned_at: Mapping[str, pd.Timestamp],
    window_days: int = 90,
    repeat_days: int = 7,
    seed: int = 0,
) -> dict[str, Any]:
    """KPIs of assigned customers over ``window_days`` before and after each one's assignment,
    plus the whole data's KPIs (``all``)."""
    table = contact_table(events, repeat_days)
    answers = {kind: _answers(events, kind) for kind in ("csat", "nps")}
    result: dict[str, Any] = {
        "repeat_days": repeat_days,
        "window_days": window_days,
        "all": kpis(table, answers, seed),
    }
    window = pd.Timedelta(days=window_days)
    for side in ("before", "after"):
        keep_contacts = []
        keep_answers: dict[str, list[pd.DataFrame]] = {k: [] for k in answers}
        for person, at in assigned_at.items():
            at = pd.Timestamp(at)
            low, high = (at - window, at) if side == "before" else (at, at + window)
            mine = table[table["person_id"] == person]
            keep_contacts.append(mine[(mine["timestamp"] >= low) & (mine["timestamp"] < high)])
            for kind, frame in answers.items():
                theirs = frame[frame["person_id"] == person]
                keep_answers[kind].append(
                    theirs[(theirs["timestamp"] >= low) & (theirs["timestamp"] < high)]
                )
        contacts = pd.concat(keep_contacts) if keep_contacts else table.iloc[0:0]
        surveys = {
            k: (pd.concat(v) if v else answers[k].iloc[0:0]) for k, v in keep_answers.items()
        }
        result[side] = kpis(contacts, surveys, seed)
    result["assigned_customers"] = len(assigned_at)
    return result
