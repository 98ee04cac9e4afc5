"""Exact top-n inner products that stop reading item vectors once no unread item can win.

A known customer's matrix-factorisation answer is the ``n`` items with the largest ``u·y_i``.
Scoring every item reads every item vector: 38 MB per answer for 150k items and 64 factors in
float32, which on a large catalogue costs more than the rest of the answer and is what made
answers grow with the catalogue. Here the items are sorted by the norm of their vector, longest
first, and read in stages of growing size; since ``u·y_i <= |u|·|y_i|``, once the ``n``-th best
score found is above ``|u|`` times the longest unread vector, no unread item can enter the
answer and the scan stops. On a Zipf-like catalogue the popular items have the long vectors:
most customers' answers are settled by the first few thousand items; customers whose best scores
are all small (little history) still read everything. A filter that leaves few items (up to
the first two stages' size) is answered by scoring just those.

Those customers' answers are nearly always found in the first two stages: what is missing is
the proof that nothing further down beats them (on the 20M-event store, every one of 150 such
customers had their n-th best score among the first 9,216 items). So, once per model, each known
customer whose answer of 10 the norms cannot settle there gets a *tail bound*: an upper bound of
their score for every item past the second stage, from one pass over all of them
(:meth:`NormOrderedItems.tail_bounds`). An answer whose n-th best score after the second stage is
above that bound stops there. The bound covers every item of the tail, seen or not, so it holds
for any ``n``, filter or seen items; an answer it cannot settle (a tail item belongs in it) reads
on as before. It costs one float per customer and, on a large catalogue, a share of the
training time (measured in ``benchmarks/answer_reads.py``).

The stages score in float32 (half the bytes of float64), and the answer is still the exact one:
an item's float32 score is off by at most ``(k + 3)·2⁻²⁴·|u|·|y_i|`` (Higham's bound for a dot
product of ``k`` terms, plus rounding ``u`` and ``y_i`` to float32), less than
``E = (k + 2)·2⁻²³·|u|·max|y|`` for any ``k >= 1``; so every item that could reach the ``n``
best is rescored in float64 and those exact scores rank (ties by the lower item position, as
``top_k``).

Why our own: libraries for inner-product search (faiss, hnswlib, annoy, ScaNN) are approximate,
or exact by scanning every vector; none stops early with exact float64 answers, and this is
numpy only.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

FIRST_STAGE = 1024  # items read before the first stopping test
SECOND_STAGE = 8192  # then these; an answer not settled by then reads the rest in one go
TAIL_BLOCK = 8192  # items per block when computing tail bounds
BOUND_N = 10  # the answer length tail bounds are made for (the default n; others use them too)


class NormOrderedItems:
    """Item vectors sorted by norm for exact top-n inner products.

    Parameters
    ----------
    factors : numpy.ndarray, shape (n_items, k)
        The item vectors in float64 (the exact scores are ``factors @ u``).
    """

    def __init__(self, factors: np.ndarray) -> None:
        self.factors = factors
        norms = np.linalg.norm(factors, axis=1)
        self.order = np.argsort(-norms, kind="stable")
        self.position = np.empty_like(self.order)  # item -> its place in the sorted order
        self.position[self.order] = np.arange(self.order.size)
        self.norms = norms[self.order]
        self.single = np.ascontiguousarray(factors[self.order], dtype=np.float32)
        self.stages = _stages(self.order.size)
        self.head = min(FIRST_STAGE + SECOND_STAGE, self.order.size)  # where the tail begins

    def top(
        self,
        u: np.ndarray,
        n: int,
        excluded: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items with the largest ``factors @ u`` and those exact scores, best first.

        Parameters
        ----------
        u : numpy.ndarray, shape (k,)
            The customer's vector (float64).
        n : int
        excluded : numpy.ndarray of int, optional
            Item positions left out (the items the customer has seen).
        allowed : numpy.ndarray of bool, optional
            The items a filter allows (None: all).

        Returns
        -------
        (items, scores)
            Fewer than ``n`` when fewer items are left.
        """
        items, scores, _ = self.scan(u, n, excluded, allowed)
        return items, scores

    def scan(
        self,
        u: np.ndarray,
        n: int,
        excluded: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
        tail: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """:meth:`top` and the number of item vectors it read; ``tail``: an upper bound of
        ``u``'s exact score for every item past the second stage (:meth:`tail_bounds`)."""
        u = np.asarray(u, dtype=np.float64)
        size = self.order.size
        if n <= 0 or size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0), 0
        if allowed is not None:
            chosen = np.flatnonzero(allowed)
            if chosen.size <= FIRST_STAGE + SECOND_STAGE:  # a narrow filter: score just those
                if excluded is not None and excluded.size:
                    chosen = chosen[~np.isin(chosen, excluded)]
                return (*self._exact_top(chosen, u, n), chosen.size)
        norm_u = float(np.linalg.norm(u))
        # float32 scores are within `error` of the float64 ones (module docstring)
        error = (u.size + 2) * 2.0**-23 * norm_u * float(self.norms[0])
        u32 = u.astype(np.float32)
        skip = np.sort(self.position[excluded]) if excluded is not None and excluded.size else None
        read = 0
        kept_at, kept = [], []  # sorted places and float32 scores of possible members
        pool = np.empty(0, dtype=np.float32)  # the n best float32 scores read so far
        nth = -np.inf  # the n-th of them, once there are n
        for lo, hi in self.stages:
            if nth > -np.inf and norm_u * float(self.norms[lo]) * (1 + 1e-9) < nth - error:
                break  # no unread item's exact score reaches the n found (each >= nth - error)
            if tail is not None and lo == self.head and nth - error > tail:
                break  # nor can any item of the tail: each scores at most `tail`
            scores = self.single[lo:hi] @ u32
            read = hi
            if skip is not None:
                a, b = np.searchsorted(skip, (lo, hi))
                scores[skip[a:b] - lo] = -np.inf
            if allowed is not None:
                scores[~allowed[self.order[lo:hi]]] = -np.inf
            # the possible members: within 2·error of the n-th best so far (or every item read
            # while there are fewer than n); they include all that can change the n best
            at = np.flatnonzero(scores >= nth - 2.0 * error if nth > -np.inf else scores > nth)
            kept_at.append(lo + at)
            kept.append(scores[at])
            pool = _best(np.concatenate((pool, kept[-1])), n)
            if pool.size == n:
                nth = float(pool.min())
        # every item whose exact score could reach the n-th best: within 2·error of it (the
        # n-th only rose while reading, so the last floor is the highest)
        at, scores = np.concatenate(kept_at), np.concatenate(kept)
        return (*self._exact_top(self.order[at[scores >= nth - 2.0 * error]], u, n), read)

    def tail_bounds(
        self,
        users: np.ndarray,
        n: int | None = None,
        seen: sp.csr_matrix | None = None,
        chunk: int = 2048,
    ) -> np.ndarray:
        """For each user vector (rows of ``users``), an upper bound of its exact score for every
        item past the second stage where its answer of ``n`` (default ``BOUND_N``) needs one,
        else ``inf``.

        The users are read as :meth:`scan` reads them (``seen``: each user's items, left out as
        the answers leave them out), ``chunk`` at a time: those the norm test settles within
        the first two stages need no bound. The others read the tail in blocks, longest
        vectors first, and stop as soon as the bound is known to be good enough, that is below
        their n-th best score: then the bound is the larger of the best tail score read and
        ``|u|`` times the longest unread vector. Those whose tail holds a score near their
        n-th best get none (``inf``): their answers read on. Scores are float32, raised by
        the float32 error bound (module docstring) and rounded up: never below an exact score.
        """
        users = np.asarray(users)
        n = BOUND_N if n is None else n
        out = np.full(users.shape[0], np.inf)
        if self.head >= self.order.size or n <= 0:
            return out
        size = self.order.size
        for lo in range(0, users.shape[0], chunk):
            block = np.asarray(users[lo : lo + chunk], dtype=np.float64)
            norm_u = np.linalg.norm(block, axis=1)
            error = (block.shape[1] + 2) * 2.0**-23 * norm_u * float(self.norms[0])
            block32 = block.astype(np.float32)
            part = seen[lo : lo + chunk].tocoo() if seen is not None else None
            seen_at = self.position[part.col] if part is not None else None  # their places
            rows = np.arange(len(block))  # the users still reading
            pool = np.full((len(block), 0), -np.inf, dtype=np.float32)  # their n best so far
            for a, b in self.stages:
                if a >= self.head:
                    break
                scores = block32[rows] @ self.single[a:b].T
                if part is not None:
                    hit = (seen_at >= a) & (seen_at < b) & np.isin(part.row, rows)
                    scores[np.searchsorted(rows, part.row[hit]), seen_at[hit] - a] = -np.inf
                both = np.concatenate((pool, scores), axis=1)
                keep = min(n, both.shape[1])
                pool = np.partition(both, both.shape[1] - keep, axis=1)[:, both.shape[1] - keep :]
                nth = pool.min(axis=1) if keep == n else np.full(len(rows), -np.inf)
                settled = norm_u[rows] * float(self.norms[b]) * (1 + 1e-9) < nth - error[rows]
                rows, pool = rows[~settled], pool[~settled]
            # each n-th best, exact at least (none while fewer than n items were read: then
            # the answer needs the tail and no bound helps)
            floor = pool.min(axis=1) if pool.shape[1] == n else np.full(rows.size, -np.inf)
            floor = floor.astype(np.float64) - error[rows]
            best = np.full(rows.size, -np.inf)
            for a in range(self.head, size, TAIL_BLOCK):
                if not rows.size:
                    break
                b = min(size, a + TAIL_BLOCK)
                best = np.maximum(best, (block32[rows] @ self.single[a:b].T).max(axis=1))
                reach = best + error[rows]  # no tail item read scores above it
                unread = norm_u[rows] * float(self.norms[b]) * (1 + 1e-9) if b < size else -np.inf
                bound = np.maximum(reach, unread)
                done = (bound < floor) | (reach >= floor)  # good enough, or never will be
                good = done & (reach < floor)
                out[lo + rows[good]] = np.nextafter(bound[good], np.inf)
                rows, best, floor = rows[~done], best[~done], floor[~done]
        return out

    def _exact_top(self, items: np.ndarray, u: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` of ``items`` with the largest float64 scores, ties to the lower position."""
        exact = self.factors[items] @ u
        best = np.lexsort((items, -exact))[:n]
        return items[best], exact[best]


def _stages(size: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each stage. Three at most: on the 20M-event store's 148,000 items
    83 % of answers stopped after the first stage, 4.5 % after the second, and of the rest
    nearly all read everything (each stage adds a pass and a call)."""
    cuts = [c for c in (FIRST_STAGE, FIRST_STAGE + SECOND_STAGE) if c < size] + [size]
    return [(lo, hi) for lo, hi in zip([0, *cuts[:-1]], cuts, strict=True) if hi > lo]


def _best(scores: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` largest of ``scores`` (any order; all of them when there are fewer)."""
    if scores.size <= n:
        return scores
    return np.partition(scores, scores.size - n)[scores.size - n :]
