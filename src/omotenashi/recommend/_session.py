"""Real-time session recommenders and "bought together".

A visitor who is not logged in has only the clicks of the last minutes. These models answer from
those clicks alone, immediately: nothing is refitted when a click arrives.

* :class:`SessionKNN` — session-based kNN in the STAN/V-SKNN family (Ludewig & Jannach 2018;
  Garg et al., SIGIR 2019), plus a repeat-view term: visitors often go back to an item.
* :class:`SequentialRules` — "after A, visitors went to B" rules weighted by step distance.
* :class:`BoughtTogether` — co-occurrence in orders/baskets, shrunk confidence.

Fitted on interactions whose ``user_id`` is a *session* (or an order); see
:func:`omotenashi.recommend.sessionize`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError
from omotenashi.recommend._base import Recommender, split_terms
from omotenashi.recommend._linear import item_neighbours


def _positions(model: Recommender) -> sp.csr_matrix:
    """Position (1 = first) of each item's last occurrence in its session, from recency ages."""
    A = model.user_ages_
    lengths = np.diff(A.indptr)
    P = A.copy()
    P.data = (np.repeat(lengths, lengths) - A.data + 1.0).astype(np.float32)
    return P


#: How a click's weight in the current session falls with its age (1 = the latest click, ``L`` =
#: the oldest age in the session): the ``weighting`` options of the neighbourhood models.
WEIGHTINGS = ("exp", "linear", "div", "log", "quadratic", "same")


def _click_weights(kind: str, age: np.ndarray, oldest: np.ndarray, decay: float) -> np.ndarray:
    if kind == "exp":  # STAN: exp((p - l) / λ1) with p - l = 1 - age
        return np.exp(-(age - 1.0) / decay)
    if kind == "linear":  # V-SKNN: the latest click 1, the oldest 1/L, linear in between
        return (oldest - age + 1.0) / oldest
    if kind == "quadratic":
        return ((oldest - age + 1.0) / oldest) ** 2
    if kind == "div":
        return 1.0 / age
    if kind == "log":
        return 1.0 / np.log2(age + 1.0)
    if kind == "same":
        return np.ones_like(age)
    raise DataError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {kind!r}")


class _Neighbourhood:
    """One batch of current sessions against the fitted sessions (the shared kNN arithmetic).

    For the rows of ``ages`` (current sessions; age 1 = the latest click):

    1. click weights ``q_j`` (``weighting``; times the item's IDF when ``idf_similarity``);
    2. candidate neighbours: fitted sessions sharing an item, of which the ``sample_size`` most
       recent are kept (0 keeps all);
    3. similarity ``Σ_{j ∈ s∩n} q_j``, divided by ``sqrt(|s|·|n|)`` when ``cosine``, times
       ``exp(-age_days(n) / recency_days)`` when ``recency_days`` is set;
    4. the ``k`` most similar neighbours vote: ``binary`` scoring gives every item of ``n`` the
       similarity; ``distance`` scoring weighs item ``i`` of ``n`` by
       ``exp(-|pos(i, n) - pos(a, n)| / distance_decay)`` where ``a`` is the latest click of ``s``
       found in ``n``, and by ``exp(-(age(a) - 1) / anchor_decay)`` when ``anchor_decay`` is set;
    5. scores times ``idf(i) ** idf_scoring``.

    Similarities, and so every vote, are sums over the shared clicks ``j``: :meth:`parts` splits a
    score exactly into one term per click of the current session.
    """

    #: What :meth:`structure` keeps: everything but the votes' weights.
    _STRUCTURE = ("row", "q", "r", "c", "sim", "entry_pair", "entry_item", "entry_flat", "_dist")

    def __init__(
        self, model: _SessionNeighbours, ages: sp.csr_matrix, structure: dict | None = None
    ) -> None:
        self.model = model
        self.ages = ages
        self._shared: np.ndarray | None = None  # for parts(): built on the first explanation
        #: what a model derives from these scores for its explanations, computed once for all
        #: the items of an answer (:meth:`SessionKNN._explained`)
        self.derived: dict = {}
        if structure is None:
            self._neighbours()
            self._entries()
        else:  # the same sessions and neighbours: only the votes' weights change
            self.__dict__.update(structure)
        self._weights()

    def structure(self) -> dict:
        """The neighbours and their entries, which only the neighbourhood parameters (not
        ``distance_decay``, ``anchor_decay`` or ``idf_scoring``) decide: a search reuses them."""
        return {name: getattr(self, name) for name in self._STRUCTURE}

    def _neighbours(self) -> None:
        m, ages = self.model, self.ages
        nr = ages.shape[0]
        self.row = np.repeat(np.arange(nr), np.diff(ages.indptr))
        age = ages.data.astype(np.float64)
        oldest = np.zeros(nr)
        np.maximum.at(oldest, self.row, age)
        q = _click_weights(m._weighting, age, oldest[self.row], m._position_decay)
        if m._idf_similarity:
            q = q * m._idf[ages.indices]
        self.q = q
        Q = sp.csr_matrix((q, ages.indices, ages.indptr), shape=ages.shape)
        # columns of the product are sessions from the newest: the first entries of a row are
        # its most recent candidates
        S = sp.csr_matrix(Q @ m._item_sessions_by_recency)
        S.sort_indices()
        counts = np.diff(S.indptr)
        r = np.repeat(np.arange(nr), counts)
        c, v = S.indices, S.data
        if m._sample_size and m._sample_size < m._n_sessions:
            keep = np.arange(len(c)) - np.repeat(S.indptr[:-1], counts) < m._sample_size
            r, c, v = r[keep], c[keep], v[keep]
        c = m._by_recency[c]
        sim = v
        if m._cosine:
            sizes = np.diff(ages.indptr).astype(np.float64)
            sim = sim / np.sqrt(sizes[r] * m._lengths[c])
        sim = sim * m._recency[c]
        keep = sim > 0
        r, c, sim = r[keep], c[keep], sim[keep]
        # the k most similar; equal similarities: the more recent session first
        top = _top_k_in_rows(r, sim, nr, m._k)
        self.r, self.c, self.sim = r[top], c[top], sim[top]

    def _entries(self) -> None:
        """Per (neighbour, item) entry: its row and item (``entry_*``) and, for ``distance``
        scoring, its distance to the neighbour's anchor and the anchor's age (``_dist``)."""
        m, P = self.model, self.model.positions_
        lens = np.diff(P.indptr)[self.c]
        first = np.cumsum(lens) - lens
        pair = np.repeat(np.arange(len(self.c)), lens)
        # entry e of pair p sits at P.indptr[c_p] + (e - first_p) in the fitted positions
        ent = np.arange(lens.sum()) + np.repeat(P.indptr[self.c] - first, lens)
        item = P.indices[ent]
        n = self.ages.shape[1]
        # (current session, item) of every entry, flattened: where its vote goes in scores()
        self.entry_flat = self.r[pair] * n + item
        self._dist = None
        if m._scoring == "distance" and len(pair):
            # age in the current session of each neighbour item (inf: not clicked), looked up
            # in a dense (session, item) table: the size of the scores this batch fills anyway,
            # and one gather instead of a binary search per entry
            table = np.full(self.ages.shape[0] * n, np.inf, dtype=self.ages.data.dtype)
            table[self.row * n + self.ages.indices] = self.ages.data
            a = table[self.entry_flat]
            anchor_age = np.minimum.reduceat(a, first)
            position = P.data[ent]
            anchor = np.flatnonzero(a == anchor_age[pair])
            anchor_pos = np.zeros(len(self.c), dtype=position.dtype)
            anchor_pos[pair[anchor]] = position[anchor]
            if m._whole_positions and _is_whole(self.ages.data):
                # positions and ages are whole numbers (exact in any float type): the decays
                # become table look-ups
                distance = np.abs(position - anchor_pos[pair]).astype(np.int32)
                anchor_age = anchor_age - 1
                if _is_whole(anchor_age):  # (not when a neighbour has no anchor: inf)
                    anchor_age = anchor_age.astype(np.int32)
            else:
                distance = np.abs(position.astype(np.float64) - anchor_pos[pair])
                anchor_age = anchor_age.astype(np.float64) - 1.0
            self._dist = (distance, anchor_age[pair])
        self.entry_pair, self.entry_item = pair, item

    def _weights(self) -> None:
        """Each entry's vote (``entry_vote``): the neighbour's similarity, times the distance
        and anchor decays and the item's IDF power."""
        m = self.model
        vote = self.sim[self.entry_pair]
        if m._scoring == "distance" and self._dist is not None:
            distance, anchor_age = self._dist
            vote = vote * _exp_decay(distance, m._distance_decay)
            if m._anchor_decay:
                vote = vote * _exp_decay(anchor_age, m._anchor_decay)
        if m._idf_scoring:
            vote = vote * m._idf_power()[self.entry_item]
        self.entry_vote = vote

    def scores(self) -> np.ndarray:
        nr, n = self.ages.shape
        return np.bincount(self.entry_flat, weights=self.entry_vote, minlength=nr * n).reshape(
            nr, n
        )

    def parts(self, item: int) -> dict[int, float]:
        """Exact split of one row's score of ``item`` by the current session's clicks."""
        m = self.model
        sel = self.entry_item == item
        pairs, votes = self.entry_pair[sel], self.entry_vote[sel]
        if not len(pairs):
            return {}
        idx = self.ages.indices
        if self._shared is None:
            # each neighbour's shared clicks, weighted: one slice for all the items explained
            self._shared = m._sessions_binary[self.c][:, idx].toarray() * self.q
        shared = self._shared[pairs]
        split = votes @ (shared / shared.sum(axis=1, keepdims=True))
        return {int(j): float(v) for j, v in zip(idx, split, strict=True)}


def _is_whole(x: np.ndarray) -> bool:
    """Whether ``x`` holds only small non-negative whole numbers (positions, ages)."""
    if not len(x):
        return True
    if not (np.isfinite(x).all() and x.min() >= 0 and x.max() < 2**20):
        return False
    return bool(np.array_equal(x.astype(np.int32), x))


def _exp_decay(x: np.ndarray, decay: float) -> np.ndarray:
    """``exp(-x / decay)``, in float64; read from a table of its values when ``x`` holds whole
    steps (int32): a search recomputes the decays of millions of votes per setting, over a
    few dozen distinct distances and ages."""
    if x.dtype.kind != "i":
        return np.exp(-x.astype(np.float64) / decay)
    return np.exp(-np.arange(int(x.max(initial=0)) + 1, dtype=np.float64) / decay)[x]


def _top_k_in_rows(rows: np.ndarray, values: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``values`` of each row (``rows`` sorted), ordered by row,
    then value (largest first), then position: what a stable sort by (row, -value) keeps of its
    first ``k`` per row.

    A search scores thousands of visit prefixes against every fitted session sharing an item
    (millions of candidates with ``sample_size`` 0): a partition of each row that has more than
    ``k`` candidates, then a sort of only what is kept, costs a fraction of sorting them all.
    """
    counts = np.bincount(rows, minlength=n_rows)
    if counts.max(initial=0) > k:
        starts = np.concatenate(([0], np.cumsum(counts)))
        keep = np.ones(len(rows), dtype=bool)
        for row in np.flatnonzero(counts > k):
            lo, hi = starts[row], starts[row + 1]
            part = values[lo:hi]
            bound = np.partition(part, len(part) - k)[len(part) - k]  # the k-th largest
            chosen = part > bound
            # ties at the bound: the earliest positions (the more recent sessions) first
            tied = np.flatnonzero(part == bound)[: k - int(chosen.sum())]
            chosen[tied] = True
            keep[lo:hi] = chosen
        kept = np.flatnonzero(keep)
    else:
        kept = np.arange(len(rows))
    return kept[np.lexsort((-values[kept], rows[kept]))]


class _SessionNeighbours(Recommender):
    """Shared fitting, state and scoring of the session-neighbourhood models.

    Subclasses map their hyper-parameters to the attributes read by :class:`_Neighbourhood`
    in :meth:`_configure`, and may post-process scores in :meth:`_finish`.
    """

    session_model = True
    exact_reasons = True  # reasons split a score exactly by the visit's clicks (``parts``)
    _chunk = 256

    def _configure(self) -> None:
        raise NotImplementedError

    def _check(self) -> None:
        for p in ("k", "sample_size"):
            v = getattr(self, p, 1)
            if not isinstance(v, int | np.integer) or v < (1 if p == "k" else 0):
                raise DataError(
                    f"{p} must be an integer >= {1 if p == 'k' else 0}, got {v!r}", field=p
                )

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        self._check()
        self.positions_ = _positions(self)
        t = frame["t"].to_numpy()
        last = np.full(len(self.user_ids_), -np.inf)
        np.maximum.at(last, frame["u"].to_numpy(), t)
        finite = np.isfinite(last)
        newest = last[finite].max() if finite.any() else 0.0
        self.session_age_days_ = np.where(finite, (newest - last) / 86400.0, 0.0)
        # share of next clicks that go back to an item already seen in the session (repeated
        # clicks are summed into the weight of a (session, item) pair)
        X = self.user_items_
        clicks = float(X.sum())
        next_clicks = clicks - X.shape[0]
        share = (clicks - X.nnz) / next_clicks if next_clicks > 0 else 0.0
        self.repeat_share_ = float(share)
        self._prepare()

    def _prepare(self) -> None:
        P = self.positions_
        # checked once here, not on every answer (the whole fitted data)
        self._whole_positions = _is_whole(P.data)
        B = P.copy().astype(np.float64)
        B.data[:] = 1.0
        self._sessions_binary = B
        self._item_sessions = B.T.tocsr()
        self._n_sessions = P.shape[0]
        self._lengths = np.diff(P.indptr).astype(np.float64)
        df = np.diff(self._item_sessions.indptr)
        self._idf = np.log1p(max(P.shape[0], 1) / np.maximum(df, 1))
        self._idf_power_cache = None
        # sessions from the newest (ties: the lower index first)
        age = self.session_age_days_
        self._by_recency = np.lexsort((np.arange(len(age)), age))
        self._item_sessions_by_recency = B[self._by_recency].T.tocsr()
        self._configure()

    def _idf_power(self) -> np.ndarray:
        """``idf ** idf_scoring`` per item (computed once per exponent, not per vote)."""
        key = self._idf_scoring
        cached = getattr(self, "_idf_power_cache", None)
        if cached is None or cached[0] != key or len(cached[1]) != len(self._idf):
            cached = (key, self._idf**key)
            self._idf_power_cache = cached
        return cached[1]

    def _set_recency(self, days: float | None) -> None:
        self._recency_days = days
        age = self.session_age_days_
        self._recency = np.exp(-age / days) if days else np.ones(len(age))

    def _finish(self, scores: np.ndarray, ages: sp.csr_matrix) -> None:
        """Post-process the neighbour votes of a batch in place (default: nothing)."""

    def _score(self, X, ages):
        self._configure()  # parameters may have been changed by set_params
        ages = sp.csr_matrix(ages)
        out = np.zeros(ages.shape)
        for lo in range(0, ages.shape[0], self._chunk):
            part = ages[lo : lo + self._chunk]
            if part.nnz:
                out[lo : lo + self._chunk] = self._neighbourhood(part).scores()
        self._finish(out, ages)
        return out

    #: Set by a parameter search to ``{}``: the neighbourhoods of the batches it scores are
    #: kept while only vote parameters change (None: nothing is kept).
    _hood_memo: dict | None = None

    #: The last single visit scored and its neighbourhood: the explanations of an answer
    #: (``_contributions_many``) reuse it instead of finding the same neighbours again.
    _last_hood: tuple[tuple, _Neighbourhood] | None = None

    def _structure_setting(self) -> tuple:
        """The settings that decide a neighbourhood's neighbours and entries (not its votes)."""
        return (
            self._k,
            self._sample_size,
            self._weighting,
            self._position_decay,
            self._idf_similarity,
            self._cosine,
            self._recency_days,
            self._scoring,
        )

    def _visit_key(self, part: sp.csr_matrix) -> tuple:
        """What decides a neighbourhood and its votes: every setting and the visit itself."""
        votes = (self._distance_decay, self._anchor_decay, self._idf_scoring)
        visit = (part.shape, part.indptr.tobytes(), part.indices.tobytes(), part.data.tobytes())
        return self._structure_setting() + votes + visit

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._last_hood = None  # found in the previous data

    def _neighbourhood(self, part: sp.csr_matrix) -> _Neighbourhood:
        memo = self._hood_memo
        if memo is None:
            hood = _Neighbourhood(self, part)
            if part.shape[0] == 1:
                self._last_hood = (self._visit_key(part), hood)
            return hood
        # what decides the neighbours and entries; the vote parameters are left out
        setting = self._structure_setting()
        if memo.get("setting") != setting:
            memo.clear()  # one setting's structures at a time (they are large)
            memo["setting"] = setting
        key = (
            part.shape,
            hash(part.indptr.tobytes()),
            hash(part.indices.tobytes()),
            hash(part.data.tobytes()),
        )
        found = memo.get(key)
        hood = _Neighbourhood(self, part, found)
        if found is None:
            memo[key] = hood.structure()
        return hood

    def _contributions_many(self, x, ages, items):
        self._configure()
        ages_csr = sp.csr_matrix(ages)
        last = self._last_hood
        if last is not None and last[0] == self._visit_key(ages_csr):
            hood = last[1]  # the answer's own neighbourhood, just scored
        else:
            hood = _Neighbourhood(self, ages_csr)
        return [self._parts(hood, x, ages, int(i)) for i in items]

    def _contributions(self, x, ages, item):
        return self._contributions_many(x, ages, [item])[0]

    def _parts(self, hood: _Neighbourhood, x, ages, item: int):
        parts = hood.parts(item)
        top = sorted(parts.items(), key=lambda kv: -kv[1])
        return [("session", (j,), v) for j, v in top if v > 0]

    def _state(self):
        return {
            "positions": self.positions_,
            "session_age_days": self.session_age_days_,
            "repeat_share": np.array([self.repeat_share_]),
        }

    def _load_state(self, state):
        self.positions_ = state["positions"]
        self.session_age_days_ = state["session_age_days"]
        self.repeat_share_ = float(state["repeat_share"][0])
        self._prepare()


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise DataError(f"{name} must be one of {', '.join(choices)}, got {value!r}", field=name)


def _check_positive(model: Recommender, *names: str) -> None:
    for p in names:
        v = getattr(model, p)
        if v is not None and not (isinstance(v, int | float | np.number) and v > 0):
            raise DataError(f"{p} must be a number > 0 or None, got {v!r}", field=p)


class VSKNN(_SessionNeighbours):
    """V-SKNN, "vector multiplication" session kNN (Ludewig & Jannach 2018), a peer.

    The current session is a real-valued vector: the latest click weighs 1 and earlier clicks
    less (``weighting``: ``linear`` as in the paper, or ``div``, ``log``, ``quadratic``,
    ``same``); its dot product (``similarity="dot"``; ``"cosine"`` divides by
    ``sqrt(|s|·|n|)``) with the binary vector of each of the ``sample_size`` most recent past
    sessions sharing an item gives the similarity; the ``k`` most similar sessions each give
    every one of their items their similarity; ``idf_weight`` > 0 multiplies an item's score by
    ``idf ** idf_weight`` with ``idf = log(1 + sessions / sessions with the item)``.
    ``repeat_items=False`` leaves the session's own items out (score 0).
    """

    name = "vsknn"

    def __init__(
        self,
        k: int = 100,
        sample_size: int = 500,
        weighting: str = "linear",
        similarity: str = "dot",
        idf_weight: float = 0.0,
        repeat_items: bool = True,
    ) -> None:
        self.k = k
        self.sample_size = sample_size
        self.weighting = weighting
        self.similarity = similarity
        self.idf_weight = idf_weight
        self.repeat_items = repeat_items

    def _check(self) -> None:
        super()._check()
        _check_choice("weighting", self.weighting, WEIGHTINGS[1:])
        _check_choice("similarity", self.similarity, ("dot", "cosine"))

    def _configure(self) -> None:
        self._k, self._sample_size = int(self.k), int(self.sample_size)
        self._weighting, self._position_decay = self.weighting, 1.0
        self._idf_similarity, self._cosine = False, self.similarity == "cosine"
        self._set_recency(None)
        self._scoring, self._distance_decay, self._anchor_decay = "binary", 1.0, None
        self._idf_scoring = float(self.idf_weight)

    def _finish(self, scores, ages):
        if not self.repeat_items:
            _zero_session_items(scores, ages)


def _row_peaks(scores: np.ndarray) -> np.ndarray:
    """Each row's largest score, 1 where none is positive (a scale that never flips signs)."""
    peak = scores.max(axis=1) if scores.shape[1] else np.zeros(scores.shape[0])
    return np.where(peak > 0, peak, 1.0)


def _zero_session_items(scores: np.ndarray, ages: sp.csr_matrix) -> None:
    rows = np.repeat(np.arange(ages.shape[0]), np.diff(ages.indptr))
    scores[rows, ages.indices] = 0.0


class STAN(_SessionNeighbours):
    """STAN, sequence and time aware neighbourhood (Garg et al., SIGIR 2019), a peer.

    With ``p(i, s)`` the position of item ``i`` in session ``s`` (its latest click) and ``l`` the
    position of the latest click:

    * ``w1(i, s) = exp((p(i, s) - l) / λ1)`` (``position_decay``), and
      ``sim1(s, n) = Σ_i w1(i, s)·1_n(i) / sqrt(|s|·|n|)``;
    * ``w2(n) = exp(-(t(s) - t(n)) / λ2)`` (``recency_days``, in days; None: off),
      ``sim2 = sim1 · w2``; the ``k`` neighbours with the largest ``sim2`` among all past
      sessions sharing an item are kept;
    * ``w3(i | s, n) = exp(-|p(i, n) - p(a, n)| / λ3)`` (``distance_decay``), ``a`` the latest
      click of ``s`` that ``n`` contains; ``score(i) = Σ_n sim2(s, n) · w3(i | s, n)``.

    ``t(s)`` is taken as the time of the newest fitted session, which shifts every ``w2`` of a
    request by the same factor and so changes no ranking. ``repeat_items=False`` leaves the
    session's own items out (score 0).
    """

    name = "stan"

    def __init__(
        self,
        k: int = 100,
        position_decay: float = 2.0,
        recency_days: float | None = 100.0,
        distance_decay: float = 2.0,
        repeat_items: bool = True,
    ) -> None:
        self.k = k
        self.position_decay = position_decay
        self.recency_days = recency_days
        self.distance_decay = distance_decay
        self.repeat_items = repeat_items

    def _check(self) -> None:
        super()._check()
        _check_positive(self, "position_decay", "recency_days", "distance_decay")

    def _configure(self) -> None:
        self._k, self._sample_size = int(self.k), 0
        self._weighting, self._position_decay = "exp", float(self.position_decay)
        self._idf_similarity, self._cosine = False, True
        self._set_recency(self.recency_days)
        self._scoring, self._distance_decay = "distance", float(self.distance_decay)
        self._anchor_decay, self._idf_scoring = None, 0.0

    def _finish(self, scores, ages):
        if not self.repeat_items:
            _zero_session_items(scores, ages)


class VSTAN(_SessionNeighbours):
    """VSTAN (Ludewig, Latifi & Jannach 2021): STAN with V-SKNN's ideas, a peer.

    STAN's three weights (``position_decay`` = λ_spw, ``recency_days`` = λ_snh,
    ``distance_decay`` = λ_inh) plus: only the ``sample_size`` most recent past sessions sharing
    an item are candidates; ``similarity`` ``"cosine"`` (as STAN) or ``"dot"`` (as V-SKNN); a
    neighbour's votes are weighted by the position in the current session of the click that
    matched it, ``exp(-(age(a) - 1) / anchor_decay)`` (λ_ipw; None: off); item scores times
    ``idf ** idf_weight`` (λ_idf). ``repeat_items=False`` leaves the session's own items out.
    """

    name = "vstan"

    def __init__(
        self,
        k: int = 100,
        sample_size: int = 1000,
        similarity: str = "cosine",
        position_decay: float = 2.0,
        recency_days: float | None = 100.0,
        distance_decay: float = 2.0,
        anchor_decay: float | None = 2.0,
        idf_weight: float = 1.0,
        repeat_items: bool = True,
    ) -> None:
        self.k = k
        self.sample_size = sample_size
        self.similarity = similarity
        self.position_decay = position_decay
        self.recency_days = recency_days
        self.distance_decay = distance_decay
        self.anchor_decay = anchor_decay
        self.idf_weight = idf_weight
        self.repeat_items = repeat_items

    def _check(self) -> None:
        super()._check()
        _check_choice("similarity", self.similarity, ("dot", "cosine"))
        _check_positive(self, "position_decay", "recency_days", "distance_decay", "anchor_decay")

    def _configure(self) -> None:
        self._k, self._sample_size = int(self.k), int(self.sample_size)
        self._weighting, self._position_decay = "exp", float(self.position_decay)
        self._idf_similarity, self._cosine = False, self.similarity == "cosine"
        self._set_recency(self.recency_days)
        self._scoring, self._distance_decay = "distance", float(self.distance_decay)
        self._anchor_decay = self.anchor_decay
        self._idf_scoring = float(self.idf_weight)

    def _finish(self, scores, ages):
        if not self.repeat_items:
            _zero_session_items(scores, ages)


#: Search space of :class:`SessionKNN`'s own tuning (each parameter in turn, two passes).
SKNN_GRID: dict[str, tuple] = {
    "k": (50, 100, 200, 500),
    "sample_size": (500, 1000, 2500, 0),
    "position_decay": (0.5, 1.0, 2.0, 4.0, 8.0),
    "recency_days": (10.0, 100.0, 1000.0, None),
    "distance_decay": (1.0, 2.0, 4.0, 8.0, None),
    "anchor_decay": (0.5, 1.0, 2.0, 4.0, None),
    "idf_weight": (0.0, 0.5, 1.0, 2.0),
    "idf": (True, False),
}

#: Weights of ``sknn``'s item-to-item part its search scores last, on the setting its walk over
#: :data:`SKNN_GRID` chose (as one more coordinate of the walk, the part changed the path the
#: walk took: on the invoices' training periods it then won in one and lost in another; added
#: to the walk's setting, at 0.1 it raised HR@20 in each of three; ``docs/recommend.md``).
SKNN_ITEM_WEIGHTS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)

#: Neighbours per item of ``sknn``'s item-to-item part (BM25, as the ``itemknn_bm25`` model).
SESSION_ITEM_NEIGHBOURS = 100


class SessionKNN(_SessionNeighbours):
    """Session-kNN that tunes itself on the visits it is fitted on, with repeat views.

    For the current session ``s`` (most recent item has age 1):

    * item weight ``q_j = exp(-(age_j - 1) / position_decay)`` (times IDF when ``idf``);
    * similarity to a past session ``n``: ``Σ_{j ∈ s∩n} q_j / sqrt(|s|·|n|)``, times
      ``exp(-Δt / recency_days)`` for its age relative to the newest session (None: off);
    * the ``k`` most similar of the ``sample_size`` most recent sessions sharing an item (0: all)
      vote for their items, each vote weighted by ``exp(-|pos_i - pos_l| / distance_decay)``
      where ``l`` is the most recent current item found in that neighbour (None: every item of a
      neighbour gets its similarity) and by ``exp(-(age_l - 1) / anchor_decay)`` (None: off),
      and item scores are multiplied by ``idf ** idf_weight``;
    * with ``item_weight`` ``w > 0``, an item-to-item part joins the neighbours' votes: each
      click's BM25 item neighbours (:data:`SESSION_ITEM_NEIGHBOURS`, learnt from the same
      sessions) vote with the click's weight ``exp(-(age_j - 1) / position_decay)``, and the
      score is ``votes / max(votes) + w · items / max(items)`` (each part scaled by its largest
      score among the items the visit may be offered: its own items only where visitors go back
      to items). Neighbour sessions match a visit as a whole; the items' part adds
      what follows each click across all sessions, which finds the next line of a basket the
      nearest baskets missed. Both parts are sums over the visit's clicks, so the reasons
      still add up to the score;
    * items of the current session get ``repeat · max(score) · exp(-(age - 1) / repeat_decay)``
      — when the training sessions show visitors going back to items (at least
      ``min_repeat_share`` of next clicks are repeats); otherwise the session's own items score 0,
      as in the data nobody clicks them again.

    With ``tune`` (default) and at least 200 sessions, ``fit`` first holds out the most recent
    20 % of the sessions (at most 600 of them, a seeded sample, first 10 clicks each), fits on
    the rest, and searches :data:`SKNN_GRID` from the constructor's values (each parameter in
    turn, walking its ordered values towards the better neighbour: :func:`coordinate_walk`, two
    passes; the held-out prefixes are built once, and settings that change only the votes reuse
    the neighbours found) for the largest HR@20 + MRR@20 at predicting each next *new* item of the
    held-out sessions (their repeat clicks are merged in the fitted data, so the repeat term is
    left out of the search), then the item-to-item part's weights :data:`SKNN_ITEM_WEIGHTS` on
    the setting the walk chose; the chosen values (``tuned_``) then replace the constructor's for
    the fit on all sessions. Without ``tune`` the constructor's values are used as they are.
    ``tune_budget_s`` bounds the search's time (None: no bound): the fit on the held-in sessions
    and the constructor's setting are always scored, then no further setting is scored once the
    time is up and the best one scored so far is kept (``tuning_["budget_exhausted"]``). A
    callable set as ``tuning_progress`` receives ``(settings_scored, best_objective)`` after each
    setting scored (``omotenashi train`` shows it).
    """

    name = "sknn"
    _TUNE_MIN_SESSIONS = 200
    _TUNE_SHARE = 0.2
    #: Held-out sessions the search scores (600: with 150 the chosen setting changed with the
    #: sample's seed and did worse on later sessions; ``benchmarks/sessions_tuning.py``).
    _TUNE_SESSIONS = 600
    _TUNE_CLICKS = 10
    _TUNE_PASSES = 2
    _TUNE_SEED = 0

    def __init__(
        self,
        k: int = 200,
        sample_size: int = 1000,
        position_decay: float = 4.0,
        recency_days: float | None = 1000.0,
        distance_decay: float | None = 4.0,
        anchor_decay: float | None = None,
        idf_weight: float = 0.0,
        repeat: float = 1.0,
        repeat_decay: float = 1.0,
        idf: bool = True,
        item_weight: float = 0.0,
        min_repeat_share: float = 0.02,
        tune: bool = True,
        tune_budget_s: float | None = None,
    ) -> None:
        self.k = k
        self.sample_size = sample_size
        self.position_decay = position_decay
        self.recency_days = recency_days
        self.distance_decay = distance_decay
        self.anchor_decay = anchor_decay
        self.idf_weight = idf_weight
        self.repeat = repeat
        self.repeat_decay = repeat_decay
        self.idf = idf
        self.item_weight = item_weight
        self.min_repeat_share = min_repeat_share
        self.tune = tune
        self.tune_budget_s = tune_budget_s
        self.tuning_progress: Callable[[int, float], None] | None = None

    def _check(self) -> None:
        super()._check()
        _check_positive(self, "position_decay", "recency_days", "distance_decay", "anchor_decay")
        w = self.item_weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not w >= 0:
            raise DataError(f"item_weight must be a number >= 0, got {w!r}", field="item_weight")
        budget = self.tune_budget_s
        if budget is not None and not (
            isinstance(budget, int | float) and not isinstance(budget, bool) and budget >= 0
        ):
            raise DataError(
                f"tune_budget_s must be None or >= 0 seconds, got {budget!r}",
                field="tune_budget_s",
            )

    def _param(self, name: str):
        tuned = getattr(self, "tuned_", None) or {}
        return tuned[name] if self.tune and name in tuned else getattr(self, name)

    def _configure(self) -> None:
        p = self._param
        self._k, self._sample_size = int(p("k")), int(p("sample_size"))
        self._weighting, self._position_decay = "exp", float(p("position_decay"))
        self._idf_similarity, self._cosine = bool(p("idf")), True
        self._set_recency(p("recency_days"))
        distance = p("distance_decay")
        self._scoring = "binary" if distance is None else "distance"
        self._distance_decay = 1.0 if distance is None else float(distance)
        self._anchor_decay, self._idf_scoring = p("anchor_decay"), float(p("idf_weight"))
        self._item_weight = float(p("item_weight"))
        self.repeats_ = bool(self.repeat_share_ >= self.min_repeat_share)

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        self._check()
        self.tuned_ = {}
        self.tuning_ = {}
        self.item_similarity_ = None  # of the sessions fitted before
        if self.tune and len(self.user_ids_) >= self._TUNE_MIN_SESSIONS:
            self.tuned_, self.tuning_ = self._search(frame)
        super()._fit(frame, items)
        if self._item_weight:
            self._item_similarity()  # learnt now, so that the saved model carries it

    #: Each item's BM25 neighbours among the fitted sessions' items (learnt when first needed).
    item_similarity_: sp.csr_matrix | None = None

    def _item_similarity(self) -> sp.csr_matrix:
        if self.item_similarity_ is None:
            self.item_similarity_ = item_neighbours(
                self.user_items_, SESSION_ITEM_NEIGHBOURS, "bm25"
            )
        return self.item_similarity_

    def _item_votes(self, ages: sp.csr_matrix) -> np.ndarray:
        """The item-to-item part of each visit's scores (before scaling), dense."""
        weights = np.exp(-(ages.data - 1.0) / self._position_decay).astype(np.float32)
        Q = sp.csr_matrix((weights, ages.indices, ages.indptr), shape=ages.shape)
        return np.asarray((Q @ self._item_similarity()).toarray(), dtype=np.float64)

    def _blend(
        self, scores: np.ndarray, ages: sp.csr_matrix
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Adds the item-to-item part to the neighbours' votes in place, each scaled by its
        largest score among the items the visit may be offered (not its own items, where
        visitors do not go back to items); returns the two scales and the items' votes (None
        without the part)."""
        if not self._item_weight:
            return None
        votes = self._item_votes(ages)
        if not self.repeats_:
            _zero_session_items(scores, ages)
            _zero_session_items(votes, ages)
        knn_scale, item_scale = _row_peaks(scores), _row_peaks(votes)
        scores /= knn_scale[:, None]
        scores += (self._item_weight / item_scale)[:, None] * votes
        return knn_scale, item_scale, votes

    def _search(self, frame: pd.DataFrame) -> tuple[dict, dict]:
        """Coordinate search of :data:`SKNN_GRID` on the most recent sessions held out."""
        last = frame.groupby("u")["t"].max()
        order = last.sort_values(kind="stable").index.to_numpy()
        n_val = max(1, int(round(self._TUNE_SHARE * len(order))))
        held, kept = order[-n_val:], order[:-n_val]
        if len(held) > self._TUNE_SESSIONS:
            held = np.sort(
                np.random.default_rng(self._TUNE_SEED).choice(held, self._TUNE_SESSIONS, False)
            )
        began = time.monotonic()
        deadline = None if self.tune_budget_s is None else began + float(self.tune_budget_s)
        fit_rows = frame["u"].isin(kept)
        start = {**{p: getattr(self, p) for p in SKNN_GRID}, "item_weight": self.item_weight}
        inner = SessionKNN(**{**self.get_params(), "tune": False, "min_repeat_share": 2.0})
        inner.fit(frame.loc[fit_rows, ["user_id", "item_id", "weight", "timestamp"]])
        val = frame[frame["u"].isin(held)].sort_values(["u", "t"], kind="stable")
        clicks = [list(g)[: self._TUNE_CLICKS] for _, g in val.groupby("u")["item_id"]]
        # the held-out prefixes are the same for every setting: built once
        rows = next_click_rows(inner, clicks)
        inner._hood_memo = {}  # settings that change only the votes reuse the neighbours
        cache: dict[tuple, float] = {}
        skipped = 0  # settings the search would have scored after the time ran out

        def objective(params: dict) -> float:
            nonlocal skipped
            key = tuple(params.items())
            if key not in cache:
                if cache and deadline is not None and time.monotonic() > deadline:
                    skipped += 1
                    return -np.inf  # never better than a setting scored: the walk stays put
                res = next_click_ranks(inner.set_params(**params), *rows)
                cache[key] = res["hr@20"] + res["mrr@20"]
                if self.tuning_progress is not None:
                    self.tuning_progress(len(cache), max(cache.values()))
            return cache[key]

        current, best = coordinate_walk(objective, start, SKNN_GRID, self._TUNE_PASSES)
        for weight in SKNN_ITEM_WEIGHTS:  # the item-to-item part, on the setting chosen
            score = objective({**current, "item_weight": weight})
            if score > best + 1e-12:
                current, best = {**current, "item_weight": weight}, score
        inner._hood_memo = None
        info = {
            "objective": "hr@20 + mrr@20",
            "validation": float(best),
            "settings_tried": len(cache),
            "validation_sessions": len(clicks),
            "validation_predictions": len(rows[2]),
            "search_s": round(time.monotonic() - began, 3),
            "budget_s": self.tune_budget_s,
            "budget_exhausted": skipped > 0,
        }
        return current, info

    def _finish(self, scores, ages):
        self._blend(scores, ages)
        self._repeat_rule(scores, ages)

    def _repeat_rule(self, scores, ages):
        """The visit's own items: left out, or boosted as repeats (see the class docstring)."""
        if not self.repeats_:
            # in this data visitors never go back to an item: do not spend slots on them
            _zero_session_items(scores, ages)
        elif self.repeat:
            rows = np.repeat(np.arange(ages.shape[0]), np.diff(ages.indptr))
            top = scores.max(axis=1)
            top = np.where(top > 0, top, 1.0)
            boost = self.repeat * top[rows] * np.exp(-(ages.data - 1.0) / self.repeat_decay)
            scores[rows, ages.indices] += boost

    def _parts(self, hood, x, ages, item):
        parts = self._click_parts(hood, ages, item)
        where = np.flatnonzero(ages.indices == item)
        if not where.size:
            return parts
        if not self.repeats_:
            return []
        if self.repeat:
            scores, _ = self._explained(hood, ages)
            repeat_part = scores[0, item] - sum(v for _, _, v in parts)
            if repeat_part > 0:
                parts.append(("repeat", (int(item),), float(repeat_part)))
        return parts

    def _explained(self, hood, ages):
        """The visit's served scores and :meth:`_blend`'s scales and votes, computed once for
        all the items an answer explains (kept on the neighbourhood, under the settings they
        depend on: an explanation after a change of settings computes them again)."""
        key = (
            self._item_weight,
            self._position_decay,
            self.repeats_,
            self.repeat,
            self.repeat_decay,
        )
        found = hood.derived.get("sknn")
        if found is None or found[0] != key:
            ages = sp.csr_matrix(ages)
            scores = hood.scores()
            blend = self._blend(scores, ages)
            self._repeat_rule(scores, ages)
            found = hood.derived["sknn"] = (key, scores, blend)
        return found[1], found[2]

    def _click_parts(self, hood, ages, item):
        """The neighbours' votes for ``item`` split by the visit's clicks, plus each click's
        item-to-item vote, on the scales :meth:`_blend` gives them."""
        if not self._item_weight:
            return super()._parts(hood, None, ages, item)
        ages = sp.csr_matrix(ages)
        knn_scale, item_scale, _ = self._explained(hood, ages)[1]
        split = {j: v / knn_scale[0] for j, v in hood.parts(item).items()}
        clicks = ages.indices
        weights = np.exp(-(ages.data - 1.0) / self._position_decay)
        column = self._item_similarity()[clicks][:, [item]].toarray().ravel()
        share = self._item_weight / item_scale[0]
        for j, v in zip(clicks.tolist(), weights * column * share, strict=True):
            split[j] = split.get(j, 0.0) + float(v)
        top = sorted(split.items(), key=lambda kv: -kv[1])
        return [("session", (j,), v) for j, v in top if v > 0]

    def _state(self):
        state = super()._state()
        if self.item_similarity_ is not None:
            state["item_similarity"] = self.item_similarity_
        names = sorted(getattr(self, "tuned_", {}))
        values = [self.tuned_[n] for n in names]
        state["tuned_names"] = np.array(names, dtype=str)
        state["tuned_values"] = np.array(
            [np.nan if v is None else float(v) for v in values], dtype=np.float64
        )
        return state

    def _load_state(self, state):
        tuned: dict = {}
        if "tuned_names" in state:
            for n, v in zip(state["tuned_names"].tolist(), state["tuned_values"], strict=True):
                default = getattr(self, n)
                if np.isnan(v):
                    tuned[n] = None
                elif isinstance(default, bool):
                    tuned[n] = bool(v)
                elif n in ("k", "sample_size"):
                    tuned[n] = int(v)
                else:
                    tuned[n] = float(v)
        self.tuned_ = tuned
        self.item_similarity_ = state.get("item_similarity")
        super()._load_state(state)


class SequentialRules(Recommender):
    """Sequential rules: item ``b`` clicked ``d`` steps after ``a`` adds ``1/d`` to rule a→b.

    Only pairs at most ``steps`` apart count. A session is scored from its last ``last_items``
    items, the most recent weighted most (``1 / age``).
    """

    name = "sr"
    session_model = True
    exact_reasons = True

    def __init__(self, steps: int = 10, last_items: int = 1) -> None:
        self.steps = steps
        self.last_items = last_items

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        P = _positions(self).tocoo()
        order = np.lexsort((P.data, P.row))
        sess, item, pos = P.row[order], P.col[order], P.data[order]
        rows, cols, vals = [], [], []
        for d in range(1, int(self.steps) + 1):
            same = sess[d:] == sess[:-d]
            a, b = item[:-d][same], item[d:][same]
            gap = (pos[d:] - pos[:-d])[same]
            rows.append(a)
            cols.append(b)
            vals.append(1.0 / gap)
        n = len(self.item_ids_)
        R = (
            sp.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
            )
            if rows
            else sp.csr_matrix((n, n))
        )
        R.sum_duplicates()
        self.rules_ = R.astype(np.float32)

    def _query(self, X, ages):
        Q = X.copy().astype(np.float32)
        Q.data = np.where(ages.data <= self.last_items, 1.0 / ages.data, 0.0).astype(np.float32)
        Q.eliminate_zeros()
        return Q

    def _score(self, X, ages):
        return np.asarray((self._query(X, ages) @ self.rules_).todense(), dtype=np.float64)

    def _contributions(self, x, ages, item):
        q = self._query(x, ages)
        col = self.rules_[q.indices][:, [item]].toarray().ravel().astype(np.float64)
        return split_terms("session", q.indices, q.data.astype(np.float64) * col)

    def _state(self):
        return {"rules": self.rules_}

    def _load_state(self, state):
        self.rules_ = state["rules"]


class BoughtTogether(Recommender):
    """Items that appear in the same orders: shrunk confidence ``c(a,b) / (c(a) + shrink)``.

    Fit on interactions whose ``user_id`` is an order or basket id. ``lift`` divides by the
    partner's overall frequency to avoid recommending bestsellers with everything.
    """

    name = "together"
    exact_reasons = True

    def __init__(self, shrink: float = 5.0, lift: float = 0.0) -> None:
        self.shrink = shrink
        self.lift = lift

    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        B = self.user_items_.copy()
        B.data[:] = 1.0
        C = sp.csr_matrix(B.T @ B, dtype=np.float64)
        C.setdiag(0)
        C.eliminate_zeros()
        count = np.asarray(B.sum(axis=0)).ravel()
        conf = sp.diags(1.0 / (count + self.shrink)) @ C
        if self.lift:
            conf = conf @ sp.diags((count + 1.0) ** -self.lift)
        self.together_ = sp.csr_matrix(conf, dtype=np.float32)

    def _score(self, X, ages):
        B = X.copy()
        B.data[:] = 1.0
        return np.asarray((B @ self.together_).todense(), dtype=np.float64)

    def _contributions(self, x, ages, item):
        col = self.together_[x.indices][:, [item]].toarray().ravel().astype(np.float64)
        return split_terms("together", x.indices, col)

    def bought_together(self, item_id: object, n: int = 10, **kwargs):
        """Items most often in the same order as ``item_id`` (alias of :meth:`similar_items`)."""
        return self.similar_items(item_id, n, **kwargs)

    def _state(self):
        return {"together": self.together_}

    def _load_state(self, state):
        self.together_ = state["together"]


def coordinate_walk(
    objective: Callable[[dict], float], start: dict, grid: dict[str, Sequence], passes: int
) -> tuple[dict, float]:
    """Largest ``objective`` found by a coordinate search over ``grid`` from ``start``.

    Each parameter in turn, ``passes`` times (stopping after a pass that changed nothing). The
    values of a parameter are ordered (``None`` last stands for "off", the far end: no decay,
    no limit), so instead of trying every value the search tries the two neighbours of the
    current one and walks on in the better one's direction while the objective improves. A
    parameter whose current value is not on its grid, or with two values, is scanned whole.
    Compared with scanning every value it evaluates about a third fewer settings on the
    session datasets; it may stop at another setting than the full scan (on the Online Retail
    invoices one with a slightly higher validation score; ``docs/recommend.md``).

    Returns
    -------
    (dict, float)
        The best setting and its objective.
    """
    current, best = dict(start), objective(start)
    for _ in range(passes):
        changed = False
        for name, values in grid.items():
            values = list(values)
            if len(values) <= 2 or current[name] not in values:
                for value in values:
                    trial = {**current, name: value}
                    score = objective(trial)
                    if score > best + 1e-12:
                        current, best, changed = trial, score, True
                continue
            i = values.index(current[name])
            tried = {
                j: objective({**current, name: values[j]})
                for j in (i - 1, i + 1)
                if 0 <= j < len(values)
            }
            j = max(tried, key=lambda j: (tried[j], -j))
            if tried[j] <= best + 1e-12:
                continue
            step = j - i
            while True:
                current, best, changed = {**current, name: values[j]}, tried[j], True
                j += step
                if not 0 <= j < len(values):
                    break
                tried[j] = objective({**current, name: values[j]})
                if tried[j] <= best + 1e-12:
                    break
        if not changed:
            break
    return current, best


def next_click_rows(
    model: Recommender, sessions: Sequence[Sequence[object]]
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """The prefixes of :func:`next_click_metrics`: history rows, their ages and the targets."""
    cols: list[int] = []
    ages: list[float] = []
    counts: list[float] = []
    indptr = [0]
    targets: list[int] = []
    for clicks in sessions:
        pos = [p for p in (model._item_pos.get(str(c), -1) for c in clicks) if p >= 0]
        for i in range(1, len(pos)):
            age_of: dict[int, int] = {}
            count: dict[int, int] = {}
            for rank, p in enumerate(reversed(pos[:i]), start=1):
                age_of.setdefault(p, rank)
                count[p] = count.get(p, 0) + 1
            row = sorted(age_of)
            cols += row
            ages += [age_of[p] for p in row]
            counts += [count[p] for p in row]
            indptr.append(len(cols))
            targets.append(pos[i])
    shape = (len(targets), len(model.item_ids_))
    X = sp.csr_matrix((np.array(counts, np.float32), cols, indptr), shape=shape)
    A = sp.csr_matrix((np.array(ages, np.float32), cols, indptr), shape=shape)
    return X, A, np.array(targets, dtype=np.int64)


def next_click_rank(
    model: Recommender,
    X: sp.csr_matrix,
    A: sp.csr_matrix,
    target: np.ndarray,
    *,
    batch: int = 512,
) -> np.ndarray:
    """Each target's rank (0 for the best) among the catalogue scores of its prefix, as
    ``recommend_session`` ranks them (ties to the lower item index), in batches."""
    rank = np.empty(len(target), dtype=np.int64)
    index = np.arange(len(model.item_ids_))
    for lo in range(0, len(target), batch):
        S = model._score(X[lo : lo + batch], A[lo : lo + batch])
        t = target[lo : lo + batch]
        st = S[np.arange(len(t)), t][:, None]
        rank[lo : lo + batch] = (S > st).sum(axis=1) + ((S == st) & (index < t[:, None])).sum(
            axis=1
        )
    return rank


def next_click_ranks(
    model: Recommender,
    X: sp.csr_matrix,
    A: sp.csr_matrix,
    target: np.ndarray,
    k: int = 20,
    *,
    batch: int = 512,
) -> dict[str, float]:
    """HR@k and MRR@k of the prefixes :func:`next_click_rows` built (for ``model``)."""
    rank = next_click_rank(model, X, A, target, batch=batch)
    hit = rank < k
    return {
        f"hr@{k}": float(hit.mean()) if len(hit) else 0.0,
        f"mrr@{k}": float(np.where(hit, 1.0 / (rank + 1.0), 0.0).mean()) if len(hit) else 0.0,
        "n_predictions": int(len(target)),
    }


def next_click_metrics(
    model: Recommender, sessions: Sequence[Sequence[object]], k: int = 20, *, batch: int = 512
) -> dict[str, float]:
    """HR@k and MRR@k of next-click prediction at every position of every session, in batches.

    For position ``i`` of a session the model sees its first ``i`` clicks and the next click is
    the target, exactly as ``recommend_session(clicks[:i], k)`` without rules ranks them (ties
    go to the lower item index), but all prefixes are scored in a few matrix batches. Clicks on
    items the model does not know are dropped first (protocol S1), then sessions shorter than 2.

    Returns
    -------
    dict
        ``hr@k``, ``mrr@k`` and ``n_predictions``.
    """
    return next_click_ranks(model, *next_click_rows(model, sessions), k, batch=batch)
