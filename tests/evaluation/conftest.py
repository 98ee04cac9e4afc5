"""Helpers shared by the evaluation tests and the ``evaluate`` CLI tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def random_ratings(seed=0, n_users=25, n_items=15):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=rng.integers(6, 12), replace=False)
        for t, i in enumerate(items):
            rows.append((u, i, rng.integers(1, 6), t * 100 + u))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
