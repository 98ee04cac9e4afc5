"""Ranking metrics against hand-worked cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omotenashi.errors import DataError
from omotenashi.evaluation import (
    catalogue_coverage,
    hit_matrix,
    hit_rate_at_k,
    intra_list_diversity,
    mean_popularity,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    recall_at_k,
)


def test_ndcg_hand_worked():
    # hits at ranks 1 and 3, two relevant items: DCG = 1 + 1/log2(4); IDCG = 1 + 1/log2(3)
    hits = np.zeros((1, 10), dtype=bool)
    hits[0, [0, 2]] = True
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(hits, [2], 10)[0] == pytest.approx(expected)


def test_ndcg_ideal_is_capped_at_k():
    # 30 relevant items, 10 hits in the top 10: perfect
    assert ndcg_at_k(np.ones((1, 20), dtype=bool), [30], 10)[0] == pytest.approx(1.0)
    # one hit at rank 10 out of 12 relevant: (1/log2(11)) / sum_{r=1..10} 1/log2(r+1)
    hits = np.zeros((1, 10), dtype=bool)
    hits[0, 9] = True
    ideal = sum(1 / math.log2(r + 1) for r in range(1, 11))
    assert ndcg_at_k(hits, [12], 10)[0] == pytest.approx((1 / math.log2(11)) / ideal)


def test_recall_divides_by_min_of_test_size_and_k():
    hits = np.zeros((2, 20), dtype=bool)
    hits[0, [1, 5, 19]] = True
    hits[1, [0]] = True
    got = recall_at_k(hits, [30, 2], 20)
    assert got[0] == pytest.approx(3 / 20)
    assert got[1] == pytest.approx(1 / 2)


def test_hit_rate_and_mrr():
    hits = np.zeros((3, 20), dtype=bool)
    hits[0, 2] = True
    hits[1, [4, 7]] = True
    assert list(hit_rate_at_k(hits, 20)) == pytest.approx([1.0, 1.0, 0.0])
    assert mrr_at_k(hits, 20) == pytest.approx([1 / 3, 1 / 5, 0.0])
    assert mrr_at_k(hits, 3) == pytest.approx([1 / 3, 0.0, 0.0])


def test_hit_matrix_and_validation():
    hits = hit_matrix([["a", "b", "c"], ["x"]], [{"c"}, {"y"}])
    assert hits.tolist() == [[False, False, True], [False, False, False]]
    with pytest.raises(DataError, match="rows"):
        hit_matrix([["a"]], [])
    with pytest.raises(DataError, match="2-D"):
        ndcg_at_k(np.ones(3, dtype=bool), [1], 10)
    with pytest.raises(DataError, match="k must"):
        recall_at_k(np.ones((1, 3), dtype=bool), [1], 0)


def test_beyond_accuracy_metrics():
    rec = np.array([[0, 1], [1, 2]])
    assert catalogue_coverage(rec, 10) == pytest.approx(0.3)
    counts = np.array([8.0, 2.0, 4.0])
    assert mean_popularity(rec, counts) == pytest.approx(np.mean([1, 0.25, 0.25, 0.5]))
    # share of users p = counts / 8 → self-information
    assert novelty(rec, counts, 8) == pytest.approx(np.mean(-np.log2([1, 0.25, 0.25, 0.5])))
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # list 1: identical items (distance 0); list 2: orthogonal (distance 1)
    assert intra_list_diversity(rec, vectors) == pytest.approx(0.5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.booleans(), min_size=10, max_size=10),
    st.integers(min_value=1, max_value=15),
)
def test_ndcg_bounded_and_perfect_ranking_is_one(hit_list, n_rel):
    hits = np.array([hit_list])
    n_rel = max(n_rel, int(hits.sum()))
    value = ndcg_at_k(hits, [n_rel], 10)[0]
    assert 0.0 <= value <= 1.0 + 1e-12
    perfect = np.zeros((1, 10), dtype=bool)
    perfect[0, : min(n_rel, 10)] = True
    assert ndcg_at_k(perfect, [n_rel], 10)[0] == pytest.approx(1.0)
