"""Exact top-n inner products that stop early (recommend/_mips.py) against a full float64 scan."""

import numpy as np
import pytest

from omotenashi.recommend._mips import FIRST_STAGE, SECOND_STAGE, NormOrderedItems


def full_scan(Y, u, n, excluded=None, allowed=None):
    """The reference: every item scored in float64, ranked by score then lower position."""
    scores = Y @ u
    keep = np.ones(len(Y), dtype=bool)
    if excluded is not None:
        keep[excluded] = False
    if allowed is not None:
        keep &= allowed
    items = np.flatnonzero(keep)
    ranked = items[np.lexsort((items, -scores[items]))][:n]
    return ranked, scores[ranked]


def zipf_factors(rng, items=6000, k=16, fall=0.6):
    """Item vectors whose norms fall like item popularity: a few long, a long tail of short."""
    norms = 3.0 / np.arange(1, items + 1) ** fall
    Y = rng.standard_normal((items, k))
    Y *= (norms / np.linalg.norm(Y, axis=1))[:, None]
    return Y[rng.permutation(items)]  # the long ones anywhere in the catalogue


@pytest.mark.parametrize("seed", range(6))
def test_top_equals_the_full_scan(seed):
    rng = np.random.default_rng(seed)
    Y = zipf_factors(rng, items=12 * FIRST_STAGE)
    index = NormOrderedItems(Y)
    for _ in range(30):
        u = rng.standard_normal(Y.shape[1]) * rng.uniform(0.01, 3)
        if rng.random() < 0.5:  # away from the longest vectors: the answer lies deeper
            longest = Y[np.argsort(-np.linalg.norm(Y, axis=1))[:12]]
            basis = np.linalg.qr(longest.T)[0]
            u -= basis @ (basis.T @ u)
        n = int(rng.choice([1, 5, 10, 50]))
        excluded = rng.choice(len(Y), size=int(rng.integers(0, 40)), replace=False)
        # filters that leave most items (read in stages) and narrow ones (scored directly)
        allowed = rng.random(len(Y)) < rng.choice([0.9, 0.05]) if rng.random() < 0.4 else None
        items, scores = index.top(u, n, excluded, allowed)
        want, want_scores = full_scan(Y, u, n, excluded, allowed)
        np.testing.assert_array_equal(items, want)
        np.testing.assert_allclose(scores, want_scores, rtol=1e-12, atol=1e-15)


def test_it_stops_once_no_unread_item_can_win():
    """A customer aligned with the long vectors: the first stage settles the answer; one
    orthogonal to them, among vectors of equal length, must read the whole catalogue."""
    rng = np.random.default_rng(7)
    k = 8
    head = np.eye(k)[:4] * 10.0  # four long vectors on the first axes
    tail = rng.standard_normal((20 * FIRST_STAGE, k))
    tail[:, :4] = 0.0  # the tail lives on the other axes, all of one length: no bound helps
    tail *= 0.01 / np.linalg.norm(tail, axis=1)[:, None]
    Y = np.vstack([tail[:5000], head, tail[5000:]])
    index = NormOrderedItems(Y)
    u = np.zeros(k)
    u[:4] = [1.0, 0.9, 0.8, 0.7]
    items, _, read = index.scan(u, 3)
    assert read == FIRST_STAGE < len(Y) / 10
    np.testing.assert_array_equal(items, [5000, 5001, 5002])
    v = np.zeros(k)
    v[4:] = 1.0
    items, scores, read = index.scan(v, 3)
    assert read == len(Y)
    want, want_scores = full_scan(Y, v, 3)
    np.testing.assert_array_equal(items, want)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-12)


def test_ties_go_to_the_lower_position_even_across_a_stage():
    k = 4
    Y = np.full((3 * FIRST_STAGE, k), 0.001)
    Y[[10, 2000, 2001]] = [1.0, 0.0, 0.0, 0.0]  # three equal vectors, far apart
    index = NormOrderedItems(Y)
    items, scores = index.top(np.array([1.0, 0, 0, 0]), 2)
    np.testing.assert_array_equal(items, [10, 2000])
    items, _ = index.top(np.array([1.0, 0, 0, 0]), 2, excluded=np.array([10]))
    np.testing.assert_array_equal(items, [2000, 2001])


def test_filters_that_leave_few_items_and_large_n():
    rng = np.random.default_rng(3)
    Y = zipf_factors(rng, items=3000)
    index = NormOrderedItems(Y)
    u = rng.standard_normal(Y.shape[1])
    allowed = np.zeros(len(Y), dtype=bool)
    allowed[[5, 2999, 1234]] = True
    items, _ = index.top(u, 10, allowed=allowed)
    np.testing.assert_array_equal(items, full_scan(Y, u, 10, allowed=allowed)[0])
    assert len(items) == 3
    seen = items[:1]  # the best allowed item, seen: left out of the narrow filter's answer too
    items, _ = index.top(u, 10, excluded=seen, allowed=allowed)
    np.testing.assert_array_equal(items, full_scan(Y, u, 10, excluded=seen, allowed=allowed)[0])
    assert len(items) == 2 and seen[0] not in items
    items, _ = index.top(u, 10, allowed=np.zeros(len(Y), dtype=bool))
    assert items.size == 0
    items, _ = index.top(u, 5000)  # more than the catalogue: every item, ranked
    np.testing.assert_array_equal(items, full_scan(Y, u, 5000)[0])
    assert NormOrderedItems(np.empty((0, 4))).top(u[:4], 3)[0].size == 0


def test_float32_reading_still_gives_the_float64_order():
    """Two items closer than float32 can resolve, the better one scoring lower in the float32
    pass the index itself makes: the float64 scores decide."""
    rng = np.random.default_rng(5)
    Y = zipf_factors(rng, items=2000, k=8) * 0.01
    u = rng.standard_normal(8)
    for _ in range(500):  # vectors whose float32 scores reverse their order
        base = 5.0 * u / (u @ u) + rng.standard_normal(8) * 1e-3
        w = rng.standard_normal(8)
        w -= (w @ u) / (u @ u) * u  # a step that leaves the score, but not its rounding
        Y[100] = base + 1e-6 * w + 1e-8 * u / (u @ u)  # 1e-8 better: below float32 resolution
        Y[50] = base
        index = NormOrderedItems(Y)
        first = index.single[:FIRST_STAGE] @ u.astype(np.float32)  # the index's first pass
        better, worse = first[index.position[[100, 50]]]
        if better < worse:
            break
    else:
        pytest.fail("no pair found")
    assert Y[100] @ u > Y[50] @ u
    items, _ = index.top(u, 1)
    np.testing.assert_array_equal(items, [100])


def _tail_users(rng, Y, count=60):
    """Customer vectors of every kind: random, pushed away from the long vectors (their answers
    lie deeper), and aligned with one item of the tail (it belongs in their answer)."""
    order = np.argsort(-np.linalg.norm(Y, axis=1))
    longest = Y[order[:12]]
    basis = np.linalg.qr(longest.T)[0]
    users = []
    for k in range(count):
        u = rng.standard_normal(Y.shape[1]) * rng.uniform(0.01, 3)
        if k % 3 == 1:
            u -= basis @ (basis.T @ u)
        elif k % 3 == 2:
            deep = Y[order[int(rng.integers(FIRST_STAGE + SECOND_STAGE, len(Y)))]]
            u = deep / np.linalg.norm(deep) * rng.uniform(0.5, 3)
        users.append(u)
    return np.array(users)


def _random_seen(rng, users, items):
    import scipy.sparse as sp

    rows = [rng.choice(items, size=int(rng.integers(0, 30)), replace=False) for _ in range(users)]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    return sp.csr_matrix(
        (np.ones(indptr[-1]), np.concatenate(rows).astype(np.int64), indptr), shape=(users, items)
    )


@pytest.mark.parametrize("seed", range(4))
def test_tail_bounds_hold_and_answers_stay_exact(seed, monkeypatch):
    """Every tail bound is at least the customer's best exact score past the second stage,
    and answers that stop on it are the full scan's, whatever n, filter or seen items."""
    from omotenashi.recommend import _mips

    # the tail read in several blocks, so that bounds found before its end are checked too
    monkeypatch.setattr(_mips, "TAIL_BLOCK", 700)
    rng = np.random.default_rng(seed)
    # more factors and norms that fall slowly: many answers need the tail (as short histories
    # do on a large catalogue)
    Y = zipf_factors(rng, items=14 * FIRST_STAGE, k=48, fall=0.25)
    index = NormOrderedItems(Y)
    users = _tail_users(rng, Y)
    seen = _random_seen(rng, len(users), len(Y))
    bounds = index.tail_bounds(users, n=10, seen=seen)
    tail_items = index.order[index.head :]
    assert np.isfinite(bounds).any() and not np.isfinite(bounds).all()
    for u, bound in zip(users, bounds, strict=True):
        assert bound >= (Y[tail_items] @ u).max()
    stopped = 0
    for row, (u, bound) in enumerate(zip(users, bounds, strict=True)):
        for n in (1, 10, 50):
            excluded = seen.indices[seen.indptr[row] : seen.indptr[row + 1]]
            allowed = rng.random(len(Y)) < 0.9 if rng.random() < 0.3 else None
            items, scores, read = index.scan(u, n, excluded, allowed, tail=float(bound))
            want, want_scores = full_scan(Y, u, n, excluded, allowed)
            np.testing.assert_array_equal(items, want)
            np.testing.assert_allclose(scores, want_scores, rtol=1e-12, atol=1e-15)
            if n == 10 and read == index.head:
                _, _, read_without = index.scan(u, n, excluded, allowed)
                stopped += read_without == len(Y)
    assert stopped > 0  # answers that read everything without a bound stop at the tail


def test_a_customer_whose_answer_lies_in_the_tail_gets_no_bound_that_hides_it():
    """Long vectors on four axes, the tail on the others: a customer along one tail item
    must be answered with tail items."""
    rng = np.random.default_rng(11)
    k = 8
    head = np.eye(k)[:4] * 10.0
    tail = rng.standard_normal((12 * FIRST_STAGE, k))
    tail[:, :4] = 0.0
    tail *= (np.linspace(1.0, 0.01, len(tail)) / np.linalg.norm(tail, axis=1))[:, None]
    Y = np.vstack([head, tail])
    deep = Y[-3000]
    u = deep / np.linalg.norm(deep) + 1e-3 * np.eye(k)[0]
    index = NormOrderedItems(Y)
    bound = index.tail_bounds(u[None, :], n=10)[0]
    assert bound >= (Y[index.order[index.head :]] @ u).max()
    items, _, _ = index.scan(u, 10, tail=float(bound))
    np.testing.assert_array_equal(items, full_scan(Y, u, 10)[0])
    assert (items >= 4).all()  # the answer is in the tail
