"""Fixtures: small planted-truth data, two taste groups that share items only within the group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_interactions(seed: int = 0, n_users: int = 40, n_items: int = 30) -> pd.DataFrame:
    """Users 0..19 like items s0..s14 (sci-fi), users 20..39 like r0..r14 (romance)."""
    rng = np.random.default_rng(seed)
    rows = []
    half = n_items // 2
    for u in range(n_users):
        group = "s" if u < n_users // 2 else "r"
        chosen = rng.choice(half, size=8, replace=False)
        for t, i in enumerate(chosen):
            rows.append((f"u{u}", f"{group}{i}", 1.0, 1_000 + 10 * t + u))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "weight", "timestamp"])


def make_items(n_items: int = 30) -> pd.DataFrame:
    half = n_items // 2
    rows = []
    for g, cat in (("s", "SciFi"), ("r", "Romance")):
        for i in range(half):
            rows.append(
                {
                    "item_id": f"{g}{i}",
                    "title": f"{cat} story {i}",
                    "categories": [cat] + (["Drama"] if i % 3 == 0 else []),
                    "tags": ["space"] if g == "s" else ["love"],
                    "description": "ships and stars" if g == "s" else "hearts and letters",
                    "attributes": {"available": i != 1},
                }
            )
    # a new sci-fi item nobody has interacted with yet
    rows.append(
        {
            "item_id": "s_new",
            "title": "SciFi story new",
            "categories": ["SciFi"],
            "tags": ["space"],
            "description": "ships and stars",
            "attributes": {},
        }
    )
    return pd.DataFrame(rows)


@pytest.fixture()
def interactions() -> pd.DataFrame:
    return make_interactions()


@pytest.fixture()
def items() -> pd.DataFrame:
    return make_items()


@pytest.fixture(scope="session")
def fitted():
    """Every registered model fitted once on the planted data: (models, interactions, items)."""
    from omotenashi.recommend import MODELS, make_model

    fast = {"als": {"iterations": 3}, "bpr": {"iterations": 5}}
    data, catalogue = make_interactions(), make_items()
    models = {name: make_model(name, **fast.get(name, {})).fit(data, catalogue) for name in MODELS}
    return models, data, catalogue


@pytest.fixture()
def events() -> pd.DataFrame:
    """Store-shaped purchase events of the planted interactions."""
    return make_events()


def make_events() -> pd.DataFrame:
    """Store-shaped purchase events of the planted interactions."""
    data = make_interactions()
    t0 = pd.Timestamp("2025-03-01", tz="UTC")
    return pd.DataFrame(
        {
            "person_id": data["user_id"],
            "customer_id": data["user_id"],
            "anonymous_id": None,
            "type": "purchase",
            "item_id": data["item_id"],
            "timestamp": t0 + pd.to_timedelta(data["timestamp"], unit="min"),
        }
    )
