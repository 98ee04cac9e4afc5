"""Model choice with tuning (``evaluation.select_model``): validation on training data only, the
recency-signal test, the time budget and the progress reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import omotenashi.evaluation._tuning as tuning
from omotenashi.errors import DataError
from omotenashi.evaluation import paired_t, select_model, split_p1, validation_split
from omotenashi.recommend import MODELS, Hybrid, Recommender, make_model

from ..recommend.conftest import make_interactions


def ring_walks(shuffle_time: bool, seed: int = 0, n_users: int = 240, n_items: int = 120):
    """Each customer walks along a ring of items, one step at a time: what comes next follows
    from what they did *last*. With ``shuffle_time`` the times are permuted within each customer,
    so the same pairs carry no time signal."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        times = np.arange(20) * 60 + u
        if shuffle_time:
            times = rng.permutation(times)
        for step, t in enumerate(times):
            rows.append((f"u{u}", f"i{(start + step) % n_items}", 1.0, int(t)))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "weight", "timestamp"])
    frame["timestamp"] = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        frame["timestamp"], unit="min"
    )
    return frame


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["user_id"].astype(str), frame["item_id"].astype(str), strict=True))


def test_tuning_sees_training_rows_only(monkeypatch):
    """Everything the tuner fits on or scores against comes from the rows it was given; the
    held-out test rows of an outer split never appear (a leak into validation fails here)."""
    data = make_interactions(n_users=60)
    outer = split_p1(data, min_rating=None)
    test_pairs, train_pairs = _pairs(outer.test), _pairs(outer.train)
    assert test_pairs and not test_pairs & train_pairs

    fitted: list[set[tuple[str, str]]] = []
    targets: list[set[tuple[str, str]]] = []
    original_fit, original_split = Recommender.fit, tuning.validation_split

    def spy_fit(self, interactions, items=None):
        fitted.append(_pairs(interactions))
        return original_fit(self, interactions, items)

    def spy_split(interactions, *args, **kwargs):
        val = original_split(interactions, *args, **kwargs)
        targets.append(_pairs(val.test))
        return val

    blended: list[set[tuple[str, str]]] = []
    scored: list[set[str]] = []
    original_blend, original_batch = Hybrid.of_fitted.__func__, Recommender.recommend_batch
    original_init, original_score = tuning._Scorer.__init__, tuning._Scorer.__call__
    #: every scoring: what the model (each part of a blend) was fitted on, and the targets
    scorings: list[tuple[list[set[tuple[str, str]]], set[tuple[str, str]]]] = []

    def learnt(model) -> set[tuple[str, str]]:
        model = getattr(model, "model", model)  # a blend's part whose scores are kept
        u, i = model.user_items_.nonzero()
        return set(zip(model.user_ids_[u], model.item_ids_[i], strict=True))

    def spy_init(self, val):
        original_init(self, val)
        self.spied_targets = _pairs(val.test)

    def spy_score(self, model):
        parts = model.models_ if isinstance(model, Hybrid) else [model]
        scorings.append(([learnt(m) for m in parts], self.spied_targets))
        return original_score(self, model)

    def spy_blend(cls, models, *args, **kwargs):
        blended.extend(learnt(m) for m in models)  # what each part of the blend was fitted on
        return original_blend(cls, models, *args, **kwargs)

    def spy_batch(self, user_ids=None, *args, **kwargs):
        if isinstance(self, Hybrid):
            scored.append({str(u) for u in user_ids})
        return original_batch(self, user_ids, *args, **kwargs)

    monkeypatch.setattr(Recommender, "fit", spy_fit)
    monkeypatch.setattr(tuning, "validation_split", spy_split)
    monkeypatch.setattr(tuning._Scorer, "__init__", spy_init)
    monkeypatch.setattr(tuning._Scorer, "__call__", spy_score)
    monkeypatch.setattr(Hybrid, "of_fitted", classmethod(spy_blend))
    monkeypatch.setattr(Recommender, "recommend_batch", spy_batch)
    selection = select_model(outer.train, ["ease", "rp3beta", "popularity"], budget_s=5)
    assert selection.model in {"ease", "rp3beta", "popularity", "hybrid"}
    assert fitted and targets
    assert selection.blend["tried"] and blended and scored  # the blend was scored too
    for seen in fitted + targets + blended:
        assert seen <= train_pairs
        assert not seen & test_pairs
    # every model scored, each part of every blend included, was fitted without the targets
    # it is scored against (the time split's, or a further fold's)
    assert len(scorings) >= selection.validation["folds"] * 2
    assert {frozenset(t) for _, t in scorings} == {frozenset(t) for t in targets}
    for parts, target in scorings:
        assert parts and all(not learnt_pairs & target for learnt_pairs in parts)
    # the blend is scored on the validation customers only
    assert all(users == {u for u, _ in targets[0]} for users in scored)


def test_validation_split_holds_out_each_customers_latest_and_keeps_weights():
    data = make_interactions().assign(weight=2.5)
    val = validation_split(data)
    assert (val.train["weight"] == 2.5).all()
    last_train = val.train.groupby("user_id")["timestamp"].max()
    held = val.test.merge(data, on=["user_id", "item_id"]).groupby("user_id")["timestamp"].min()
    assert (held > last_train.loc[held.index]).all()
    assert _pairs(val.train) | _pairs(val.test) == _pairs(data)


def same_day_purchases(n_users: int = 300, n_items: int = 200, per_user: int = 15, seed: int = 0):
    """Every interaction at one time (a file with dates only), and items numbered by
    popularity: item 0 the most popular. Item ids must not pick the held-out items."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity /= popularity.sum()
    rows = [
        (f"u{u}", str(i), 1.0)
        for u in range(n_users)
        for i in rng.choice(n_items, size=per_user, replace=False, p=popularity)
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "weight"])
    return frame.assign(timestamp=pd.Timestamp("2025-01-01", tz="UTC"))


def test_ties_in_time_do_not_let_item_ids_pick_the_validation_items():
    """On data whose times all tie, P1's former tie rule (item id) would hold out each
    customer's highest-numbered items — here the least popular — and popularity would score
    nothing on validation. The validation split breaks ties by a hash of the pair instead: its
    held-out items are numbered like all items, and popularity scores what it should."""
    data = same_day_purchases()
    by_id = split_p1(data, min_rating=None, ties="item_id")
    val = validation_split(data)
    mean_id = data["item_id"].astype(int).mean()
    assert by_id.test["item_id"].astype(int).mean() > 2 * mean_id  # the bias, shown
    assert abs(val.test["item_id"].astype(int).mean() - mean_id) < 0.25 * mean_id
    # the same split whatever the row order; every pair on exactly one side
    again = validation_split(data.sample(frac=1.0, random_state=7))
    assert _pairs(again.test) == _pairs(val.test)
    assert _pairs(val.train) | _pairs(val.test) == _pairs(data)
    assert not _pairs(val.train) & _pairs(val.test)
    selection = select_model(data, ["popularity"], budget_s=0, blend=False)
    assert selection.table[0]["ndcg@10"] > 0.1
    on_ids, _ = tuning._Scorer(by_id)(make_model("popularity").fit(by_id.train))
    assert on_ids["ndcg@10"] < 0.25 * selection.table[0]["ndcg@10"]


def test_the_hash_tie_rule_is_seeded_and_checked():
    data = same_day_purchases(n_users=40)
    first = split_p1(data, min_rating=None, ties="hash", random_state=1)
    assert _pairs(first.test) == _pairs(
        split_p1(data, min_rating=None, ties="hash", random_state=1).test
    )
    assert _pairs(first.test) != _pairs(
        split_p1(data, min_rating=None, ties="hash", random_state=2).test
    )
    with pytest.raises(DataError, match="ties must be 'item_id' or 'hash'"):
        split_p1(data, min_rating=None, ties="rows")


def test_recency_is_used_only_where_timestamps_carry_signal():
    ordered = select_model(ring_walks(False), ["ease"], budget_s=30)
    assert ordered.recency["signal"] is True and ordered.recency["t"] > 2
    assert ordered.params["recency_boost"] > 0

    shuffled = select_model(ring_walks(True), ["ease"], budget_s=30)
    assert shuffled.recency["signal"] is False
    assert shuffled.params.get("recency_boost", 0.0) == 0.0
    assert not any(t["params"].get("recency_boost", 0) > 0 for t in shuffled.trials[2:])

    untimed = ring_walks(False).assign(timestamp=pd.NaT)
    none = select_model(untimed, ["ease"], budget_s=30)
    assert none.recency["signal"] is False and "no time order" in none.recency["reason"]


def test_tuning_improves_on_the_defaults_and_reports_every_candidate():
    data = ring_walks(True)
    steps: list[tuple[int, int]] = []
    selection = select_model(
        data,
        ["ease", "rp3beta", "itemknn", "popularity"],
        budget_s=60,
        progress=lambda done, total, message: steps.append((done, total)),
    )
    table = {row["model"]: row for row in selection.table}
    # every candidate, and the blend of the two best
    assert set(table) == {"ease", "rp3beta", "itemknn", "popularity", "hybrid"}
    # shuffled times: the rows are ranked by their NDCG@10 over the three folds
    assert selection.validation["folds"] == tuning.BLEND_FOLDS == 3
    ranks = [r["folds_ndcg@10"] for r in selection.table]
    assert ranks == sorted(ranks, reverse=True)
    assert selection.model == selection.table[0]["model"]
    for row in selection.table:
        if row["model"] != "hybrid":  # the time split's figure: what the search tuned on
            assert row["ndcg@10"] >= row["default_ndcg@10"]
    singles = [r for r in selection.table if r["model"] != "hybrid"]
    assert table["hybrid"]["params"]["components"] == [r["model"] for r in singles[:2]]
    assert table["hybrid"]["default_ndcg@10"] == singles[0]["ndcg@10"]
    assert table["ease"]["trials"] > 1 and "l2" in table["ease"]["params"]
    assert {"alpha", "beta"} <= set(table["rp3beta"]["params"])
    # progress: never backwards, never past the total, and it ends complete
    dones = [d for d, _ in steps]
    assert dones == sorted(dones) and all(d <= t for d, t in steps)
    assert steps[-1][0] == steps[-1][1]


def test_each_row_scores_what_its_settings_give_when_fitted_again():
    """A scoring value tried and rejected must not stay on the fitted model: every row's
    validation NDCG@10 is what a model fitted afresh with the row's settings scores."""
    data = ring_walks(False, n_users=120)
    selection = select_model(data, ["ease", "rp3beta", "popularity"], budget_s=60, blend=False)
    val = validation_split(data)
    score = tuning._Scorer(val)
    for row in selection.table:
        again = make_model(row["model"], **row["params"]).fit(val.train)
        assert score(again)[0]["ndcg@10"] == pytest.approx(row["ndcg@10"], abs=1e-12), row


def test_budget_zero_scores_the_defaults_only():
    selection = select_model(ring_walks(True), ["ease", "popularity"], budget_s=0)
    assert all(row["trials"] == 1 for row in selection.table)
    assert selection.budget_exhausted is True


def test_bad_input():
    with pytest.raises(DataError, match="no candidate"):
        select_model(make_interactions(), [])
    with pytest.raises(DataError, match="unknown model"):
        select_model(make_interactions(), ["nope"])
    with pytest.raises(DataError, match="validation split"):
        select_model(make_interactions(n_users=4).head(4), ["ease"])


def test_ease_with_no_item_seen_twice_scores_nothing_instead_of_failing():
    from omotenashi.recommend import make_model

    data = make_interactions(n_users=2).groupby("item_id").head(1)
    model = make_model("ease", min_support=2).fit(data)
    assert not model.B_.any()


def test_paired_t():
    assert paired_t(np.array([0.0, 0.0, 0.0])) == 0.0
    assert paired_t(np.array([1.0, 1.2, 0.8, 1.1])) > 2
    assert abs(paired_t(np.array([1.0, -1.0, 1.0, -1.0]))) < 1e-9


def test_a_candidate_that_cannot_be_fitted_is_left_out(monkeypatch):
    monkeypatch.setattr(tuning, "DENSE_ITEM_LIMIT", 5)
    steps: list[tuple[int, int]] = []
    selection = select_model(
        ring_walks(True),
        ["ease", "popularity"],
        budget_s=5,
        progress=lambda done, total, message: steps.append((done, total)),
    )
    assert selection.model == "popularity"
    assert [row["model"] for row in selection.table] == ["popularity"]
    assert "dense" in selection.skipped["ease"]
    assert all(d <= t for d, t in steps) and steps[-1][0] == steps[-1][1]
    with pytest.raises(DataError, match="no candidate model could be fitted"):
        select_model(ring_walks(True), ["ease"], budget_s=5)


# -- the blend of the two best candidates -------------------------------------------------------
class Span(Recommender):
    """Scores each item by how many of the customer's items lie within 3 steps of it on the ring
    of :func:`ring_walks` (the held-out items sit inside the walked stretch). ``parity`` 0 or 1:
    only customers with an even or odd number get those scores, the others none (0 for every
    item); ``sign`` -1 turns the scores around (a part that only hurts)."""

    name = "test_span"
    exact_reasons = False

    def __init__(self, parity: int | None = None, sign: float = 1.0, n_items: int = 120) -> None:
        self.parity = parity
        self.sign = sign
        self.n_items = n_items

    def _fit(self, frame, items):
        ring = np.array([int(i[1:]) for i in self.item_ids_])
        steps = (ring[:, None] - ring[None, :]) % self.n_items
        near = np.minimum(steps, self.n_items - steps) <= 3
        np.fill_diagonal(near, False)
        self.near_ = near.astype(np.float64)

    def _score(self, X, ages):
        return self.sign * np.asarray((X > 0) @ self.near_, dtype=np.float64)

    def _score_users(self, rows, X, ages):
        S = self._score(X, ages)
        if self.parity is not None:
            odd = np.array([int(u[1:]) % 2 for u in self.user_ids_[rows]])
            S[odd != self.parity] = 0.0
        return S


class EvenSpan(Span):
    name = "test_span_even"

    def __init__(self, parity: int | None = 0, sign: float = 1.0, n_items: int = 120) -> None:
        super().__init__(parity, sign, n_items)


class OddSpan(Span):
    name = "test_span_odd"

    def __init__(self, parity: int | None = 1, sign: float = 1.0, n_items: int = 120) -> None:
        super().__init__(parity, sign, n_items)


class AntiSpan(Span):
    name = "test_span_anti"

    def __init__(self, parity: int | None = None, sign: float = -1.0, n_items: int = 120) -> None:
        super().__init__(parity, sign, n_items)


@pytest.fixture()
def spans(monkeypatch):
    for cls in (Span, EvenSpan, OddSpan, AntiSpan):
        monkeypatch.setitem(MODELS, cls.name, cls)


def test_the_blend_is_chosen_when_it_beats_both_parts_on_validation(spans):
    """Each part knows half of the customers: only their blend knows them all."""
    data = ring_walks(True)
    selection = select_model(data, ["test_span_even", "test_span_odd", "popularity"], budget_s=30)
    rows = {row["model"]: row for row in selection.table}
    assert selection.model == "hybrid" and selection.table[0]["model"] == "hybrid"
    assert set(rows) == {"hybrid", "test_span_even", "test_span_odd", "popularity"}
    blend = rows["hybrid"]
    assert sorted(blend["params"]["components"]) == ["test_span_even", "test_span_odd"]
    assert blend["params"]["scaling"] == tuning.BLEND_SCALING
    # the two-part weights, then popularity at each addition weight (not kept: no gain)
    assert blend["trials"] == len(tuning.BLEND_WEIGHTS) + len(tuning.BLEND_ADD_WEIGHTS)
    assert [a["model"] for a in selection.blend["additions"]] == ["popularity"]
    assert selection.blend["additions"][0]["kept"] is False
    best_single = max(rows["test_span_even"]["ndcg@10"], rows["test_span_odd"]["ndcg@10"])
    assert blend["ndcg@10"] > 1.5 * best_single  # each part alone serves half the customers
    assert selection.blend["kept"] is True and selection.blend["best_single"] == best_single
    assert selection.params == blend["params"]
    # the winner refitted from its settings scores what the blend scored on validation
    val = validation_split(data)
    refitted = make_model("hybrid", **selection.params).fit(val.train)
    assert tuning._Scorer(val)(refitted)[0]["ndcg@10"] == pytest.approx(blend["ndcg@10"])


def test_the_blend_is_not_kept_when_it_does_not_beat_the_best_part(spans):
    """A second part that only turns the first around: no weight beats the first alone (a tie
    at best), so the single candidate stays the choice; the blend is still in the table."""
    selection = select_model(ring_walks(True), ["test_span", "test_span_anti"], budget_s=30)
    rows = {row["model"]: row for row in selection.table}
    assert selection.model == "test_span"
    assert [r["model"] for r in selection.table][0] == "test_span"
    assert selection.blend["tried"] is True and selection.blend["kept"] is False
    assert rows["hybrid"]["ndcg@10"] <= rows["test_span"]["ndcg@10"]
    assert rows["hybrid"]["params"]["components"] == ["test_span", "test_span_anti"]


def test_the_blend_needs_two_candidates_time_and_can_be_turned_off(spans):
    one = select_model(ring_walks(True), ["test_span"], budget_s=5)
    assert one.blend == {"tried": False, "reason": "fewer than two candidates"}
    off = select_model(ring_walks(True), ["test_span_even", "test_span_odd"], blend=False)
    assert off.blend["tried"] is False and off.model != "hybrid"
    steps: list[tuple[int, int]] = []
    broke = select_model(
        ring_walks(True),
        ["test_span_even", "test_span_odd"],
        budget_s=0,
        progress=lambda done, total, message: steps.append((done, total)),
    )
    assert broke.blend["tried"] is False and "no time" in broke.blend["reason"]
    assert broke.model != "hybrid" and broke.budget_exhausted
    assert all(d <= t for d, t in steps) and steps[-1][0] == steps[-1][1]


def test_the_ease_candidate_searches_dlae_and_edlae_and_als_its_confidence():
    """EASE's space walks the zero-diagonal constraint and the dropout rate after λ; ALS's walks
    ``alpha``. Each trial's settings are what was fitted (a refit scores the same)."""
    assert [name for name, _ in tuning.SEARCH_SPACES["ease"].grid] == [
        "l2",
        "zero_diagonal",
        "dropout",
    ]
    assert 0.0 in dict(tuning.SEARCH_SPACES["ease"].grid)["dropout"]
    als_grid = dict(tuning.SEARCH_SPACES["als"].grid)
    assert make_model("als").get_params()["alpha"] in als_grid["alpha"]  # the walk's start
    data = ring_walks(True, n_users=120)
    selection = select_model(data, ["ease"], budget_s=60, extras=False, blend=False)
    tried = [t["params"] for t in selection.trials]
    assert any(p.get("zero_diagonal") is False for p in tried)
    assert any(p.get("dropout", 0.0) > 0 for p in tried)
    val = validation_split(data)
    best = selection.table[0]
    again = make_model("ease", **best["params"]).fit(val.train)
    assert tuning._Scorer(val)(again)[0]["ndcg@10"] == pytest.approx(best["ndcg@10"], abs=1e-12)
    als = select_model(
        data, ["als"], budget_s=60, extras=False, blend=False, spaces=_als_space_small()
    )
    assert len({t["params"].get("alpha", 2.0) for t in als.trials}) > 1


def _als_space_small():
    """The product's ALS space with only its ``alpha`` coordinate (fast on the test data)."""
    space = tuning.SEARCH_SPACES["als"]
    grid = tuple((n, v) for n, v in space.grid if n == "alpha")
    return {"als": tuning.SearchSpace({"factors": 8, "iterations": 3}, grid)}


def test_the_benchmarks_ease_peer_is_plain_ease_tuned_on_lambda_only():
    """``benchmarks/recommend.py`` compares the automatic choice with *published* EASE: its peer
    space must not search the dropout or the constraint the product's candidate searches, and
    its ALS peer must search the same ``alpha`` grid as the candidate."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "recommend.py"
    spec = importlib.util.spec_from_file_location("_bench_recommend", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ease = bench.PEER_SPACES["ease"]
    assert [name for name, _ in ease.grid] == ["l2"]
    assert not {"dropout", "zero_diagonal"} & set(ease.start)
    assert bench.PEER_SPACES["als"] == tuning.SEARCH_SPACES["als"]


def test_eases_lambda_grid_follows_the_scale_of_the_gram_diagonal():
    """EASE's λ is added to XᵀX: the grid is in units of the data's mean Gram diagonal, 1 on the
    tuning dataset. Weights twice as large make XᵀX four times as large, and the grid with it;
    on data like ml-100k's validation fit part the grid is the one written down."""
    data = ring_walks(False)  # 240 customers x 20 items, each item 40 customers, weight 1
    assert tuning.gram_scale(data) == pytest.approx(40.0 / tuning.REFERENCE_GRAM_DIAGONAL)
    doubled = data.assign(weight=2.0)
    assert tuning.gram_scale(doubled) == pytest.approx(4 * tuning.gram_scale(data))
    space = tuning.SEARCH_SPACES["ease"]
    assert tuning.scaled_space(space, 1.0) == space
    scaled = tuning.scaled_space(space, 2.5)
    assert scaled.start == {**space.start, "l2": 750.0}
    grids, base = dict(scaled.grid), dict(space.grid)
    assert grids["l2"] == tuple(float(f"{2.5 * v:.3g}") for v in base["l2"])
    assert grids["dropout"] == base["dropout"] and scaled.extras == space.extras
    selection = select_model(doubled, ["ease", "itemknn"], budget_s=0, blend=False)
    scale = selection.validation["l2_scale"]
    assert scale == pytest.approx(tuning.gram_scale(validation_split(doubled).train), rel=1e-3)
    ease = next(row for row in selection.table if row["model"] == "ease")
    assert ease["params"]["l2"] == float(f"{300.0 * scale:.3g}")
    itemknn = next(row for row in selection.table if row["model"] == "itemknn")
    assert itemknn["params"] == tuning.SEARCH_SPACES["itemknn"].start  # no λ: left alone


def test_pairs_met_but_not_liked_play_no_part_in_the_choice():
    """Weight-0 rows (rated low, returned) are nobody's relevant items: the choice with them is
    the choice without them, trial for trial."""
    data = same_day_purchases(n_users=60)
    rng = np.random.default_rng(5)
    unliked = data.sample(n=80, random_state=3).assign(
        item_id=lambda f: [str(9000 + int(v)) for v in rng.integers(0, 40, len(f))], weight=0.0
    )
    with_unliked = pd.concat([unliked, data], ignore_index=True)
    plain = select_model(data, ["popularity", "itemknn"], budget_s=0, blend=False)
    mixed = select_model(with_unliked, ["popularity", "itemknn"], budget_s=0, blend=False)
    keys = ("model", "params", "ndcg@10", "recall@20")
    assert [{k: r[k] for k in keys} for r in mixed.table] == [
        {k: r[k] for k in keys} for r in plain.table
    ]
