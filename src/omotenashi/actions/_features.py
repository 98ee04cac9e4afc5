"""The customer figures that eligibility rules, values and messages read, one row per customer.

Value models' scores (CLV, P(alive), segment) are used where ``value report`` saved them; where
not, a plain estimate stands in (spend so far for CLV, an exponential decay of the time since
the last purchase against the customer's own purchase rhythm for P(alive)), so that a new store
can rank actions before any model is fitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY_US = 86_400_000_000
#: Figures every customer row has (customer attributes and other scores come on top).
FEATURE_COLUMNS = (
    "recency_days",
    "tenure_days",
    "events",
    "frequency",
    "monetary",
    "aov",
    "clv",
    "p_alive",
    "lapse_risk",
    "value_at_risk",
)


def customer_features(
    summaries: pd.DataFrame,
    as_of_us: int,
    scores: pd.DataFrame | None = None,
    attributes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Figures per customer (index ``customer_id``).

    ``summaries``: ``customer_id, first_seen, last_seen, events, frequency, monetary,
    last_purchase`` (microseconds); ``scores``: index customer id, columns such as ``clv``,
    ``p_alive``, ``segment``; ``attributes``: ``customer_id`` plus attribute columns.
    """
    s = summaries.set_index(summaries["customer_id"].astype(str))
    last = pd.to_numeric(s["last_purchase"], errors="coerce").fillna(s["last_seen"]).astype(float)
    first = s["first_seen"].astype(float)
    out = pd.DataFrame(index=s.index.rename("customer_id"))
    out["recency_days"] = np.maximum((as_of_us - last) / DAY_US, 0.0)
    out["tenure_days"] = np.maximum((as_of_us - first) / DAY_US, 0.0)
    out["events"] = s["events"].astype(float)
    freq = s["frequency"].astype(float)
    out["frequency"] = freq
    out["monetary"] = s["monetary"].astype(float)
    out["aov"] = np.where(freq > 0, out["monetary"] / freq.where(freq > 0, 1.0), 0.0)
    rhythm = np.maximum(out["tenure_days"] / np.maximum(freq, 1.0), 30.0)
    p_alive = np.where(freq > 0, np.exp(-out["recency_days"] / rhythm), 0.0)
    out["clv"] = np.maximum(out["monetary"], 0.0)
    out["p_alive"] = p_alive
    if scores is not None and not scores.empty:
        sc = scores.reindex(out.index)
        for name in ("clv", "p_alive"):
            if name in sc.columns:
                given = pd.to_numeric(sc[name], errors="coerce")
                out[name] = given.fillna(out[name])
        for name in sc.columns:
            if name not in out.columns and name not in ("computed_at",):
                out[name] = sc[name]
    out["lapse_risk"] = 1.0 - out["p_alive"]
    out["value_at_risk"] = out["clv"] * out["lapse_risk"]
    if attributes is not None and not attributes.empty:
        attrs = attributes.set_index(attributes["customer_id"].astype(str)).drop(
            columns="customer_id"
        )
        attrs = attrs[[c for c in attrs.columns if c not in out.columns]]
        out = out.join(attrs, how="left")
    return out


__all__ = ["DAY_US", "FEATURE_COLUMNS", "customer_features"]
