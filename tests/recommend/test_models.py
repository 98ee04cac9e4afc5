"""Behaviour every model must have, plus exact checks of EASE and item-kNN against numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError, NotFittedError
from omotenashi.recommend import (
    DEFAULT_EVENT_WEIGHTS,
    EASE,
    ContentBased,
    EventWeights,
    Hybrid,
    ImplicitMF,
    ItemKNN,
    RecentEASE,
    RP3beta,
    Rules,
    interactions_from_events,
    make_model,
)


# --------------------------------------------------------------------------- exact checks
def test_ease_matches_direct_numpy_computation():
    X = np.array(
        [[1, 1, 0, 0, 1], [0, 1, 1, 0, 0], [1, 0, 1, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 0, 0]],
        dtype=float,
    )
    rows, cols = np.nonzero(X)
    frame = pd.DataFrame({"user_id": rows, "item_id": cols})
    lam = 2.0
    model = EASE(l2=lam).fit(frame)
    order = [int(i) for i in model.item_ids_]
    P = np.linalg.inv(X.T @ X + lam * np.eye(5))
    B = np.eye(5) - P / np.diag(P)
    np.fill_diagonal(B, 0.0)
    B = B[np.ix_(order, order)]
    np.testing.assert_allclose(model.B_, B, atol=1e-5)
    user_rows = [int(u) for u in model.user_ids_]
    expected = (X[user_rows][:, order]) @ B
    got = model._score(model.user_items_, model.user_ages_)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # the top unseen item of user "0" is the argmax of the numpy scores over their unseen items
    direct = X[0] @ (np.eye(5) - P / np.diag(P) - np.diag(np.diag(np.eye(5) - P / np.diag(P))))
    direct[X[0] > 0] = -np.inf
    assert model.recommend("0", 1)[0].item_id == str(int(np.argmax(direct)))


def test_ease_with_min_support_keeps_only_the_learned_block_and_scores_as_the_full_matrix(
    tmp_path,
):
    rng = np.random.default_rng(11)
    X = (rng.random((40, 14)) < 0.3).astype(float)
    X[:, 12] = 0.0
    X[3, 12] = 1.0  # items 12 and 13 are seen by one customer only: not learned
    X[:, 13] = 0.0
    X[7, 13] = 1.0
    rows, cols = np.nonzero(X)
    frame = pd.DataFrame({"user_id": rows, "item_id": cols})
    lam = 5.0
    model = RecentEASE(l2=lam, min_support=2).fit(frame)
    order = np.array([int(i) for i in model.item_ids_])
    learned = np.flatnonzero((X > 0).sum(axis=0) >= 2)
    # the full matrix, written out: EASE on the learned columns, zero elsewhere
    Xk = X[:, learned]
    P = np.linalg.inv(Xk.T @ Xk + lam * np.eye(len(learned)))
    Bk = np.eye(len(learned)) - P / np.diag(P)
    np.fill_diagonal(Bk, 0.0)
    full = np.zeros((14, 14))
    full[np.ix_(learned, learned)] = Bk
    full = full[np.ix_(order, order)]
    assert model.B_.shape == (len(learned), len(learned))  # only the block is held
    np.testing.assert_array_equal(np.sort(order[model.learned_]), learned)
    # scores, damping and recency included, equal those of the full matrix
    q = model._query(model.user_items_, model.user_ages_).toarray()
    expected = q @ full
    damp = (1.0 + model.item_popularity_) ** -model.popularity_exponent
    expected = np.where(expected > 0, expected * damp, expected)
    np.testing.assert_allclose(
        model._score(model.user_items_, model.user_ages_), expected, atol=1e-5
    )
    # one request's history is scored without sparse products (gathered rows or, for a long
    # history, the sparse path): the same scores as the batch computation
    batch = model._score(model.user_items_, model.user_ages_)
    for gather in (0, 100):
        model._GATHER_ROWS = gather
        for row in range(model.user_items_.shape[0]):
            x, a = model.user_items_[row], model.user_ages_[row]
            np.testing.assert_allclose(model._score(x, a)[0], expected[row], atol=1e-5)
            if gather == 0:  # the sparse path adds the batch's terms in its order: to the bit
                np.testing.assert_array_equal(model._score(x, a)[0], batch[row])
    for item in ("12", "13", "0"):
        got = model._similar_scores(model._item_pos[item], None, None)
        np.testing.assert_allclose(got, full[model._item_pos[item]], atol=1e-6)
    # reasons still add up to the served score
    user = str(rows[0])
    for rec in model.recommend(user, 5):
        assert sum(r.weight for r in rec.reasons) == pytest.approx(rec.score, rel=1e-5, abs=1e-7)
    # an artefact saved before the block (the full matrix, no "learned") loads and scores alike
    old = RecentEASE(l2=lam, min_support=2).fit(frame)
    old._load_state({"B": full.astype(np.float32)})
    assert old.learned_ is None
    np.testing.assert_allclose(old._score(old.user_items_, old.user_ages_), expected, atol=1e-5)
    assert [r.item_id for r in old.recommend(user, 5)] == [
        r.item_id for r in model.recommend(user, 5)
    ]


def _weighted_frame(seed: int, n_users: int = 30, n_items: int = 9):
    """A small weighted interaction matrix (weights 1-3, so ``diag(XᵀX)`` is not a count) and
    its frame."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n_users, n_items)) < 0.35) * rng.integers(1, 4, size=(n_users, n_items))
    X = X.astype(float)
    rows, cols = np.nonzero(X)
    frame = pd.DataFrame({"user_id": rows, "item_id": cols, "weight": X[rows, cols]})
    return X, frame


@pytest.mark.parametrize("zero_diagonal", [True, False])
def test_ease_with_dropout_matches_the_written_out_dlae_and_edlae(zero_diagonal):
    """Steck (NeurIPS 2020), written out with numpy: Λ = λI + p/(1-p)·diagMat(diag(XᵀX));
    DLAE B = (XᵀX + Λ)⁻¹XᵀX (its diagonal dropped when stored), EDLAE B = I - P/diag(P)."""
    X, frame = _weighted_frame(5)
    lam, p = 3.0, 0.3
    model = EASE(l2=lam, dropout=p, zero_diagonal=zero_diagonal).fit(frame)
    order = [int(i) for i in model.item_ids_]
    G = X.T @ X
    Lam = lam * np.eye(9) + p / (1 - p) * np.diag(np.diag(G))
    if zero_diagonal:
        P = np.linalg.inv(G + Lam)
        B = np.eye(9) - P / np.diag(P)
    else:
        B = np.linalg.solve(G + Lam, G)
    np.fill_diagonal(B, 0.0)
    B = B[np.ix_(order, order)]
    np.testing.assert_allclose(model.B_, B, atol=1e-5)
    assert not np.diag(model.B_).any()
    user_rows = [int(u) for u in model.user_ids_]
    np.testing.assert_allclose(
        model._score(model.user_items_, model.user_ages_),
        X[user_rows][:, order] @ B,
        atol=1e-5,
    )
    # dropout changes the weights: it is not plain EASE with another λ
    assert not np.allclose(model.B_, EASE(l2=lam).fit(frame).B_, atol=1e-3)


def test_ease_without_dropout_is_ease_exactly():
    X, frame = _weighted_frame(6)
    plain = EASE(l2=4.0).fit(frame)
    dropped = EASE(l2=4.0, dropout=0.0, zero_diagonal=True).fit(frame)
    # bit for bit the same weights (the stored float32 matrix), not merely close
    np.testing.assert_array_equal(dropped.B_, plain.B_)
    # and they are EASE's closed form, written out (float32 precision of the stored weights)
    order = [int(i) for i in plain.item_ids_]
    X = X[:, order]
    P = np.linalg.inv(X.T @ X + 4.0 * np.eye(9))
    B = np.eye(9) - P / np.diag(P)
    np.fill_diagonal(B, 0.0)
    np.testing.assert_allclose(plain.B_, B, atol=1e-6)


@pytest.mark.parametrize("zero_diagonal", [True, False])
@pytest.mark.parametrize("min_support", [1, 2])
def test_reasons_of_dlae_and_edlae_add_up_to_the_score(zero_diagonal, min_support):
    X, frame = _weighted_frame(7, n_users=40, n_items=12)
    frame = frame.assign(timestamp=np.arange(len(frame)))
    model = RecentEASE(
        l2=2.0, dropout=0.25, zero_diagonal=zero_diagonal, min_support=min_support
    ).fit(frame)
    for user in ("0", "5", "17"):
        recs = model.recommend(user, 5)
        assert recs
        for rec in recs:
            assert sum(r.weight for r in rec.reasons) == pytest.approx(
                rec.score, rel=1e-5, abs=1e-7
            )


@pytest.mark.parametrize("dropout", [-0.1, 1.0, 1.5])
def test_ease_dropout_outside_zero_one_is_refused(dropout):
    _, frame = _weighted_frame(8)
    with pytest.raises(DataError, match="dropout"):
        EASE(dropout=dropout).fit(frame)


def test_itemknn_cosine_matches_numpy():
    rng = np.random.default_rng(3)
    X = (rng.random((30, 12)) < 0.3).astype(float)
    rows, cols = np.nonzero(X)
    model = ItemKNN(k=50, weighting="cosine").fit(pd.DataFrame({"user_id": rows, "item_id": cols}))
    order = [int(i) for i in model.item_ids_]
    norms = np.linalg.norm(X, axis=0)
    S = (X.T @ X) / np.outer(norms, norms)
    np.fill_diagonal(S, 0.0)
    S = S[np.ix_(order, order)]
    np.testing.assert_allclose(model.B_.toarray(), S, atol=1e-5)
    user_rows = [int(u) for u in model.user_ids_]
    np.testing.assert_allclose(
        model._score(model.user_items_, model.user_ages_), X[user_rows][:, order] @ S, atol=1e-5
    )


def _rp3beta_numpy(X: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """RP3beta written out from its definition (Paudel et al. 2016), dense."""
    p_ui = X / X.sum(axis=1, keepdims=True)
    p_iu = X.T / X.T.sum(axis=1, keepdims=True)
    W = (p_iu**alpha) @ (p_ui**alpha) / (X > 0).sum(axis=0)[None, :] ** beta
    np.fill_diagonal(W, 0.0)
    return W


def test_rp3beta_matches_its_definition():
    rng = np.random.default_rng(5)
    X = (rng.random((40, 10)) < 0.35).astype(float) * rng.integers(1, 4, size=(40, 10))
    X = X[X.sum(axis=1) > 0]
    rows, cols = np.nonzero(X)
    frame = pd.DataFrame({"user_id": rows, "item_id": cols, "weight": X[rows, cols]})
    model = RP3beta(alpha=0.7, beta=0.3, k=50, normalize=False).fit(frame)
    order = [int(i) for i in model.item_ids_]
    W = _rp3beta_numpy(X, 0.7, 0.3)[np.ix_(order, order)]
    np.testing.assert_allclose(model.B_.toarray(), W, rtol=1e-5, atol=1e-7)
    user_rows = [int(u) for u in model.user_ids_]
    np.testing.assert_allclose(
        model._score(model.user_items_, model.user_ages_),
        X[user_rows][:, order] @ W,
        rtol=1e-4,
        atol=1e-6,
    )
    # k keeps each item's k largest weights; normalize makes every row sum to 1
    small = RP3beta(alpha=0.7, beta=0.3, k=3).fit(frame)
    B = small.B_.toarray()
    assert (np.count_nonzero(B, axis=1) <= 3).all()
    np.testing.assert_allclose(B.sum(axis=1), 1.0, rtol=1e-5)
    for j in range(len(order)):
        kept = np.flatnonzero(B[j])
        dropped = np.setdiff1d(np.flatnonzero(W[j]), kept)
        if dropped.size:
            assert W[j, kept].min() >= W[j, dropped].max() - 1e-9
    with pytest.raises(DataError, match="beta"):
        RP3beta(beta=-1.0).fit(frame)
    with pytest.raises(DataError, match="alpha"):
        RP3beta(alpha=0.0).fit(frame)


def test_recency_boost_weights_recent_items_more():
    frame = pd.DataFrame({"user_id": ["a"] * 3, "item_id": ["x", "y", "z"], "timestamp": [1, 2, 3]})
    model = EASE(l2=1.0, recency_boost=3.0, recency_scale=1.0).fit(frame)
    q = model._query(model.user_items_, model.user_ages_)
    weights = dict(zip(model.item_ids_[q.indices], q.data, strict=True))
    assert weights["z"] == pytest.approx(4.0)  # most recent: 1 + 3
    assert weights["y"] == pytest.approx(1 + 3 * np.exp(-1))
    assert weights["x"] == pytest.approx(1 + 3 * np.exp(-2))


# --------------------------------------------------------------------------- conformance
# The behaviour every model must have is the battery in ``omotenashi.testing.recommenders``,
# run for every registered model by ``test_conformance.py``. Below: model-specific behaviour
# on the taste-group fixture, and regressions the battery found.


def test_collaborative_models_learn_the_taste_groups(fitted):
    models, _, _ = fitted
    for name in ("ease", "recent_ease", "itemknn", "itemknn_bm25", "content", "hybrid"):
        recs = models[name].recommend("u2", 5)
        assert all(r.item_id.startswith("s") for r in recs), name
        recs = models[name].recommend("u33", 5)
        assert all(r.item_id.startswith("r") for r in recs), name


def test_same_attributes_different_histories_get_different_recommendations(fitted):
    models, _, _ = fitted
    # u0 and u39 could share every attribute; their histories differ, so must their lists
    for name in ("recent_ease", "als", "content", "sknn"):
        a = {r.item_id for r in models[name].recommend("u0", 5)}
        b = {r.item_id for r in models[name].recommend("u39", 5)}
        assert a != b, name


def test_bpr_with_a_seed_gives_the_same_model_twice(interactions):
    # implicit's BPR updates factors from several threads at once; with a seed it must not
    first = make_model("bpr", iterations=30).fit(interactions)
    second = make_model("bpr", iterations=30).fit(interactions)
    np.testing.assert_array_equal(first.item_factors_, second.item_factors_)
    np.testing.assert_array_equal(first.user_factors_, second.user_factors_)


@pytest.mark.parametrize("name", ["ease", "recent_ease", "popularity"])
def test_a_refit_recomputes_what_scoring_cached(interactions, items, name):
    # diversity's item vectors and the popularity damping were cached from the first fit
    other = interactions.assign(
        item_id=interactions["item_id"].where(interactions.index % 3 > 0, "s0")
    )
    model = make_model(name).fit(other, items)
    rules = Rules(diversity=0.5)
    model.recommend("u0", 5, rules=rules)
    model.fit(interactions, items)
    fresh = make_model(name).fit(interactions, items)
    for r in (None, rules):
        got = [(x.item_id, round(x.score, 5)) for x in model.recommend("u0", 5, rules=r)]
        assert got == [(x.item_id, round(x.score, 5)) for x in fresh.recommend("u0", 5, rules=r)]


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_a_context_of_unknown_items_is_no_context(fitted, name):
    # the learned customer factors answer; an ignored context must not switch to a fold-in
    model = fitted[0][name]
    plain = model.recommend("u4", 5)
    unknown = model.recommend("u4", 5, context=["not-in-the-catalogue"])
    assert [r.item_id for r in unknown] == [r.item_id for r in plain]
    assert [r.score for r in unknown] == pytest.approx([r.score for r in plain])


def test_unfitted_model_and_bad_input_raise():
    with pytest.raises(NotFittedError):
        EASE().recommend("x")
    with pytest.raises(DataError, match="empty"):
        EASE().fit(pd.DataFrame({"user_id": [], "item_id": []}))
    with pytest.raises(DataError, match="'item_id'"):
        EASE().fit(pd.DataFrame({"user_id": ["a"]}))
    with pytest.raises(DataError, match="weight"):
        EASE().fit(pd.DataFrame({"user_id": ["a"], "item_id": ["b"], "weight": [-1.0]}))
    with pytest.raises(DataError, match="unknown model"):
        make_model("nope")
    with pytest.raises(DataError, match="no parameter"):
        make_model("ease", lam=3)
    with pytest.raises(DataError, match="weighting"):
        ItemKNN(weighting="jaccard").fit(pd.DataFrame({"user_id": ["a"], "item_id": ["b"]}))


# --------------------------------------------------------------------------- cold start
def test_new_customer_gets_popular_items(fitted):
    models, data, _ = fitted
    counts = data["item_id"].value_counts()
    recs = models["recent_ease"].recommend("never-seen", 3)
    assert [r.item_id for r in recs] == list(counts.index[:3]) or {r.item_id for r in recs} <= set(
        counts[counts == counts.iloc[0]].index
    ) | set(counts.index[:3])
    assert recs[0].reasons[0].kind == "popular"


def test_new_customer_with_context_gets_recommendations_from_it(fitted):
    models, _, _ = fitted
    recs = models["recent_ease"].recommend("never-seen", 5, context=["r1", "r2"])
    assert all(r.item_id.startswith("r") for r in recs)


def test_new_item_reaches_customers_through_content_and_hybrid(fitted):
    models, _, _ = fitted
    content = models["content"]
    # the new item is in the catalogue and ranks for a sci-fi fan with the content model
    score = content._score(*content._user_history("u0", None)[:2])[0]
    pos = content._item_index.get_loc("s_new")
    assert score[pos] > 0
    ease_scores = models["ease"]._score(*models["ease"]._user_history("u0", None)[:2])[0]
    assert ease_scores[models["ease"]._item_index.get_loc("s_new")] == 0
    reasons = content.explain("u0", "s_new")
    assert reasons[0].kind == "new_in_category"
    assert "SciFi" in reasons[0].text
    hybrid = models["hybrid"]
    assert hybrid._score(*hybrid._user_history("u0", None)[:2])[0][pos] > 0


# --------------------------------------------------------------------------- rules
def test_category_filters_are_honoured(fitted):
    model = fitted[0]["recent_ease"]
    recs = model.recommend("u0", 10, rules=Rules(include_categories=("Romance",)))
    assert recs and all(r.item_id.startswith("r") for r in recs)
    recs = model.recommend("u0", 10, rules=Rules(exclude_categories=("Drama",)))
    cats = fitted[2].set_index("item_id")["categories"]
    assert all("Drama" not in cats[r.item_id] for r in recs)


def test_exclude_items_availability_and_include_seen(fitted):
    models, data, _ = fitted
    model = models["ease"]
    first = model.recommend("u0", 1)[0].item_id
    recs = model.recommend("u0", 5, rules=Rules(exclude_items=(first,)))
    assert first not in {r.item_id for r in recs}
    # s1 is marked unavailable in the items frame
    assert "s1" not in {r.item_id for r in model.recommend("u1", 30)}
    assert "s1" in {
        r.item_id for r in model.recommend("u1", 30, rules=Rules(available_only=False))
    } or "s1" in set(data.loc[data.user_id == "u1", "item_id"])
    seen = set(data.loc[data["user_id"] == "u0", "item_id"])
    with_seen = {r.item_id for r in model.recommend("u0", 30, rules=Rules(exclude_seen=False))}
    assert seen & with_seen


def test_leave_out_is_the_allowed_mask_applied(fitted):
    """A request's filters set -inf where ``allowed_mask`` is False: the items it names by their
    positions, the other filters by the mask (every combination, unknown ids ignored)."""
    model = fitted[0]["ease"]
    catalog, index = model.catalog_, model._item_index
    scores = np.linspace(1.0, 2.0, len(index))
    cases = [
        Rules(),
        Rules(exclude_items=("s2", "nope", "r3")),
        Rules(exclude_items=("s2",), include_categories=("SciFi",)),
        Rules(only_items=("s2", "s3", "r1"), exclude_items=("s3",)),
        Rules(exclude_categories=("Drama",), available_only=False),
        Rules(exclude_items=tuple(f"r{i}" for i in range(15)) + ("x",) * 60),  # a long list
    ]
    for rules in cases:
        got = scores.copy()
        rules.leave_out(got, catalog, index)
        mask = rules.allowed_mask(catalog, index)
        want = scores.copy() if mask is None else np.where(mask, scores, -np.inf)
        assert np.array_equal(got, want), rules
    assert Rules().allowed_mask(catalog, index) is not None  # s1 is unavailable: masked
    assert not np.isfinite(got[index.get_indexer(["r0", "r14"])]).any()


def test_boost_moves_an_item_up(fitted):
    model = fitted[0]["ease"]
    recs = model.recommend("u0", 5)
    last = recs[-1].item_id
    boosted = model.recommend("u0", 5, rules=Rules(boosts={f"item:{last}": 100.0}))
    assert boosted[0].item_id == last


def test_diversity_and_novelty_controls(fitted):
    from omotenashi.evaluation import intra_list_diversity

    model = fitted[0]["ease"]
    plain = model.recommend("u0", 6, context=["r3"])
    diverse = model.recommend("u0", 6, context=["r3"], rules=Rules(diversity=0.7))
    idx = model._item_index
    vecs = model._item_vectors()

    def ild(recs):
        return intra_list_diversity(np.array([idx.get_indexer([r.item_id for r in recs])]), vecs)

    assert ild(diverse) >= ild(plain)
    novel = model.recommend("u0", 6, rules=Rules(popularity_penalty=3.0))
    pop = model.item_popularity_
    mean_pop = lambda recs: pop[idx.get_indexer([r.item_id for r in recs])].mean()  # noqa: E731
    assert mean_pop(novel) <= mean_pop(model.recommend("u0", 6))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"diversity": 1.0}, "diversity"),
        ({"diversity": -0.1}, "diversity"),
        ({"popularity_penalty": -1}, "popularity_penalty"),
        ({"boosts": {"SciFi": -2.0}}, "boost"),
    ],
)
def test_rules_validation(kwargs, message):
    with pytest.raises(DataError, match=message):
        Rules(**kwargs)


# --------------------------------------------------------------------------- sessions, baskets
def test_session_recommender_sees_a_click_immediately():
    sessions = []
    for s in range(30):
        sessions += [(f"a{s}", "A", 1), (f"a{s}", "B", 2), (f"a{s}", "C", 3)]
        sessions += [(f"x{s}", "X", 1), (f"x{s}", "Y", 2), (f"x{s}", "Z", 3)]
    frame = pd.DataFrame(sessions, columns=["user_id", "item_id", "timestamp"])
    for name in ("sknn", "sr"):
        model = make_model(name).fit(frame)
        rules = Rules(exclude_seen=True)
        assert model.recommend_session(["A"], 1, rules=rules)[0].item_id == "B"
        # one more click, on the other stream: the answer follows it at once
        assert model.recommend_session(["A", "X"], 1, rules=rules)[0].item_id == "Y"


def test_session_model_learns_whether_visitors_go_back_to_items():
    no_repeats = pd.DataFrame(
        [(f"s{i}", it, t) for i in range(10) for t, it in enumerate(["A", "B", "C"])],
        columns=["user_id", "item_id", "timestamp"],
    )
    model = make_model("sknn").fit(no_repeats)
    assert model.repeat_share_ == pytest.approx(0.0)
    assert model.recommend_session(["A"], 1)[0].item_id == "B"
    # the same sessions with a return to A after B: 1 repeat in 3 next clicks per session
    repeats = pd.DataFrame(
        [(f"s{i}", it, t) for i in range(10) for t, it in enumerate(["A", "B", "A", "C"])],
        columns=["user_id", "item_id", "timestamp"],
    )
    model = make_model("sknn").fit(repeats)
    assert model.repeat_share_ == pytest.approx(1 / 3)
    recs = model.recommend_session(["A", "B"], 2)
    assert "A" in {r.item_id for r in recs}
    assert any(reason.kind == "repeat" for r in recs for reason in r.reasons)


def test_session_explanations_name_the_clicks():
    frame = pd.DataFrame(
        [(f"s{i}", it, t) for i in range(10) for t, it in enumerate(["A", "B", "C"])],
        columns=["user_id", "item_id", "timestamp"],
    )
    model = make_model("sknn").fit(frame)
    rec = model.recommend_session(["A", "B"], 3, rules=Rules(exclude_seen=True))[0]
    assert rec.item_id == "C"
    assert rec.reasons[0].kind == "session"
    assert set(rec.reasons[0].items) <= {"A", "B"}


def test_bought_together_from_baskets():
    baskets = pd.DataFrame(
        [
            ("o1", "tea"),
            ("o1", "cup"),
            ("o2", "tea"),
            ("o2", "cup"),
            ("o3", "tea"),
            ("o3", "honey"),
            ("o4", "pen"),
            ("o4", "ink"),
        ],
        columns=["user_id", "item_id"],
    )
    model = make_model("together", shrink=0.0).fit(baskets)
    recs = model.bought_together("tea", 2)
    assert [r.item_id for r in recs] == ["cup", "honey"]
    assert recs[0].score == pytest.approx(2 / 3)  # 2 of tea's 3 orders hold a cup
    assert "often bought together" in recs[0].reasons[0].text


def test_hybrid_weights_must_match_components(interactions):
    with pytest.raises(DataError, match="weight"):
        Hybrid(components=("ease", "content"), weights=(1.0,)).fit(interactions)
    with pytest.raises(DataError, match="parameter set per component"):
        Hybrid(components=("ease", "ials"), weights=(1.0, 1.0), params=({},)).fit(interactions)
    with pytest.raises(DataError, match="scaling"):
        Hybrid(components=("ease", "ials"), weights=(1.0, 1.0), scaling="rank").fit(interactions)


def _blend(scaling: str) -> Hybrid:
    return Hybrid(
        components=("ease", "ials"),
        weights=(1.0, 0.7),
        params=({"l2": 50.0}, {"factors": 8, "iterations": 4}),
        scaling=scaling,
    )


@pytest.mark.parametrize("scaling", ["std", "max"])
def test_blend_scores_are_its_parts_scaled_per_customer(interactions, scaling):
    """Served scores against an independent computation from the two parts fitted apart;
    with ``std`` the ranking is the one of per-customer z-scores (the offset, one constant per
    customer, is not served), and the reasons add up to the served score."""
    blend = _blend(scaling).fit(interactions)
    assert blend.exact_reasons is True
    ease = make_model("ease", l2=50.0).fit(interactions)
    ials = make_model("ials", factors=8, iterations=4).fit(interactions)
    rows = np.arange(len(ease.user_ids_))
    parts = [m._score_users(rows, m.user_items_[rows], m.user_ages_[rows]) for m in (ease, ials)]
    if scaling == "std":
        z = [(S - S.mean(axis=1, keepdims=True)) / S.std(axis=1, keepdims=True) for S in parts]
        zscores = z[0] + 0.7 * z[1]
        expected = parts[0] / parts[0].std(axis=1, keepdims=True)
        expected = expected + 0.7 * parts[1] / parts[1].std(axis=1, keepdims=True)
    else:
        expected = parts[0] / np.abs(parts[0]).max(axis=1, keepdims=True)
        expected = expected + 0.7 * parts[1] / np.abs(parts[1]).max(axis=1, keepdims=True)
    for user in ("u0", "u25", "u39"):
        row = ease._user_pos[user]
        recs = blend.recommend(user, 6)
        seen = set(interactions.loc[interactions["user_id"] == user, "item_id"])
        unseen = [j for j, i in enumerate(ease.item_ids_) if i not in seen]
        order = sorted(unseen, key=lambda j: (-expected[row, j], j))[:6]
        assert [r.item_id for r in recs] == [ease.item_ids_[j] for j in order]
        assert [r.score for r in recs] == pytest.approx([expected[row, j] for j in order])
        if scaling == "std":  # the same ranking as the z-scores
            by_z = sorted(unseen, key=lambda j: (-zscores[row, j], j))[:6]
            assert [ease.item_ids_[j] for j in by_z] == [r.item_id for r in recs]
        for rec in recs:
            assert sum(r.weight for r in rec.reasons) == pytest.approx(rec.score, rel=1e-6)


def test_a_blend_gives_one_reason_per_kind(interactions):
    """Two parts of one kind (user-kNN's and iALS's "customers with tastes like yours") make
    one reason whose weight is theirs added, naming the larger part's items first; the reasons
    still add up to the score."""
    blend = Hybrid(
        components=("ease", "userknn", "ials"),
        weights=(1.0, 0.7, 0.5),
        params=({"l2": 50.0}, {"k": 10}, {"factors": 8, "iterations": 4}),
        scaling="std",
    ).fit(interactions)
    x, ages, row = blend._request("u3", None)
    items = np.array([blend._item_pos[r.item_id] for r in blend.recommend("u3", 5)])
    apart = [[] for _ in items]  # each component's parts, scaled as the blend scales them
    for m, w in zip(blend.models_, blend.weights, strict=True):
        scale = w / float(blend._scales(m._score_users(np.array([row]), x, ages))[0, 0])
        for col, parts in enumerate(m._user_contributions_many(row, x, ages, items)):
            apart[col] += [(k, idx, scale * a) for k, idx, a in parts]
    merged_somewhere = False
    for rec, parts, own in zip(
        blend.recommend("u3", 5),
        blend._user_contributions_many(row, x, ages, items),
        apart,
        strict=True,
    ):
        kinds = [k for k, _, _ in parts]
        assert len(kinds) == len(set(kinds))
        for kind, named, amount in parts:
            same = sorted((p for p in own if p[0] == kind), key=lambda p: -abs(p[2]))
            assert amount == pytest.approx(sum(p[2] for p in same))
            assert named[: len(same[0][1])] == same[0][1]  # the larger part's items first
            merged_somewhere |= len(same) > 1
        texts = [r.text for r in rec.reasons]
        assert len(texts) == len(set(texts))
        assert sum(r.weight for r in rec.reasons) == pytest.approx(rec.score, rel=1e-6)
    assert merged_somewhere  # the case this is about did occur


def test_blend_of_fitted_models_is_the_blend_fitted_from_its_params(interactions):
    """``Hybrid.of_fitted`` (what model choice scores) serves what fitting ``make_model("hybrid",
    **params)`` serves: the winner of the validation split is refitted with those params."""
    ease = make_model("ease", l2=50.0).fit(interactions)
    ials = make_model("ials", factors=8, iterations=4).fit(interactions)
    blended = Hybrid.of_fitted([ease, ials], (1.0, 0.7), scaling="std")
    refitted = make_model("hybrid", **blended.get_params()).fit(interactions)
    assert refitted.get_params() == blended.get_params()
    a = blended.recommend_batch(None, 10)
    b = refitted.recommend_batch(None, 10)
    assert (a[1] == b[1]).all()
    np.testing.assert_allclose(a[2], b[2], rtol=1e-9)
    other = make_model("ease").fit(interactions.head(100))
    with pytest.raises(DataError, match="disagree"):
        Hybrid.of_fitted([ease, other], (1.0, 1.0))


def test_content_model_reasons_name_features(interactions, items):
    model = ContentBased().fit(interactions, items)
    rec = model.recommend("u0", 1)[0]
    # one reason: the features the item shares with the history carry the whole score (the
    # score is a sum over those features)
    assert [r.kind for r in rec.reasons] == ["feature"]
    assert rec.reasons[0].weight == pytest.approx(rec.score, rel=1e-5)
    assert any("SciFi" in r.text or "space" in r.text for r in rec.reasons)


@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Paris"])
def test_check_interactions_keeps_each_rows_time_and_its_zone(tz):
    from omotenashi.recommend._data import check_interactions

    times = pd.date_range("2025-03-30", periods=6, freq="37min", tz=tz)
    # an index in another order than the rows: times stay with their rows, by position
    raw = pd.DataFrame(
        {"user_id": [1, 1, 2, 2, 3, 1], "item_id": list("abcdea"), "timestamp": times},
        index=[50, 40, 30, 20, 10, 0],
    )
    out = check_interactions(raw)
    assert out["timestamp"].dtype == raw["timestamp"].dtype
    # the duplicate (1, a) keeps the later of its times
    expected = {("1", "a"): times[5], ("1", "b"): times[1], ("2", "c"): times[2]}
    got = out.set_index(["user_id", "item_id"])["timestamp"]
    assert all(got[k] == v for k, v in expected.items()) and len(out) == 5


# --------------------------------------------------------------------------- events → interactions
def _events(people: str, types: list[str], items: str, ratings: list[float]) -> pd.DataFrame:
    """An events frame: one event a minute, person ``c<digit>`` and item by letter."""
    ts = pd.Timestamp("2025-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "person_id": [f"c{p}" for p in people],
            "type": types,
            "item_id": list(items),
            "rating": ratings,
            "timestamp": [ts + pd.Timedelta(minutes=m) for m in range(len(types))],
        }
    )


def test_interactions_from_events_weights_and_returns():
    kinds = ["view", "purchase", "view", "purchase", "purchase", "return", "rating"]
    events = _events("1111223", kinds, "aabcaad", [np.nan] * 6 + [5.0])
    out = interactions_from_events(events).set_index(["user_id", "item_id"])["weight"]
    assert out[("c1", "a")] == pytest.approx(1 + 5)
    assert out[("c1", "b")] == pytest.approx(1)
    assert ("c2", "a") in out.index  # 5 - 4 = 1 > 0 stays
    assert out[("c2", "a")] == pytest.approx(1)
    assert out[("c3", "d")] == pytest.approx(2)  # rating 5 with threshold 4 → 1 + 1
    custom = interactions_from_events(events, {"view": 0.0, "purchase": 1.0, "return": -1.0})
    pairs = set(map(tuple, custom[["user_id", "item_id"]].to_numpy()))
    assert ("c1", "b") not in pairs  # views ignored
    assert ("c2", "a") not in pairs  # bought then returned
    with pytest.raises(DataError, match="person_id"):
        interactions_from_events(events.drop(columns="person_id"))


def test_interactions_from_events_keeps_the_unliked_pairs_apart():
    kinds = ["rating", "rating", "rating", "purchase", "return", "email_open", "view"]
    events = _events("1112233", kinds, "abcaade", [5.0, 3.0, 1.0] + [np.nan] * 4)
    weights = {**DEFAULT_EVENT_WEIGHTS, "return": -5.0, "email_open": 0.0}
    liked = interactions_from_events(events, weights)
    every = interactions_from_events(events, weights, keep_unliked=True)
    weight = every.set_index(["user_id", "item_id"])["weight"]
    # the liked pairs are the same rows either way
    pd.testing.assert_frame_equal(every[every["weight"] > 0].reset_index(drop=True), liked)
    assert weight[("c1", "a")] == pytest.approx(2)
    # rated below the threshold, bought and returned: kept, at weight 0
    assert weight[("c1", "b")] == 0 and weight[("c1", "c")] == 0 and weight[("c2", "a")] == 0
    assert ("c3", "d") not in weight.index  # an ignored type makes nothing seen
    assert len(every) == len(liked) + 3
    # one event at a time (the live path) says the same as the pairs above
    w = EventWeights(weights=weights)
    assert w.not_liked("rating", 3.0) and w.not_liked("rating", 1.0) and w.not_liked("return")
    assert not w.not_liked("rating", 4.0) and not w.not_liked("purchase")
    assert not w.not_liked("email_open") and not w.not_liked("rating", None)
    table = EventWeights(rating_weights={1: -1.0, 2: 0.0, 3: 0.5})
    assert table.not_liked("rating", 2) and not table.not_liked("rating", 3)
    model = make_model("popularity").fit(every)
    assert model.user_items_.nnz == len(liked)  # nothing learnt from them
    assert {r.item_id for r in model.recommend("c1", 5)} == {"e"}  # a, b, c all seen


def test_a_model_saved_before_unliked_items_were_kept_loads(tmp_path):
    import json

    from omotenashi.recommend import load_model, save_model

    frame = pd.DataFrame({"user_id": list("aabbc"), "item_id": list("xyxzy")})
    model = make_model("itemknn").fit(frame)
    path = save_model(model, tmp_path)
    with np.load(path / "arrays.npz") as npz:  # the arrays an older release wrote
        arrays = {k: npz[k] for k in npz.files if "unliked" not in k}
    assert len(arrays) < len(np.load(path / "arrays.npz").files)
    np.savez(path / "arrays.npz", **arrays)
    loaded, meta = load_model(tmp_path, "itemknn")
    assert json.loads((path / "meta.json").read_text())["model"] == meta["model"]
    assert len(loaded.unliked_user_ids_) == 0 and loaded.user_unliked_.shape == (0, 3)
    assert [r.item_id for r in loaded.recommend("a", 2)] == [
        r.item_id for r in model.recommend("a", 2)
    ]


def test_sessionize_cuts_at_gaps():
    from omotenashi.recommend import sessionize

    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    events = pd.DataFrame(
        {
            "person_id": ["a", "a", "a", "b"],
            "item_id": ["x", "y", "z", "x"],
            "timestamp": [t0, t0 + pd.Timedelta("5min"), t0 + pd.Timedelta("2h"), t0],
        }
    )
    out = sessionize(events)
    assert out.groupby("session_id").size().to_dict() == {"a#1": 2, "a#2": 1, "b#1": 1}


def test_reasons_are_worded_for_the_request(fitted):
    model = fitted[0]["ease"]
    similar = model.similar_items("s3", 2)
    assert similar[0].reasons[0].items == ("s3",)
    assert "customers who chose" in similar[0].reasons[0].text
    visit = model.recommend_session(["s3", "s4"], 2)
    assert visit[0].reasons[0].text.startswith("because you looked at")
    assert model.recommend("u0", 1)[0].reasons[0].text.startswith("because you interacted with")


def test_every_registered_model_is_named_after_its_registry_key():
    from omotenashi.recommend import MODELS

    for name, cls in MODELS.items():
        assert cls.name == name
        assert cls().get_params() == make_model(name).get_params()


# --------------------------------------------------------------------------- exact reasons
def test_als_serves_the_closed_form_solve_its_reasons_decompose(interactions):
    """Hu, Koren & Volinsky 2008: with the item factors Y, a known customer's ALS vector is
    x_u = (YᵀC_uY + λI)⁻¹ YᵀC_u p(u), with implicit's confidence c = alpha · w, so the score of
    item i is the sum over history items j of c_j · y_iᵀ (YᵀC_uY + λI)⁻¹ y_j."""
    weighted = interactions.assign(weight=1.0 + (np.arange(len(interactions)) % 3))
    model = ImplicitMF(factors=8, regularization=0.5, alpha=2.0, iterations=5).fit(weighted)
    Y = model.item_factors_.astype(np.float64)
    row = list(model.user_ids_).index("u3")
    x = model.user_items_[row]
    c = 2.0 * x.data.astype(np.float64)
    Yh = Y[x.indices]
    A = Y.T @ Y + 0.5 * np.eye(8) + Yh.T @ (Yh * (c - 1.0)[:, None])
    expected = Y @ np.linalg.solve(A, Yh.T @ c)
    recs = model.recommend("u3", 5)
    for rec in recs:
        i = list(model.item_ids_).index(rec.item_id)
        assert rec.score == pytest.approx(expected[i], rel=1e-6)
        terms = c * (Yh @ np.linalg.solve(A, Y[i]))
        assert sum(r.weight for r in rec.reasons) == pytest.approx(terms.sum(), rel=1e-6)
        assert rec.explained == 1.0
        latent = [r for r in rec.reasons if r.kind == "latent"]
        assert latent[0].weight == pytest.approx(terms[terms > 0].sum(), rel=1e-6)
    assert model.exact_reasons and not ImplicitMF(algorithm="bpr").exact_reasons


def test_bpr_says_what_share_of_the_score_its_reasons_explain(interactions):
    model = ImplicitMF(algorithm="bpr", factors=8, iterations=20).fit(interactions)
    for rec in model.recommend("u3", 5):
        total = sum(r.weight for r in rec.reasons)
        assert rec.explained == pytest.approx(total / rec.score)
    # a visit is folded in as the mean of its items' vectors: there the reasons are the score
    for rec in model.recommend_session(["s1", "s2"], 5):
        assert sum(r.weight for r in rec.reasons) == pytest.approx(rec.score, rel=1e-6)


def test_ease_reasons_add_up_to_the_damped_score_with_negative_terms(interactions):
    model = RecentEASE(l2=5.0).fit(interactions)
    recs = model.recommend("u0", 30)
    assert any(r.kind == "against" for rec in recs for r in rec.reasons)
    for rec in recs:
        assert sum(r.weight for r in rec.reasons) == pytest.approx(rec.score, rel=1e-5, abs=1e-7)


def test_an_als_model_saved_with_implicits_user_factors_is_solved_again(interactions, tmp_path):
    from omotenashi.recommend import load_model, save_model

    model = ImplicitMF(factors=8, regularization=0.5, iterations=5).fit(interactions)
    expected = model.recommend("u3", 5)
    # what earlier versions saved: implicit's float32 user factors (not the closed-form solve)
    model.user_factors_ = (model.user_factors_ * 1.1).astype(np.float32)
    save_model(model, tmp_path)
    loaded, _ = load_model(tmp_path, "als")
    assert loaded.user_factors_.dtype == np.float64
    recs = loaded.recommend("u3", 5)
    assert [r.item_id for r in recs] == [r.item_id for r in expected]
    for rec, before in zip(recs, expected, strict=True):
        assert rec.score == pytest.approx(before.score, rel=1e-6)
        assert sum(r.weight for r in rec.reasons) == pytest.approx(rec.score, rel=1e-6)


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_mf_answers_rank_by_the_exact_scores_where_single_precision_cannot_tell(
    interactions, algorithm
):
    """An answer's candidates come from float32 scores (half the memory traffic on a large
    catalogue); the exact float64 scores must still decide. Two items are made to differ by far
    less than float32 can resolve: float32 ties them (the lower position would win), float64
    ranks the higher position first, and the answer has room for one."""
    model = ImplicitMF(algorithm=algorithm, factors=8, iterations=5).fit(interactions)
    row = list(model.user_ids_).index("u3")
    u = model.user_factors_[row].astype(np.float64)
    seen = set(model.user_items_[row].indices.tolist())
    first, second = [i for i in range(len(model.item_ids_)) if i not in seen][:2]
    Y = model.item_factors_.astype(np.float64).copy()
    top = 10.0 * u / np.linalg.norm(u) ** 2  # score 10, far above every other item
    Y[first], Y[second] = top, top + 1e-9 * u / np.linalg.norm(u) ** 2
    model.item_factors_ = Y
    assert np.float32(Y[first] @ u) == np.float32(Y[second] @ u)  # float32 cannot tell them
    exact = Y @ u
    assert exact[second] > exact[first]

    recs = model.recommend("u3", 1, explain=False)
    assert [r.item_id for r in recs] == [model.item_ids_[second]]
    assert recs[0].score == pytest.approx(exact[second], rel=1e-12)  # the exact score
    # the same answer as the whole catalogue scored in float64, everywhere down the list
    unseen = np.array([i for i in range(len(exact)) if i not in seen])
    order = unseen[np.lexsort((unseen, -exact[unseen]))]
    recs = model.recommend("u3", len(unseen), explain=False)
    assert [r.item_id for r in recs] == model.item_ids_[order].tolist()
    # the float64 scores, up to the order of summation (a product over fewer rows)
    np.testing.assert_allclose([r.score for r in recs], exact[order], rtol=1e-12, atol=1e-15)
    # rules that reorder (boosts) take the exact path: the same first item
    boosted = model.recommend("u3", 1, rules=Rules(boosts={"item:nothing": 2.0}), explain=False)
    assert boosted[0].item_id == model.item_ids_[second]


@pytest.mark.parametrize("count", [3, 200])  # a request's few ids, and a long list
def test_item_positions_agree_with_pandas(count):
    """The per-id lookup of served requests gives what ``Index.get_indexer`` gives."""
    from omotenashi.recommend._rules import item_positions

    rng = np.random.default_rng(count)
    index = pd.Index([f"item-{i}" for i in range(500)])
    asked = [f"item-{i}" for i in rng.integers(0, 700, size=count)] + ["", "item-", 12]
    expected = index.get_indexer([str(a) for a in asked])
    assert item_positions(index, asked).tolist() == expected.tolist()
    assert (expected == -1).any()  # unknown ids are part of the case


def test_served_history_rows_equal_scipy_rows(fitted):
    """The cheap 1-row views the request path uses equal scipy's own row indexing."""
    from omotenashi.recommend._base import _row

    model = fitted[0]["ease"]
    for r in range(model.user_items_.shape[0]):
        for matrix in (model.user_items_, model.user_ages_):
            mine, theirs = _row(matrix, r), matrix[r]
            assert mine.shape == theirs.shape and (mine != theirs).nnz == 0
            mine.check_format(full_check=True)  # a valid matrix, though built unchecked
            assert mine.has_canonical_format and mine.nnz == theirs.nnz
            assert np.array_equal(
                (mine @ np.ones((mine.shape[1], 2))), theirs @ np.ones((mine.shape[1], 2))
            )


def test_unchecked_history_rows_are_independent_views_of_the_matrix():
    """``_row`` builds its views by copying a template's fields; two views, and the template,
    must not share arrays or shapes (one request's row must never become another's)."""
    import scipy.sparse as sp

    from omotenashi.recommend import _base

    assert _base._VIEW_FIELDS  # this scipy keeps the fields where ``_row`` puts them
    m = sp.csr_matrix(np.array([[0, 1, 2, 0], [3, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    a, b, empty = _base._row(m, 0), _base._row(m, 1), _base._row(m, 2)
    assert a.toarray().tolist() == [[0, 1, 2, 0]] and b.toarray().tolist() == [[3, 0, 0, 0]]
    assert empty.nnz == 0 and empty.shape == (1, 4)
    assert _base._ROW_TEMPLATE.shape == (1, 1) and _base._ROW_TEMPLATE.nnz == 1


def test_a_live_visit_joins_the_history_as_its_most_recent_part(fitted):
    """The history of a known customer with a visit, against a plain computation: counts add
    up, the visit's items take the visit's ages (1 = its last click), older items grow older
    by the visit's length."""
    model = fitted[0]["recent_ease"]
    user = str(model.user_ids_[0])
    row = model._user_pos[user]
    seen = model.user_items_[row].toarray().ravel()
    old_ages = model.user_ages_[row].toarray().ravel()
    history_item = model.item_ids_[np.flatnonzero(seen)[0]]
    new_item = model.item_ids_[np.flatnonzero(seen == 0)[0]]
    visit = [new_item, history_item, new_item, "no-such-item"]
    X, A, known = model._user_history(user, visit)
    assert known
    expected = seen.copy()
    expected[model._item_pos[new_item]] += 2
    expected[model._item_pos[history_item]] += 1
    np.testing.assert_allclose(X.toarray().ravel(), expected)
    ages = np.where(seen > 0, old_ages + 2, 0.0)  # the visit's longest age is 2
    ages[model._item_pos[new_item]] = 1.0  # its last click
    ages[model._item_pos[history_item]] = 2.0
    np.testing.assert_allclose(A.toarray().ravel(), ages)
    np.testing.assert_array_equal(X.indices, A.indices)
    # a visit on its own: counts and ages of the last occurrence
    Xs, As, pos = model._session_history(visit)
    assert len(pos) == 3
    assert Xs.toarray().ravel()[model._item_pos[new_item]] == 2
    assert As.toarray().ravel()[model._item_pos[history_item]] == 2


# --------------------------------------------------------------------------- iALS (Rendle 2022)
def _ials_loss(model, X: np.ndarray, W: np.ndarray, H: np.ndarray) -> float:
    """The iALS loss written out on dense arrays (independent of the model's normal equations)."""
    a0, lam = model.unobserved_weight, model.regularization
    S = W @ H.T
    fit = ((S - 1.0) ** 2 * X).sum() + a0 * (S**2).sum()
    n_users, n_items = X.shape
    ridge_u = lam * (X.sum(axis=1) + a0 * n_items) @ (W**2).sum(axis=1)
    ridge_i = lam * (X.sum(axis=0) + a0 * n_users) @ (H**2).sum(axis=1)
    return float(fit + ridge_u + ridge_i)


# 6 factors: histories (8 items) and items' customer lists are solved directly; 16: through the
# Woodbury identity (rows shorter than the factors)
@pytest.mark.parametrize("k", [6, 16])
def test_ials_serves_the_least_squares_solution_its_reasons_decompose(interactions, k):
    """A known customer's iALS vector minimises their part of the loss given the item factors;
    found here by an ordinary least-squares solve of stacked rows (history rows with target 1,
    every item with weight √α₀ and target 0, √ridge·I with target 0), not by the model's normal
    equations. Item i's score is the sum of one term per history item, and so are its reasons."""
    from omotenashi.recommend import IALS

    weighted = interactions.assign(weight=1.0 + (np.arange(len(interactions)) % 3))
    model = IALS(factors=k, regularization=0.05, unobserved_weight=0.2, iterations=4).fit(weighted)
    H = model.item_factors_.astype(np.float64)
    n_items = H.shape[0]
    row = list(model.user_ids_).index("u3")
    idx = model.user_items_[row].indices
    ridge = 0.05 * (len(idx) + 0.2 * n_items)
    design = np.vstack([H[idx], np.sqrt(0.2) * H, np.sqrt(ridge) * np.eye(k)])
    target = np.concatenate([np.ones(len(idx)), np.zeros(n_items + k)])
    w = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(model.user_factors_[row], w, rtol=1e-6, atol=1e-9)
    expected = H @ w
    A = H[idx].T @ H[idx] + 0.2 * H.T @ H + ridge * np.eye(k)
    recs = model.recommend("u3", 5)
    for rec in recs:
        i = list(model.item_ids_).index(rec.item_id)
        assert rec.score == pytest.approx(expected[i], rel=1e-6)
        terms = H[idx] @ np.linalg.solve(A, H[i])
        assert sum(r.weight for r in rec.reasons) == pytest.approx(rec.score, rel=1e-6)
        latent = [r for r in rec.reasons if r.kind == "latent"]
        assert latent[0].weight == pytest.approx(terms[terms > 0].sum(), rel=1e-6)
        assert rec.explained == 1.0
    assert model.exact_reasons


def test_ials_alternating_solves_never_raise_the_loss(interactions):
    from omotenashi.recommend import IALS

    losses = []
    for iterations in (1, 2, 4, 8):
        model = IALS(factors=16, regularization=0.05, unobserved_weight=0.2, iterations=iterations)
        model.fit(interactions)
        X = (model.user_items_.toarray() > 0).astype(np.float64)
        H = model.item_factors_.astype(np.float64)
        losses.append(_ials_loss(model, X, model.user_factors_, H))
    assert all(b <= a * (1 + 1e-6) for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("block", [10**9, 50])
def test_ials_stacked_solves_equal_one_normal_equation_per_row(monkeypatch, block):
    """Each row of a half-step solved on its own, written out from the normal equations
    (``(F_SᵀF_S + α₀FᵀF + ρ_r I) x = F_Sᵀ1``, no Woodbury, no stacking, no padding), gives the
    rows the model's stacked solves give: short rows (Woodbury) and long ones (direct, padded),
    in one block or in many small ones."""
    from omotenashi.recommend import IALS, _mf

    monkeypatch.setattr(_mf, "_BLOCK", block)
    rng = np.random.default_rng(3)
    # 30 customers with 1 to 20 of 40 items each, popular items more often: rows of many
    # lengths on both sides
    pop = 1.0 / np.arange(1, 41)
    pairs = [
        (u, i)
        for u in range(30)
        for i in rng.choice(40, rng.integers(1, 21), replace=False, p=pop / pop.sum())
    ]
    frame = pd.DataFrame(pairs, columns=["user_id", "item_id"]).astype(str)
    model = IALS(factors=5, regularization=0.05, unobserved_weight=0.2, iterations=1)
    model.prepare(frame)
    X = model._binary()
    for M, n_other in ((X, X.shape[1]), (X.T.tocsr(), X.shape[0])):
        counts = np.diff(M.indptr)
        assert (counts[counts > 0] < 5).any() and (counts >= 5).any()  # both paths run
        assert len(set(counts[counts >= 5])) > 1  # long rows of several lengths (padding)
        F = rng.normal(size=(M.shape[1], 5))
        got = model._solve_side(M, F, n_other)
        for r in range(M.shape[0]):
            idx = M.indices[M.indptr[r] : M.indptr[r + 1]]
            if len(idx) == 0:
                assert not got[r].any()
                continue
            A = F[idx].T @ F[idx] + 0.2 * F.T @ F + 0.05 * (len(idx) + 0.2 * n_other) * np.eye(5)
            np.testing.assert_allclose(got[r], np.linalg.solve(A, F[idx].sum(axis=0)), rtol=1e-9)


@pytest.mark.parametrize(
    ("param", "value"),
    [("factors", 0), ("regularization", 0.0), ("unobserved_weight", -1.0), ("iterations", 0)],
)
def test_ials_rejects_bad_settings_naming_them(interactions, param, value):
    from omotenashi.recommend import IALS

    with pytest.raises(DataError, match=param):
        IALS(**{param: value}).fit(interactions)


def test_split_terms_of_many_items_agree_with_a_sort_of_each_items_terms():
    """The one-pass split names the same items (ties to the earlier history item) and sums the
    same parts as sorting each item's terms (the definition)."""
    from omotenashi.recommend._base import split_terms, split_terms_many

    rng = np.random.default_rng(5)
    for _ in range(300):
        h, m = int(rng.integers(1, 12)), int(rng.integers(1, 6))
        values = rng.integers(-3, 4, size=(h, m)).astype(float)  # many ties and zeros
        idx = rng.permutation(100)[:h]
        many = split_terms_many("history", idx, values)
        for col in range(m):
            terms = values[:, col]
            expected = []
            if (terms > 0).any():
                order = sorted(range(h), key=lambda j: (-terms[j], j))[:2]
                expected.append(
                    (
                        "history",
                        tuple(int(idx[j]) for j in order if terms[j] > 0),
                        terms[terms > 0].sum(),
                    )
                )
            if (terms < 0).any():
                order = sorted(range(h), key=lambda j: (terms[j], j))[:2]
                expected.append(
                    (
                        "against",
                        tuple(int(idx[j]) for j in order if terms[j] < 0),
                        terms[terms < 0].sum(),
                    )
                )
            assert many[col] == expected, (values, col)
            assert split_terms("history", idx, terms) == expected


def test_top_k_agrees_with_a_stable_sort_with_ties_infinities_and_nan():
    """``top_k`` partitions at the top end; it must give what sorting gives: best first, ties to
    the lower index, NaN never above a number."""
    from omotenashi.recommend._base import top_k

    rng = np.random.default_rng(3)
    for trial in range(2000):
        n = int(rng.integers(1, 60))
        scores = rng.integers(0, 6, n).astype(float)  # many ties
        scores[rng.random(n) < 0.2] = -np.inf
        if trial % 3 == 0:
            scores[rng.random(n) < 0.2] = np.nan
        k = int(rng.integers(1, n + 1))
        clean = np.where(np.isnan(scores), -np.inf, scores)
        expected = sorted(range(n), key=lambda i: (-clean[i], i))[:k]
        got = top_k(scores, k)
        # the order among -inf and NaN (nothing to recommend) is not defined
        assert np.array_equal(clean[got], clean[expected]), (scores, k)
        finite = [i for i in expected if np.isfinite(clean[i])]
        assert got[: len(finite)].tolist() == finite, (scores, k)


def test_top_k_on_catalogue_sized_scores_with_long_runs_of_ties():
    """Scores as an item-item model serves them (most items unlearned at 0, runs of equal
    scores in catalogue order, some -inf): the same as a stable sort, also when the ties at
    the k-th score are most of the catalogue."""
    from omotenashi.recommend._base import top_k

    rng = np.random.default_rng(11)
    for trial in range(40):
        n = int(rng.integers(2_000, 12_000))
        scores = np.zeros(n)
        learned = rng.random(n) < rng.uniform(0.001, 0.6)
        scores[learned] = np.round(rng.normal(size=learned.sum()), int(rng.integers(1, 4)))
        scores[n - int(rng.integers(0, n // 3)) :] = 0.0  # a run of ties at the end
        scores[rng.random(n) < 0.01] = -np.inf
        k = int(rng.choice([1, 10, 50, int(learned.sum()) + 5, n - 1]))
        k = max(1, min(k, n))
        expected = np.lexsort((np.arange(n), -scores))[:k]
        got = top_k(scores, k)
        assert np.array_equal(scores[got], scores[expected]), trial
        finite = expected[np.isfinite(scores[expected])]
        assert np.array_equal(got[: finite.size], finite), trial


def test_top_k_from_a_sampled_bound_equals_a_stable_sort():
    """A small ``k`` on a large catalogue takes the bound from every 8th score: whatever the
    scores (sorted up or down, NaN, -inf, ties at the bound, a sample all of one value), the
    answer is a stable sort's."""
    from omotenashi.recommend import _base
    from omotenashi.recommend._base import top_k

    rng = np.random.default_rng(5)
    taken = 0
    for trial in range(600):
        n = int(rng.integers(1_000, 20_000))
        kind = trial % 6
        if kind == 0:  # continuous scores
            scores = rng.normal(size=n)
        elif kind == 1:  # few distinct values: ties at the bound
            scores = rng.integers(0, 4, n).astype(float)
        elif kind == 2:  # sorted ascending, then descending: the sample is not typical
            scores = np.sort(rng.normal(size=n))
            if trial % 12 == 2:
                scores = scores[::-1].copy()
        elif kind == 3:  # mostly 0, a few learned, runs in catalogue order
            scores = np.zeros(n)
            learned = rng.random(n) < rng.uniform(0.001, 0.2)
            scores[learned] = np.round(rng.normal(size=learned.sum()), 2)
        elif kind == 4:  # NaN and -inf mixed in
            scores = rng.normal(size=n)
            scores[rng.random(n) < rng.uniform(0.0, 0.5)] = np.nan
            scores[rng.random(n) < rng.uniform(0.0, 0.5)] = -np.inf
        else:  # the best items exactly where the sample does not look
            scores = rng.normal(size=n) - 10.0
            off = np.flatnonzero(np.arange(n) % _base._SAMPLE_STRIDE != 0)
            scores[rng.choice(off, size=60, replace=False)] = rng.normal(size=60) + 10.0
        k = int(rng.integers(1, max(2, n // _base._SAMPLE_MARGIN) + 1))
        clean = np.where(np.isnan(scores), -np.inf, scores)
        expected = np.lexsort((np.arange(n), -clean))[:k]
        got = top_k(scores, k)
        assert np.array_equal(clean[got], clean[expected]), trial
        finite = expected[np.isfinite(clean[expected])]
        assert np.array_equal(got[: finite.size], finite), trial
        sample = scores[:: _base._SAMPLE_STRIDE]
        bound = np.partition(sample, sample.size - k)[sample.size - k]
        taken += k <= np.count_nonzero(scores >= bound) <= n // _base._SAMPLE_STRIDE
    assert taken > 300  # most cases took the sampled bound, not the whole-catalogue path


@pytest.mark.parametrize("algorithm", ["als", "bpr", "ials"])
def test_mf_answers_under_filters_equal_the_whole_catalogue_ranked(interactions, items, algorithm):
    """A known customer's MF answer stops reading the catalogue early (``_user_top``); under
    every filter it must be the answer of scoring and ranking the whole catalogue."""
    from omotenashi.recommend import make_model

    if algorithm == "ials":
        model = make_model("ials", factors=8, iterations=4).fit(interactions, items)
    else:
        model = ImplicitMF(algorithm=algorithm, factors=8, iterations=5).fit(interactions, items)
    cases = [
        Rules(),
        Rules(exclude_seen=False),
        Rules(exclude_items=("s2", "r3", "s5")),
        Rules(include_categories=("Romance",)),
        Rules(exclude_categories=("Drama",), available_only=False),
        Rules(only_items=("s1", "r1", "s_new")),
    ]
    for user in ("u0", "u7", "u25"):
        x, ages, row = model._request(user, None)
        scores = model._request_scores(x, ages, row)
        for rules in cases:
            for n in (1, 4, 40):
                want, want_scores = model._rank(scores, x.indices, n, rules)
                recs = model.recommend(user, n, rules=rules, explain=False)
                assert [r.item_id for r in recs] == model.item_ids_[want].tolist(), (user, rules)
                np.testing.assert_allclose([r.score for r in recs], want_scores, rtol=1e-12)


def _zipf_interactions(users=400, items=300, seed=0):
    """Histories of 1-24 items drawn by Zipf popularity: long and short item vectors, and
    customers whose answers lie past the first items (a catalogue in miniature)."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, items + 1)
    p /= p.sum()
    start, rows = pd.Timestamp("2024-01-01"), []
    for u in range(users):
        for i in rng.choice(items, size=int(rng.integers(1, 25)), replace=False, p=p):
            rows.append((f"u{u}", f"i{i}", 1.0, start + pd.Timedelta(minutes=len(rows))))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "weight", "timestamp"])


@pytest.mark.parametrize("algorithm", ["als", "bpr", "ials"])
def test_mf_tail_bounds_after_fit_save_load_and_new_vectors(algorithm, monkeypatch, tmp_path):
    """Tail bounds (``_mips.NormOrderedItems.tail_bounds``) are computed by the fit, saved
    and loaded with the model, and never used for other user vectors; the answers they stop
    are the whole catalogue's ranked."""
    from omotenashi.recommend import _mips, load_model, make_model, save_model

    # stages of a few items, so that this small catalogue has a tail read in blocks
    monkeypatch.setattr(_mips, "FIRST_STAGE", 8)
    monkeypatch.setattr(_mips, "SECOND_STAGE", 24)
    monkeypatch.setattr(_mips, "TAIL_BLOCK", 16)
    monkeypatch.setattr(_mips, "BOUND_N", 5)
    data = _zipf_interactions()
    if algorithm == "ials":
        model = make_model("ials", factors=8, iterations=4).fit(data)
    else:
        model = ImplicitMF(algorithm=algorithm, factors=8, iterations=5).fit(data)

    def same_as_ranked(model):
        for user in model.user_ids_[::3]:
            x, ages, row = model._request(user, None)
            scores = model._request_scores(x, ages, row)
            for n in (1, 5, 12):
                want, _ = model._rank(scores, x.indices, n, Rules())
                recs = model.recommend(user, n, explain=False)
                assert [r.item_id for r in recs] == model.item_ids_[want].tolist(), user

    bounds = model._tails[2]
    assert len(bounds) == len(model.user_ids_)
    if algorithm != "bpr":  # BPR's vectors leave few answers to the tail
        assert np.isfinite(bounds).mean() > 0.3
    same_as_ranked(model)
    save_model(model, tmp_path)
    loaded, _ = load_model(tmp_path, model.name)
    np.testing.assert_array_equal(loaded._tails[2], bounds)
    same_as_ranked(loaded)
    # other vectors: each customer's bound made for another customer's vector would hide
    # tail items that belong in the answer
    loaded.user_factors_ = np.roll(loaded.user_factors_, 1, axis=0)
    same_as_ranked(loaded)
