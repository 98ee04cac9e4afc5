"""User-kNN against an independent numpy computation: neighbours, scores, reasons, artefacts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import omotenashi.recommend._userknn as userknn
from omotenashi.errors import DataError
from omotenashi.recommend import UserKNN, load_model, make_model, save_model

#: 6 customers x 6 items, with weights (a hand-sized case: similarities can be read off).
X = np.array(
    [
        [1, 2, 0, 0, 1, 0],
        [1, 1, 1, 0, 0, 0],
        [0, 2, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1],
        [1, 0, 0, 0, 1, 2],
        [2, 1, 0, 1, 0, 0],
    ],
    dtype=float,
)


def _frame(M: np.ndarray) -> pd.DataFrame:
    rows, cols = np.nonzero(M)
    return pd.DataFrame(
        {
            "user_id": [f"u{r}" for r in rows],
            "item_id": [f"i{c}" for c in cols],
            "weight": M[rows, cols],
        }
    )


def _expected(M: np.ndarray, q: np.ndarray, k: int, shrink: float, e: float, exclude=None):
    """Scores of the history ``q`` by the textbook formula, with dense numpy (no sparse code):
    shrunk cosine against every customer of ``M``, the k largest positive ones, similarity**e
    times the neighbours' rows."""
    norms = np.sqrt((M**2).sum(axis=1))
    sims = (M @ q) / (norms * np.sqrt(q @ q) + shrink)
    if exclude is not None:
        sims[exclude] = 0.0
    order = sorted(range(len(sims)), key=lambda v: -sims[v])
    neighbours = [v for v in order[:k] if sims[v] > 0]
    weights = {v: sims[v] ** e for v in neighbours}
    scores = sum(w * M[v] for v, w in weights.items())
    return scores, weights


def _positions(model: UserKNN) -> tuple[list[int], list[int]]:
    users = [int(u[1:]) for u in model.user_ids_]
    items = [int(i[1:]) for i in model.item_ids_]
    return users, items


@pytest.mark.parametrize(("k", "shrink", "exponent"), [(2, 0.0, 1.0), (3, 1.5, 2.0), (5, 0.5, 0.5)])
def test_scores_match_numpy(k, shrink, exponent):
    model = UserKNN(k=k, shrink=shrink, exponent=exponent).fit(_frame(X))
    users, items = _positions(model)
    for row, u in enumerate(users):
        expected, weights = _expected(X, X[u], k, shrink, exponent, exclude=u)
        # the stored neighbour list: the k nearest others, similarity ** exponent
        got = model.neighbours_[row]
        stored = {users[c]: v for c, v in zip(got.indices, got.data, strict=True)}
        assert stored.keys() == weights.keys()
        for v, w in weights.items():
            assert stored[v] == pytest.approx(w, rel=1e-5)
        # the served scores of the known customer
        scores = model._score_users(np.array([row]), None, None)[0]
        np.testing.assert_allclose(scores, expected[items], rtol=1e-5, atol=1e-7)
    # a visit is compared with every customer (nobody left out)
    visit = np.array([0, 1, 1, 0, 0, 0], dtype=float)
    expected, _ = _expected(X, visit, k, shrink, exponent)
    recs = model.recommend_session(["i1", "i2"], 6, explain=False)
    for rec in recs:
        assert rec.score == pytest.approx(expected[int(rec.item_id[1:])], rel=1e-5)


@pytest.mark.parametrize("k", [1, 10, 200])
def test_a_served_row_scores_as_the_sparse_product_does_to_the_bit(k):
    """A served answer adds the neighbours' rows up itself (no sparse product: its set-up cost
    more than the arithmetic); the scores must be those of the product a batch computes, to
    the bit, for every customer (few or many neighbours, none)."""
    rng = np.random.default_rng(k)
    M = (rng.random((150, 90)) < 0.06) * rng.integers(1, 4, size=(150, 90))
    M[:, 89] = 0
    M[7] = 0
    M[7, 89] = 1  # an item nobody else has: no positive similarity, no neighbour
    model = UserKNN(k=k, shrink=0.0, exponent=2.0).fit(_frame(M))
    assert (np.diff(model.neighbours_.indptr) == 0).any()  # a customer without neighbours
    for row in range(len(model.user_ids_)):
        served = model._score_users(np.array([row]), None, None)
        batch = np.asarray(
            (model.neighbours_[[row]] @ model.user_items_).toarray(), dtype=np.float64
        )
        assert served.dtype == batch.dtype and np.array_equal(served, batch), row
    rows = np.array([0, 5, 9])
    assert np.array_equal(
        model._score_users(rows, None, None),
        np.asarray((model.neighbours_[rows] @ model.user_items_).toarray(), dtype=np.float64),
    )


def test_a_hand_worked_case():
    # u0 = (1, 2, 0, 0, 1, 0), ‖u0‖ = √6. Cosines with the others (no shrink): u1 = (1, 1, 1,
    # 0, 0, 0): 3 / (√6·√3) = 0.707; u2 and u5: 4 / (√6·√6) = 0.667; u4: 2/6; u3: 1 / (2·√6).
    # With k = 1 the one neighbour is u1, weight 0.707² = 0.5: u0's scores are 0.5 · u1's row.
    model = UserKNN(k=1, shrink=0.0, exponent=2.0).fit(_frame(X))
    users, items = _positions(model)
    row = users.index(0)
    scores = model._score_users(np.array([row]), None, None)[0]
    np.testing.assert_allclose(scores, 0.5 * X[1][items], rtol=1e-6)
    [rec] = model.recommend("u0", 1)
    assert rec.item_id == "i2" and rec.score == pytest.approx(0.5)
    # the one neighbour shares i0 (1·1) and i1 (2·1) with u0: dot 3, so i2's score 0.5 splits
    # into 0.5·1/3 through i0 and 0.5·2/3 through i1, both in one positive part naming i1 first
    [reason] = rec.reasons
    assert reason.kind == "latent" and reason.items == ("i1", "i0")
    assert reason.weight == pytest.approx(0.5)


def _terms(M, q, k, shrink, e, exclude, item):
    """Independent per-history-item terms of ``item``'s score: Σ_v sim_v^e · q_j M_vj M_vi /
    (q · M_v)."""
    _, weights = _expected(M, q, k, shrink, e, exclude)
    return {
        j: sum(w * q[j] * M[v, j] * M[v, item] / (q @ M[v]) for v, w in weights.items())
        for j in np.flatnonzero(q)
    }


@pytest.mark.parametrize("exponent", [1.0, 2.5])
def test_reasons_are_the_per_item_terms_and_add_up_to_the_score(exponent):
    model = UserKNN(k=3, shrink=1.0, exponent=exponent).fit(_frame(X))
    for user in ("u0", "u3", "u4"):
        u = int(user[1:])
        for rec in model.recommend(user, 3):
            item = int(rec.item_id[1:])
            terms = _terms(X, X[u], 3, 1.0, exponent, u, item)
            assert math.fsum(terms.values()) == pytest.approx(rec.score, rel=1e-5)
            [reason] = rec.reasons  # every term is >= 0: one part
            assert reason.weight == pytest.approx(rec.score, rel=1e-5)
            assert rec.explained == 1.0
            # the part names the history items with the two largest terms, largest first
            named = sorted(terms, key=lambda j: (-terms[j], j))[:2]
            named = [j for j in named if terms[j] > 0]
            assert [int(i[1:]) for i in reason.items] == named
    # a known customer with a visit: compared afresh with everyone (the customer included)
    recs = model.recommend("u0", 4, context=["i3"])
    q = X[0].copy()
    q[3] += 1.0
    for rec in recs:
        terms = _terms(X, q, 3, 1.0, exponent, None, int(rec.item_id[1:]))
        assert math.fsum(r.weight for r in rec.reasons) == pytest.approx(rec.score, rel=1e-5)
        assert math.fsum(terms.values()) == pytest.approx(rec.score, rel=1e-5)


def test_neighbour_lists_are_bounded_and_batches_agree(monkeypatch):
    rng = np.random.default_rng(3)
    M = (rng.random((60, 25)) < 0.2).astype(float)
    M[M.sum(axis=1) == 0, 0] = 1.0
    whole = UserKNN(k=4, shrink=2.0, exponent=1.5).fit(_frame(M))
    assert np.diff(whole.neighbours_.indptr).max() <= 4
    assert whole.neighbours_.nnz <= 4 * len(whole.user_ids_)
    monkeypatch.setattr(userknn, "_BATCH_CELLS", 7 * 60)  # 7 customers per batch
    batched = UserKNN(k=4, shrink=2.0, exponent=1.5).fit(_frame(M))
    np.testing.assert_allclose(
        batched._score_users(np.arange(60), None, None),
        whole._score_users(np.arange(60), None, None),
        rtol=1e-6,
    )


def test_save_and_load_keep_the_neighbours(tmp_path):
    model = make_model("userknn", k=2, shrink=0.5).fit(_frame(X))
    save_model(model, tmp_path)
    loaded, meta = load_model(tmp_path, "userknn")
    assert meta["exact_reasons"] is True
    assert (loaded.neighbours_ != model.neighbours_).nnz == 0
    assert loaded.get_params() == {"k": 2, "shrink": 0.5, "exponent": 3.0}
    for user in ("u1", "u4"):
        a, b = loaded.recommend(user, 4), model.recommend(user, 4)
        assert [(r.item_id, r.score, r.reasons) for r in a] == [
            (r.item_id, r.score, r.reasons) for r in b
        ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"k": 0}, "k"),
        ({"k": 2.5}, "k"),
        ({"shrink": -1.0}, "shrink"),
        ({"exponent": 0.0}, "exponent"),
    ],
)
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(DataError, match=field) as err:
        UserKNN(**params).fit(_frame(X))
    assert err.value.field == field
