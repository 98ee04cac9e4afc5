"""Model names → classes, so that CLI, artefacts and the evaluator refer to models by name."""

from __future__ import annotations

from typing import Any

from omotenashi.errors import DataError
from omotenashi.recommend._base import Recommender
from omotenashi.recommend._content import ContentBased, Hybrid
from omotenashi.recommend._graph import RP3beta
from omotenashi.recommend._linear import EASE, BM25ItemKNN, ItemKNN, RecentEASE
from omotenashi.recommend._mf import BPR, IALS, ImplicitMF
from omotenashi.recommend._popularity import Popularity
from omotenashi.recommend._session import (
    STAN,
    VSKNN,
    VSTAN,
    BoughtTogether,
    SequentialRules,
    SessionKNN,
)
from omotenashi.recommend._userknn import UserKNN


class Trending(Popularity):
    """:class:`Popularity` with a 14-day half-life: what is popular *now*."""

    name = "trending"

    def __init__(self, half_life_days: float | None = 14.0, by_category: bool = False) -> None:
        super().__init__(half_life_days, by_category)


MODELS: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (
        Popularity,
        Trending,
        ItemKNN,
        BM25ItemKNN,
        UserKNN,
        EASE,
        RecentEASE,
        RP3beta,
        ImplicitMF,
        IALS,
        BPR,
        ContentBased,
        Hybrid,
        SessionKNN,
        VSKNN,
        STAN,
        VSTAN,
        SequentialRules,
        BoughtTogether,
    )
}


def make_model(name: str, **params: Any) -> Recommender:
    """Build a registered model by name with optional hyper-parameters.

    Raises
    ------
    DataError
        Unknown name or parameter.
    """
    cls = MODELS.get(name)
    if cls is None:
        raise DataError(
            f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}", field="model"
        )
    return cls().set_params(**params)
