"""The one interface every recommender implements, and the request logic they all share.

A model only has to turn histories into catalogue scores (``_score``) and, for explanations, say
how much each history item contributed (``_contributions``). Id mapping, cold start, filters,
diversity, explanations and batch scoring live here once, so every model behaves the same way.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import compress
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.errors import DataError, NotFittedError, NotFound
from omotenashi.recommend._catalog import ItemCatalog
from omotenashi.recommend._data import check_interactions
from omotenashi.recommend._rules import Rules, mmr_select


@dataclass(frozen=True)
class Reason:
    """One reason behind a recommendation, taken from the model's own computation.

    Attributes
    ----------
    kind : str
        ``history`` (items of the customer that made it score), ``together`` (bought with),
        ``session`` (what other visitors did after the same clicks), ``popular``, ``segment``,
        ``category`` (content match), ``new_in_category`` (a new item in a liked category),
        ``repeat`` (the visitor already looked at it in this session), ``against`` (history
        items that lower the score), ``rules`` (what the request's boosts and novelty penalty
        changed), ``other`` (smaller parts taken together), ``no_signal`` (nothing in the
        history scores it: score 0), ``unexplained`` (a model without a breakdown).
    text : str
        Human-readable sentence.
    items : tuple of str
        Item ids the reason refers to.
    weight : float
        The part of the score this reason carries, in the score's own units. When the model's
        reasons are exact (``Recommender.exact_reasons``) the weights of a recommendation add up
        to its score; otherwise :attr:`Recommendation.explained` says what share they cover.
    """

    kind: str
    text: str
    items: tuple[str, ...] = ()
    weight: float = 0.0


@dataclass(frozen=True)
class Recommendation:
    """A recommended item with its rank (1 = best), score and reasons.

    ``explained`` is the share of ``score`` that the reasons' weights add up to: 1.0 for a model
    whose reasons are the exact decomposition of its score (``Recommender.exact_reasons``),
    ``sum(weights) / score`` otherwise; None without reasons (``explain=False``).
    """

    item_id: str
    score: float
    rank: int
    reasons: tuple[Reason, ...] = ()
    explained: float | None = None

    @property
    def why(self) -> str:
        """ "Why am I seeing this?" in plain words, from :attr:`reasons` (see ``plain_why``)."""
        from omotenashi.recommend._why import plain_why

        return plain_why(self)


def _names(catalog: ItemCatalog, idx: Sequence[int], limit: int = 2) -> str:
    titles = [catalog.title(i) for i in idx[:limit]]
    if len(titles) == 1:
        return titles[0]
    return ", ".join(titles[:-1]) + " and " + titles[-1]


Part = tuple[str, tuple[int, ...], float]


def split_terms(kind: str, idx: np.ndarray, values: np.ndarray, named: int = 2) -> list[Part]:
    """Group one term per history item into at most two parts that add up to ``values.sum()``.

    The positive terms make one part of ``kind`` naming the ``named`` largest; the negative
    terms make one ``against`` part naming the most negative.

    Parameters
    ----------
    kind : str
        Reason kind of the positive part (``history``, ``latent``, ``session``, ``together``).
    idx : numpy.ndarray of int
        Item index of each term.
    values : numpy.ndarray of float
        The terms.
    """
    return split_terms_many(kind, idx, np.asarray(values)[:, None], named)[0]


def split_terms_many(
    kind: str, idx: np.ndarray, values: np.ndarray, named: int = 2
) -> list[list[Part]]:
    """:func:`split_terms` for several scored items at once: ``values`` has one column of terms
    per item (rows: history items ``idx``). The columns are split together, with ``named``
    argmax and argmin passes instead of a sort per item: an answer explains ten items, and ten
    separate calls cost more than the arithmetic."""
    terms = np.ascontiguousarray(np.asarray(values, dtype=np.float64).T)  # one row per item
    if terms.shape[1] == 0:
        return [[] for _ in range(terms.shape[0])]
    positive, negative = terms > 0, terms < 0
    up = np.where(positive, terms, 0.0).sum(axis=1).tolist()
    down = np.where(negative, terms, 0.0).sum(axis=1).tolist()
    idx = np.asarray(idx)
    best, worst = _first_extremes(terms, named, np.argmax), _first_extremes(terms, named, np.argmin)
    # everything the loop reads as Python lists: numpy scalar reads cost more than the parts
    best_ids, best_kept = idx[best].tolist(), (np.take_along_axis(terms, best, 1) > 0).tolist()
    worst_ids, worst_kept = idx[worst].tolist(), (np.take_along_axis(terms, worst, 1) < 0).tolist()
    has_up, has_down = positive.any(axis=1).tolist(), negative.any(axis=1).tolist()
    out: list[list[Part]] = []
    for r in range(terms.shape[0]):
        parts: list[Part] = []
        if has_up[r]:
            parts.append((kind, tuple(compress(best_ids[r], best_kept[r])), up[r]))
        if has_down[r]:
            parts.append(("against", tuple(compress(worst_ids[r], worst_kept[r])), down[r]))
        out.append(parts)
    return out


def _first_extremes(terms: np.ndarray, count: int, pick) -> np.ndarray:
    """Per row, the positions of the ``count`` largest (``np.argmax``) or smallest
    (``np.argmin``) terms, in order, ties to the lower position: what a stable sort's first
    ``count`` give, in ``count`` passes instead of a sort of each row."""
    count = min(count, terms.shape[1])
    rows = np.arange(terms.shape[0])
    out = np.empty((terms.shape[0], count), dtype=np.int64)
    work = terms.copy()
    done = -np.inf if pick is np.argmax else np.inf
    for k in range(count):
        out[:, k] = pick(work, axis=1)
        work[rows, out[:, k]] = done
    return out


def recency_ages(user_idx: np.ndarray, timestamps: np.ndarray, n_rows: int) -> np.ndarray:
    """Rank of each interaction from a user's most recent one (1 = most recent).

    ``user_idx`` and ``timestamps`` are per-interaction arrays; rows without time count as old
    (order of appearance).
    """
    order = np.lexsort((np.arange(len(user_idx)), timestamps, user_idx))
    sorted_users = user_idx[order]
    counts = np.bincount(sorted_users, minlength=n_rows)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(len(order)) - starts[sorted_users]
    ages = np.empty(len(order), dtype=np.float32)
    ages[order] = counts[sorted_users] - position
    return ages


#: Set by :func:`shared_preparation`: what ``prepare`` computed, by the frames it was given.
_SHARED_PREPARATION: ContextVar[dict | None] = ContextVar("shared_preparation", default=None)


def _copied(value: Any) -> Any:
    """A copy of an array or sparse matrix; anything else as it is."""
    if isinstance(value, np.ndarray | sp.spmatrix | sp.sparray):
        return value.copy()
    return value


#: Frames whose preparation :func:`shared_preparation` keeps at once (each the size of its data).
_SHARED_FRAMES = 4


@contextlib.contextmanager
def shared_preparation() -> Iterator[None]:
    """Within this block, fits on the same interactions and items frames (the same objects)
    share what :meth:`Recommender.prepare` computes instead of computing it again.

    A model choice fits dozens of candidates on one validation split, and the preparation (the
    checks, id maps, histories, recency ranks, catalogue) was a tenth of ``train``'s time on
    ml-latest-small and Online Retail. The frames must not change inside the block (a frame
    changed in place would be taken for the one prepared); ``select_model`` holds its own split.
    """
    token = _SHARED_PREPARATION.set({})
    try:
        yield
    finally:
        _SHARED_PREPARATION.reset(token)


class Recommender(ABC):
    """Base class of all recommenders.

    Subclasses take only keyword hyper-parameters in ``__init__`` and implement ``_fit`` and
    ``_score``. Learned state ends in ``_``. Ids are strings; the model owns their mapping.

    Scores come from ``_score(X, ages)``, where ``X`` (csr, histories × items) holds interaction
    weights and ``ages`` (same pattern) the recency rank of each interaction (1 = most recent).

    Interactions of weight 0 (an item rated low, or returned) are learnt from not at
    all: they are kept apart, in ``user_unliked_``, only so that such an item counts as seen
    and is not offered back to the customer.
    """

    name: ClassVar[str] = "base"
    #: Whether the model is meant for sessions (S1) rather than long customer histories.
    session_model: ClassVar[bool] = False
    #: Whether the reasons' weights are the exact decomposition of the served score (they add up
    #: to it). A model that cannot say so keeps False: each recommendation then reports the
    #: share of its score the reasons cover (``Recommendation.explained``).
    exact_reasons: bool = False

    # ----------------------------------------------------------------- parameters
    def get_params(self) -> dict[str, Any]:
        """Constructor parameters and their current values."""
        sig = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in sig.parameters if p != "self"}

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters (unknown names raise ``DataError``)."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise DataError(f"{type(self).__name__} has no parameter {key!r}", field=key)
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ----------------------------------------------------------------- fitting
    def fit(self, interactions: pd.DataFrame, items: pd.DataFrame | None = None) -> Self:
        """Learn from an interaction table.

        Parameters
        ----------
        interactions : pandas.DataFrame
            Columns ``user_id``, ``item_id``, optional ``weight`` (>= 0) and ``timestamp``; see
            :func:`interactions_from_events` to build it from store events. Rows of weight 0
            teach the model nothing; their items count as seen by their customer (not offered
            back while ``Rules.exclude_seen``), and a customer with only such rows is known to
            the model for that alone.
        items : pandas.DataFrame, optional
            The items frame (``item_id``, ``title``, ``categories``, ``tags``, ``description``,
            ``attributes``). Items listed here but never interacted with become part of the
            catalogue (content models can recommend them; collaborative ones rank them last).

        Returns
        -------
        self

        Raises
        ------
        DataError
            Bad columns or values, or no interaction at all.
        """
        frame = self.prepare(interactions, items)
        self._fit(frame, items)
        return self

    def prepare(
        self, interactions: pd.DataFrame, items: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """The part of :meth:`fit` that learns nothing: id maps, histories, recency ranks,
        popularity and catalogue. ``fit`` is ``prepare`` then the model's own learning; a batch
        engine that learns elsewhere (Spark) calls ``prepare`` and then sets the learned state.

        Returns
        -------
        pandas.DataFrame
            The validated interactions with ``u``/``i`` (user and item index) and ``t``
            (seconds).
        """
        shared = _SHARED_PREPARATION.get()
        key = (id(interactions), id(items))
        if shared is not None and key in shared:
            self._clear_caches()
            return self._take_prepared(shared[key])
        frame = check_interactions(interactions)
        self._clear_caches()  # derived from the previous data: a refit must not reuse them
        liked = frame["weight"].to_numpy() > 0
        unliked = None
        if not liked.all():
            unliked = frame[~liked]
            frame = frame[liked].reset_index(drop=True)
        if frame.empty:
            raise DataError("interactions are empty: there is nothing to learn from yet")
        item_ids = pd.Index(pd.unique(frame["item_id"]))
        if items is not None and len(items):
            if "item_id" not in items.columns:
                raise DataError("items lack the column 'item_id'", field="item_id")
            extra = pd.Index(pd.unique(items["item_id"].astype(str))).difference(item_ids)
            item_ids = item_ids.append(extra)
        user_ids = pd.Index(pd.unique(frame["user_id"]))
        u = user_ids.get_indexer(frame["user_id"])
        i = item_ids.get_indexer(frame["item_id"])
        shape = (len(user_ids), len(item_ids))
        ts = frame["timestamp"]
        is_time = pd.api.types.is_datetime64_any_dtype(ts)
        if is_time:
            # seconds since the epoch, whatever the resolution of the column
            t_num = ((ts - pd.Timestamp(0, tz=ts.dt.tz)) / pd.Timedelta(seconds=1)).to_numpy(
                dtype=np.float64, na_value=-np.inf
            )
        else:
            t_num = pd.to_numeric(ts, errors="coerce").to_numpy(dtype=np.float64)
            t_num = np.where(np.isnan(t_num), -np.inf, t_num)
        ages = recency_ages(u, t_num, shape[0])
        self.user_ids_ = np.asarray(user_ids.astype(str))
        self.item_ids_ = np.asarray(item_ids.astype(str))
        self.unliked_user_ids_, self.user_unliked_ = unliked_matrix(unliked, item_ids)
        self._set_index()
        self.user_items_ = sp.csr_matrix(
            (frame["weight"].to_numpy(np.float32), (u, i)), shape=shape, dtype=np.float32
        )
        self.user_ages_ = sp.csr_matrix((ages, (u, i)), shape=shape, dtype=np.float32)
        self.user_ages_.sort_indices()
        self.user_items_.sort_indices()
        self.item_popularity_ = np.bincount(i, minlength=shape[1]).astype(np.float64)
        finite_t = t_num[np.isfinite(t_num)]
        if finite_t.size == 0:
            self.data_range_ = (None, None)
        elif is_time:
            lo, hi = (pd.Timestamp(v, unit="s", tz="UTC") for v in (finite_t.min(), finite_t.max()))
            self.data_range_ = (lo.isoformat(), hi.isoformat())
        else:
            self.data_range_ = (float(finite_t.min()), float(finite_t.max()))
        self.catalog_ = ItemCatalog(self.item_ids_, items)
        frame = frame.assign(u=u, i=i, t=t_num)
        if shared is not None:
            while len(shared) >= _SHARED_FRAMES:  # the oldest first
                shared.pop(next(iter(shared)))
            # the frames themselves are kept too: their ids stay theirs while they are kept
            shared[key] = (interactions, items, self._prepared_state(), frame.copy())
        return frame

    #: What ``prepare`` sets (``_set_index``'s look-ups are rebuilt from the ids).
    _PREPARED = (
        "user_ids_",
        "item_ids_",
        "user_items_",
        "user_ages_",
        "unliked_user_ids_",
        "user_unliked_",
        "item_popularity_",
        "data_range_",
        "catalog_",
    )

    def _prepared_state(self) -> dict[str, Any]:
        """What ``prepare`` set, its arrays copied (this model may change its own later)."""
        return {name: _copied(getattr(self, name)) for name in self._PREPARED}

    def _take_prepared(self, entry: tuple) -> pd.DataFrame:
        """Set what another model's ``prepare`` computed on the same frames
        (:func:`shared_preparation`): copies of its arrays and frame, so that no fit changes
        another's; the catalogue, which no fit changes, is shared."""
        _, _, state, frame = entry
        for name, value in state.items():
            setattr(self, name, _copied(value))
        self._set_index()
        return frame.copy()

    def _clear_caches(self) -> None:
        """Forget values cached from the fitted data (subclasses add their own caches)."""
        self._item_vec_cache = None

    def _set_index(self) -> None:
        self._user_index = pd.Index(self.user_ids_)
        self._item_index = pd.Index(self.item_ids_)
        # plain dicts: a single-id lookup must not build a pandas Index (hot path)
        self._user_pos = {u: j for j, u in enumerate(self.user_ids_.tolist())}
        self._item_id_list = self.item_ids_.tolist()  # reasons name items by list reads
        self._item_pos = {i: j for j, i in enumerate(self._item_id_list)}
        self._unliked_pos = {u: j for j, u in enumerate(self.unliked_user_ids_.tolist())}

    @property
    def known_user_ids(self) -> np.ndarray:
        """Every customer the model knows: those it learnt from (``user_ids_``), then those
        known only by items they did not like (weight-0 interactions)."""
        extra = self.unliked_user_ids_
        if len(extra):
            extra = extra[~pd.Index(extra).isin(self.user_ids_)]
        return np.concatenate([self.user_ids_, extra]) if len(extra) else self.user_ids_

    def _seen(self, user_id: object, x: sp.csr_matrix) -> np.ndarray:
        """Item positions a request's customer has met: the history ``x`` and the items they
        did not like (unsorted, possibly twice: every reader only masks them; sorting them into
        a set cost a served answer 30 µs on ml-latest-small, against 2 µs now)."""
        row = self._unliked_pos.get(str(user_id), -1) if user_id is not None else -1
        if row < 0:
            return x.indices
        m = self.user_unliked_
        extra = m.indices[m.indptr[row] : m.indptr[row + 1]]
        return np.concatenate([x.indices, extra]) if extra.size else x.indices

    @abstractmethod
    def _fit(self, frame: pd.DataFrame, items: pd.DataFrame | None) -> None:
        """Learn from the validated frame (``u``/``i``: user and item indices; ``t``: seconds)."""

    @abstractmethod
    def _score(self, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        """Scores of every item for each history row, shape (n_rows, n_items)."""

    def _score_users(self, rows: np.ndarray, X: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        """Scores for known users (``rows`` index ``user_ids_``); default: from their history."""
        return self._score(X, ages)

    def _contributions(
        self, x: sp.csr_matrix, ages: sp.csr_matrix, item: int
    ) -> list[tuple[str, tuple[int, ...], float]]:
        """Parts of ``item``'s score ``_score(x, ages)`` for the history ``x``: (kind, items,
        amount). A model with ``exact_reasons`` returns parts whose amounts add up to the score
        (negative parts included; :func:`split_terms` groups per-item terms).

        The default has no per-item breakdown; models override it.
        """
        return []

    def _item_vectors(self) -> sp.csr_matrix:
        """L2-normalised item vectors for diversity (default: item columns of the data)."""
        if getattr(self, "_item_vec_cache", None) is None:
            m = self.user_items_.T.tocsr().astype(np.float64)
            norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            self._item_vec_cache = sp.csr_matrix(sp.diags(1.0 / norms) @ m)
        return self._item_vec_cache

    # ----------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit() first")

    def _session_history(
        self, items: Iterable[object]
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        """History row for an ordered list of item ids (last = most recent); unknown ids dropped.

        The row's value of an item is how often it occurs, its age the rank of its last
        occurrence counted from the end (1 = the latest item). A mapping of item ids to weights
        gives each item its weight instead (in its order: last = most recent). Built with array
        operations and the CSR arrays directly: this runs on every request with a live visit,
        where scipy's general constructors cost more than the scoring of a short visit.
        """
        weighted = isinstance(items, Mapping)
        found = [self._item_pos.get(str(i), -1) for i in items]
        pos = np.array([p for p in found if p >= 0], dtype=np.int64)
        n = len(self.item_ids_)
        if pos.size == 0:
            return _empty_row(n), _empty_row(n), pos
        cols, last_from_end, counts = np.unique(pos[::-1], return_index=True, return_counts=True)
        if weighted:  # keys are unique: one weight per column, in the order of np.unique
            weights = zip(found, items.values(), strict=True)  # type: ignore[attr-defined]
            given = np.array([w for p, w in weights if p >= 0], dtype=np.float32)
            counts = given[::-1][last_from_end]
        indices = cols.astype(np.int32)  # sorted and unique: a valid row (csr_view)
        indptr = np.array([0, cols.size], dtype=np.int32)
        X = csr_view(counts.astype(np.float32), indices, indptr, (1, n))
        A = csr_view((last_from_end + 1).astype(np.float32), indices.copy(), indptr.copy(), (1, n))
        return X, A, pos

    def _user_history(
        self, user_id: object, extra: Iterable[object] | None
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, bool]:
        uid = str(user_id)
        row = self._user_pos.get(uid, -1) if user_id is not None else -1
        known = row >= 0
        if known:
            X, A = _row(self.user_items_, row), _row(self.user_ages_, row)
        else:
            n = len(self.item_ids_)
            X, A = _empty_row(n), _empty_row(n)
        if extra:
            Xs, As, _ = self._session_history(extra)
            if Xs.nnz:
                X, A = _merge_context(X, A, Xs, As)
                if isinstance(extra, Mapping):  # weights may take an item's below zero
                    X, A = _positive(X, A)
        return X, A, known

    def _popular_scores(self) -> np.ndarray:
        # computed once (read-only): a cold-start answer must not pay a pass over the catalogue
        cache = getattr(self, "_popular_cache", None)
        if cache is None or cache[0] is not self.item_popularity_:
            scores = np.log1p(self.item_popularity_)
            scores.flags.writeable = False
            cache = self._popular_cache = (self.item_popularity_, scores)
        return cache[1]

    def _user_top(
        self, row: int, n: int, seen: np.ndarray, rules: Rules
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``n`` best items of the known user ``row`` and their exact scores, found without
        scoring the whole catalogue, or None (the default: every item is scored and ranked).

        Only for ``rules`` that keep the order of the scores (their filters apply); ``seen``:
        item positions to leave out. Matrix factorisation, whose scoring of every item
        dominates an answer on a large catalogue, overrides it. The default computes nothing,
        so models that do not override it pay nothing for the filters here.
        """
        return None

    def _rank(
        self, scores: np.ndarray, seen: np.ndarray, n: int, rules: Rules
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best items and their served scores."""
        scores = scores.astype(np.float64, copy=True)
        rules.leave_out(scores, self.catalog_, self._item_index)
        if rules.exclude_seen and seen.size:
            scores[seen] = -np.inf
        rules.adjust(scores, self.catalog_, self._item_index, self.item_popularity_)
        finite = int(np.count_nonzero(np.isfinite(scores)))
        if finite == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        pool = n if rules.diversity == 0 else max(5 * n, 50)
        top = top_k(scores, min(pool, finite))
        if rules.diversity:
            chosen = mmr_select(top, scores[top], self._item_vectors(), n, rules.diversity)
            top = top[chosen]
        top = top[:n]
        return top, scores[top]

    def _contributions_many(
        self, x: sp.csr_matrix, ages: sp.csr_matrix, items: np.ndarray
    ) -> list[list[tuple[str, tuple[int, ...], float]]]:
        """:meth:`_contributions` for several items (models override it to share work)."""
        return [self._contributions(x, ages, int(i)) for i in items]

    def _user_contributions_many(
        self, row: int, x: sp.csr_matrix, ages: sp.csr_matrix, items: np.ndarray
    ) -> list[list[tuple[str, tuple[int, ...], float]]]:
        """Parts of the scores ``_score_users`` gives the known user ``row`` (history ``x``).

        The default suits models whose known-user scores are ``_score`` of their history."""
        return self._contributions_many(x, ages, items)

    def _similar_contributions_many(
        self, pos: int, x: sp.csr_matrix, ages: sp.csr_matrix, items: np.ndarray, scores
    ) -> list[list[tuple[str, tuple[int, ...], float]]]:
        """Parts of ``_similar_scores(pos, ...)`` (``scores``) for ``items``.

        The default suits the default ``_similar_scores`` (``_score`` of the one-item history).
        """
        return self._contributions_many(x, ages, items)

    def _request(
        self, user_id: object, context: Iterable[object] | None
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, int | None]:
        """History of a customer request and the customer's row when the model's own user
        state answers it (a known customer without a new visit), else None."""
        x, ages, known = self._user_history(user_id, context)
        # a context of items the model does not know is no context (they are ignored)
        if known and not any(str(i) in self._item_pos for i in context or ()):
            return x, ages, self._user_pos[str(user_id)]
        return x, ages, None

    def _request_scores(self, x: sp.csr_matrix, ages: sp.csr_matrix, row: int | None) -> np.ndarray:
        """Catalogue scores of a request (see :meth:`_request`)."""
        if row is not None:
            return self._score_users(np.array([row]), x, ages)[0]
        return self._score(x, ages)[0] if x.nnz else self._popular_scores()

    def _explain_item(
        self,
        x: sp.csr_matrix,
        ages: sp.csr_matrix,
        item: int,
        mode: str = "customer",
        parts: list[tuple[str, tuple[int, ...], float]] | None = None,
        score: float = 0.0,
        served: float | None = None,
    ) -> tuple[tuple[Reason, ...], float]:
        """Reasons for ``item`` and the share of the served score they explain.

        ``mode`` is ``customer``, ``session`` or ``similar`` (wording); ``parts`` are the model's
        parts of ``score`` (the model's score); ``served`` the score after the request's rules
        (boosts, novelty), whose difference to ``score`` becomes a ``rules`` reason.
        """
        served = score if served is None else served
        if parts is None:
            parts = self._contributions(x, ages, item) if x.nnz else []
        parts = [p for p in parts if p[2] != 0]
        catalog = self.catalog_
        exact = bool(self.exact_reasons)
        reasons = []
        if not parts:
            if not x.nnz:  # no history: the score is the item's popularity
                pop = int(self.item_popularity_[item])
                text = f"popular: {pop} customers interacted with it"
                reasons.append(Reason("popular", text, (), float(score)))
                exact = True
            elif score == 0:
                text = "nothing in the history points to it (score 0)"
                reasons.append(Reason("no_signal", text, (), 0.0))
            else:
                text = "the model gives no breakdown of this score"
                reasons.append(Reason("unexplained", text, (), 0.0))
        ranked = sorted(parts, key=lambda p: -p[2]) if len(parts) > 1 else parts
        if len(ranked) > 4:  # the three largest, and the rest taken together
            rest = ranked[3:]
            ranked = ranked[:3] + [("other", (), float(sum(p[2] for p in rest)))]
            other_count = len(rest)
        id_list = self._item_id_list
        for kind, idx, amount in ranked:
            ids = tuple([id_list[j] for j in idx])
            if kind == "against" and mode == "similar":
                text = f"seldom chosen by the customers who chose {_names(catalog, idx)}"
            elif kind == "against" and mode == "session":
                text = f"less likely because you looked at {_names(catalog, idx)}"
            elif kind == "against":
                text = f"less likely because you interacted with {_names(catalog, idx)}"
            elif kind == "other":
                text = f"{other_count} smaller parts together"
            elif kind == "popular":
                text = f"popular: {int(self.item_popularity_[item])} customers interacted with it"
            elif kind in ("history", "latent") and mode == "similar":
                text = f"often chosen by the customers who chose {_names(catalog, idx)}"
            elif kind == "history" and mode == "session":
                text = f"because you looked at {_names(catalog, idx)}"
            elif kind == "history":
                text = f"because you interacted with {_names(catalog, idx)}"
            elif kind == "session":
                text = f"visitors who looked at {_names(catalog, idx)} went on to this"
            elif kind == "together":
                text = f"often bought together with {_names(catalog, idx)}"
            elif kind == "repeat":
                text = "you looked at it earlier in this visit"
            elif kind == "category":
                names = ", ".join(catalog.category_names[j] for j in idx[:3])
                text = f"in categories you like: {names}"
                ids = ()
            elif kind == "new_in_category":
                text = "new, and like what you enjoy: " + ", ".join(self._feature_names(idx[:3]))
                ids = ()
            elif kind == "feature":
                text = "matches what you like: " + ", ".join(self._feature_names(idx[:3]))
                ids = ()
            elif kind == "segment":
                text = "popular with customers like you"
                ids = ()
            elif kind == "latent":
                text = (
                    f"liked by customers with tastes like yours (you liked {_names(catalog, idx)})"
                )
            else:
                text = kind
            reasons.append(Reason(kind, text, ids, float(amount)))
        if served != score:
            text = "moved by this request's boosts and novelty"
            reasons.append(Reason("rules", text, (), float(served - score)))
        if exact:
            return tuple(reasons), 1.0
        total = sum(r.weight for r in reasons)
        if served:
            explained = float(total / served)
        else:
            explained = 1.0 if total == 0 else 0.0
        return tuple(reasons), explained

    def _feature_names(self, idx: Sequence[int]) -> list[str]:
        return [str(j) for j in idx]

    def _build(
        self,
        x: sp.csr_matrix,
        ages: sp.csr_matrix,
        scores: np.ndarray | None,
        n: int,
        rules: Rules,
        explain: bool,
        mode: str,
        row: int | None = None,
        similar_to: int | None = None,
        ranked: tuple[np.ndarray, np.ndarray] | None = None,
        seen: np.ndarray | None = None,
    ) -> list[Recommendation]:
        """The answer from the catalogue ``scores``, or from ``ranked`` (items and their exact
        scores, already ranked under rules that keep the order: ``_user_top``). ``seen``: the
        items ``rules.exclude_seen`` leaves out (default: those of the history ``x``)."""
        if ranked is not None:
            top, top_scores = ranked
            model_scores = top_scores.tolist()
        else:
            top, top_scores = self._rank(scores, x.indices if seen is None else seen, n, rules)
            # the model's own score of each item (before the request's boosts)
            model_scores = scores[top].tolist()
        if not explain or not x.nnz:
            many = [[]] * len(top)
        elif similar_to is not None:
            many = self._similar_contributions_many(similar_to, x, ages, top, scores)
        elif row is not None:
            many = self._user_contributions_many(row, x, ages, top)
        else:
            many = self._contributions_many(x, ages, top)
        ids = self.item_ids_[top].tolist()
        out = []
        for rank, (item, score) in enumerate(zip(top.tolist(), top_scores.tolist(), strict=True)):
            reasons, explained = (
                self._explain_item(x, ages, item, mode, many[rank], model_scores[rank], score)
                if explain
                else ((), None)
            )
            out.append(Recommendation(str(ids[rank]), score, rank + 1, reasons, explained))
        return out

    # ----------------------------------------------------------------- requests
    def recommend(
        self,
        user_id: object,
        n: int = 10,
        *,
        context: Iterable[object] | None = None,
        rules: Rules | None = None,
        explain: bool = True,
    ) -> list[Recommendation]:
        """Top-``n`` items for one customer.

        Parameters
        ----------
        user_id : str
            Customer id. An unknown id is a new customer: with no ``context`` they get the
            popular items (cold start), with a context they get recommendations from it.
        n : int
            Number of items.
        context : iterable of str, or mapping of str to float, optional
            Items of the current visit, oldest first; they count as the most recent history,
            each as often as it occurs. A mapping gives each item its weight instead (how a
            training would weigh its events: a purchase 5, a view 1), added to what the
            customer's history holds for it; an item whose weight ends at 0 or below (a
            purchase returned; ``-inf``: rated low at last) leaves the history, and every
            item of the context counts as seen.
        rules : Rules, optional
            Filters, boosts, diversity; by default seen items are excluded.
        explain : bool
            Attach reasons.

        Returns
        -------
        list of Recommendation
            Best first; fewer than ``n`` when the rules leave fewer items.
        """
        self._check_fitted()
        _check_n(n)
        rules = rules or Rules()
        x, ages, row = self._request(user_id, context)
        seen = self._seen(user_id, x)
        if isinstance(context, Mapping):  # every item of the context was met, whatever its weight
            met = [self._item_pos.get(str(i), -1) for i in context]
            seen = np.concatenate([seen, np.array([p for p in met if p >= 0], dtype=np.int64)])
        if row is not None and rules.keeps_order:
            ranked = self._user_top(
                row, n, seen if rules.exclude_seen else np.empty(0, dtype=np.int64), rules
            )
            if ranked is not None:
                return self._build(
                    x, ages, None, n, rules, explain, "customer", row=row, ranked=ranked
                )
        scores = self._request_scores(x, ages, row)
        return self._build(x, ages, scores, n, rules, explain, "customer", row=row, seen=seen)

    def recommend_session(
        self,
        items: Sequence[object],
        n: int = 10,
        *,
        rules: Rules | None = None,
        explain: bool = True,
    ) -> list[Recommendation]:
        """Top-``n`` items for an anonymous visit given the items seen so far (oldest first).

        Unknown items are ignored; with no known item the result is the popular items.
        Unlike :meth:`recommend`, items of the session are *not* excluded unless
        ``rules.exclude_seen`` is set explicitly (visitors often come back to an item).
        """
        self._check_fitted()
        _check_n(n)
        rules = rules or Rules(exclude_seen=False)
        x, ages, _ = self._session_history(items)
        scores = self._score(x, ages)[0] if x.nnz else self._popular_scores()
        return self._build(x, ages, scores, n, rules, explain, "session")

    def similar_items(
        self, item_id: object, n: int = 10, *, rules: Rules | None = None
    ) -> list[Recommendation]:
        """Items most similar to ``item_id`` according to the model (the item itself excluded).

        Raises
        ------
        NotFound
            Unknown item.
        """
        self._check_fitted()
        _check_n(n)
        pos = self._item_pos.get(str(item_id), -1)
        if pos < 0:
            raise NotFound(f"item {item_id!r} is not in the model's catalogue")
        x, ages = self._single_item(pos)
        scores = self._similar_scores(pos, x, ages)
        return self._build(x, ages, scores, n, rules or Rules(), True, "similar", similar_to=pos)

    def _single_item(self, pos: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        n = len(self.item_ids_)
        x = sp.csr_matrix((np.ones(1, np.float32), ([0], [pos])), shape=(1, n))
        return x, x.copy()

    def _similar_scores(self, pos: int, x: sp.csr_matrix, ages: sp.csr_matrix) -> np.ndarray:
        return self._score(x, ages)[0]

    def explain(
        self, user_id: object, item_id: object, *, context: Iterable[object] | None = None
    ) -> tuple[Reason, ...]:
        """Reasons why ``item_id`` scores for ``user_id`` (whether or not it is in the top-n).

        Their weights are parts of the score ``recommend`` gives the item without rules."""
        self._check_fitted()
        pos = self._item_pos.get(str(item_id), -1)
        if pos < 0:
            raise NotFound(f"item {item_id!r} is not in the model's catalogue")
        x, ages, row = self._request(user_id, context)
        scores = self._request_scores(x, ages, row)
        items = np.array([pos])
        if not x.nnz:
            parts: list[Part] = []
        elif row is not None:
            parts = self._user_contributions_many(row, x, ages, items)[0]
        else:
            parts = self._contributions_many(x, ages, items)[0]
        return self._explain_item(x, ages, int(pos), "customer", parts, float(scores[pos]))[0]

    def recommend_batch(
        self,
        user_ids: Sequence[object] | None = None,
        n: int = 10,
        *,
        rules: Rules | None = None,
        batch_size: int = 2000,
        progress=None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-``n`` for many known customers at once (no reasons; filters and boosts apply,
        diversity does not).

        Parameters
        ----------
        user_ids : sequence of str, optional
            Customers; None means every customer the model knows (:attr:`known_user_ids`).
            Unknown ids get popular items.
        n : int
        rules : Rules, optional
        batch_size : int
            Customers scored per matrix product (bounds memory to ``batch_size × n_items``).
        progress : callable, optional
            Called with the number of customers done after each batch.

        Returns
        -------
        user_ids : numpy.ndarray of str, shape (m,)
        item_ids : numpy.ndarray of str, shape (m, n)
            Empty string where fewer than ``n`` items are allowed.
        scores : numpy.ndarray of float, shape (m, n)
            ``-inf`` in empty slots.
        """
        self._check_fitted()
        _check_n(n)
        rules = rules or Rules()
        if user_ids is None:
            users = self.known_user_ids
        else:
            users = np.asarray([str(u) for u in user_ids], dtype=object)
        rows = self._user_index.get_indexer(users)
        unliked = self.user_unliked_
        unliked_rows = (
            pd.Index(self.unliked_user_ids_).get_indexer(users)
            if rules.exclude_seen and unliked.nnz
            else None
        )
        mask = rules.allowed_mask(self.catalog_, self._item_index)
        n_items = len(self.item_ids_)
        k = min(n, n_items)
        out_idx = np.full((len(users), n), -1, dtype=np.int64)
        out_scores = np.full((len(users), n), -np.inf)
        popular = self._popular_scores()
        for start in range(0, len(users), batch_size):
            r = rows[start : start + batch_size]
            known = np.flatnonzero(r >= 0)
            # each batch's scores are written once (a full-width copy is tens of ms per
            # thousand customers on a few thousand items, and train scores a batch per setting)
            if len(known) == len(r):  # every customer known: the model's scores, in float64
                X = self.user_items_[r]
                S = np.array(self._score_users(r, X, self.user_ages_[r]), dtype=np.float64)
            else:
                S = np.empty((len(r), n_items))
                S[:] = popular  # new customers: the popular items
                X = self.user_items_[r[known]]
                if len(known):
                    S[known] = self._score_users(r[known], X, self.user_ages_[r[known]])
            if rules.exclude_seen and len(known):
                Xk = X.tocoo()
                S[known[Xk.row], Xk.col] = -np.inf
            if unliked_rows is not None:  # items they met and did not like: seen too
                u = unliked_rows[start : start + batch_size]
                has = np.flatnonzero(u >= 0)
                U = unliked[u[has]].tocoo()
                S[has[U.row], U.col] = -np.inf
            if mask is not None:
                S[:, ~mask] = -np.inf
            rules.adjust(S, self.catalog_, self._item_index, self.item_popularity_)
            top = np.stack([top_k(row, k) for row in S])
            ts = np.take_along_axis(S, top, axis=1)
            top = np.where(np.isfinite(ts), top, -1)
            out_idx[start : start + len(r), :k] = top
            out_scores[start : start + len(r), :k] = ts
            if progress is not None:
                progress(len(r))
        ids = np.where(out_idx >= 0, self.item_ids_[np.maximum(out_idx, 0)], "")
        return np.asarray(users).astype(str), ids, out_scores

    # ----------------------------------------------------------------- artefacts
    def _state(self) -> dict[str, Any]:
        """Model-specific learned arrays (numpy arrays or scipy sparse matrices)."""
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore what ``_state`` returned."""


def _merge_context(
    X: sp.csr_matrix, A: sp.csr_matrix, Xs: sp.csr_matrix, As: sp.csr_matrix
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """A one-row history ``X`` (ages ``A``) with the current visit ``Xs`` (ages ``As``) as its
    most recent part: values add up, the visit's items take the visit's ages and the older
    items' ages grow by the visit's length (its largest age).

    Array operations on the CSR arrays (sorted indices): a known customer's request with a
    live visit runs this, and scipy's sparse addition and a Python dict of ages cost more
    than the scoring itself.
    """
    shift = float(As.data.max())
    cols = np.union1d(X.indices, Xs.indices)
    data = np.zeros(cols.size, dtype=np.float32)
    ages = np.zeros(cols.size, dtype=np.float32)
    data[np.searchsorted(cols, X.indices)] += X.data  # indices are unique within a row
    data[np.searchsorted(cols, Xs.indices)] += Xs.data
    ages[np.searchsorted(cols, A.indices)] = A.data + shift
    ages[np.searchsorted(cols, As.indices)] = As.data  # the visit's ages win
    indices = cols.astype(np.int32)  # sorted and unique (union1d): a valid row (csr_view)
    indptr = np.array([0, cols.size], dtype=np.int32)
    merged = csr_view(data, indices, indptr, X.shape)
    merged_ages = csr_view(ages, indices.copy(), indptr.copy(), X.shape)
    return merged, merged_ages


def _positive(X: sp.csr_matrix, A: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """A one-row history without its items of weight 0 or less (no model learns from them,
    as no fit does: a pair's events that add up to nothing, or a rating low at last). The ages
    of the items kept are ranked again (1 = the most recent), as if the others had never
    been there: a fit ranks only the pairs it learns from."""
    keep = X.data > 0
    if keep.all():
        return X, A
    indices = X.indices[keep]
    indptr = np.array([0, indices.size], dtype=np.int32)
    ages = np.empty(indices.size, dtype=np.float32)
    ages[np.argsort(A.data[keep], kind="stable")] = np.arange(1, indices.size + 1)
    return (
        csr_view(X.data[keep], indices, indptr, X.shape),
        csr_view(ages, indices.copy(), indptr.copy(), X.shape),
    )


def unliked_matrix(
    unliked: pd.DataFrame | None, item_ids: pd.Index | np.ndarray
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Customers with weight-0 interactions and, per customer, the items of those rows (a
    matrix over the model's items: items the model does not know cannot be offered anyway)."""
    n = len(item_ids)
    if unliked is None or unliked.empty:
        return np.empty(0, dtype=str), sp.csr_matrix((0, n), dtype=np.float32)
    i = pd.Index(item_ids).get_indexer(unliked["item_id"])
    rows = unliked[i >= 0]
    users = pd.Index(pd.unique(rows["user_id"]))
    u = users.get_indexer(rows["user_id"])
    m = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (u, i[i >= 0])), shape=(len(users), n), dtype=np.float32
    )
    return np.asarray(users.astype(str)), m


def _empty_row(n: int) -> sp.csr_matrix:
    """A 1-row CSR matrix of ``n`` columns with nothing stored (a history of no known item)."""
    return csr_view(np.empty(0, np.float32), np.empty(0, np.int32), np.zeros(2, np.int32), (1, n))


def _row(matrix: sp.csr_matrix, r: int) -> sp.csr_matrix:
    """Row ``r`` of a CSR matrix as a 1-row CSR view (:func:`csr_view`: no copy, no checks).

    It runs on every served answer of a known customer (history, ages, neighbours):
    ``matrix[r]`` goes through scipy's general indexing (60 us on ml-latest-small; 170 us with
    an index array) and the checked constructor costs 20 us.
    """
    start, end = matrix.indptr[r], matrix.indptr[r + 1]
    indptr = np.array([0, end - start], dtype=matrix.indptr.dtype)
    return csr_view(matrix.data[start:end], matrix.indices[start:end], indptr, (1, matrix.shape[1]))


def csr_view(
    data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """A CSR matrix of arrays known to be valid (sorted, in-range indices; matching lengths),
    built without scipy's checks: 2 us instead of 20 (its index-dtype and format checks) on
    the request path, where such matrices are built from a valid matrix's rows.

    The matrix is a copy of a template made once by scipy's own constructor with the arrays put
    in, so it carries whatever else scipy keeps on an instance; where a scipy version keeps the
    arrays or the shape under other names, the checked constructor is used.
    """
    if not _VIEW_FIELDS:
        return sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)
    view = object.__new__(sp.csr_matrix)
    view.__dict__.update(_ROW_TEMPLATE.__dict__)
    view.data, view.indices, view.indptr, view._shape = data, indices, indptr, shape
    return view


#: A checked 1-row matrix whose instance fields ``csr_view`` copies.
_ROW_TEMPLATE = sp.csr_matrix(
    (np.ones(1, np.float32), np.zeros(1, np.int32), np.array([0, 1], np.int32)), shape=(1, 1)
)
#: Whether this scipy keeps a CSR matrix's arrays and shape where ``csr_view`` puts them.
_VIEW_FIELDS = {"data", "indices", "indptr", "_shape"} <= set(vars(_ROW_TEMPLATE))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first, ties broken by the lower index.

    Parameters
    ----------
    scores : numpy.ndarray, shape (n_items,)
    k : int
        At most ``n_items``.
    """
    k = min(k, scores.size)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k == scores.size:
        cand = np.arange(scores.size)
        return cand[np.lexsort((cand, -scores))]
    size = scores.size
    if k * _SAMPLE_MARGIN <= size:
        # A bound from every 8th score: k of them are at least ``bound``, so the k-th best score
        # is too, and every item of the answer is among those at least ``bound`` (about 8k of
        # them): one pass over the catalogue instead of a gather and a partition of all of it
        # (recent_ease's served scores on ml-latest-small's 9,742 items, k 10 / 50: 31 / 40 us
        # instead of 78 / 81). Where fewer than k items pass (NaN in the sample) or more than
        # an eighth (-inf or a run of equal scores at the bound), the whole catalogue's path.
        sample = scores[::_SAMPLE_STRIDE]
        bound = np.partition(sample, sample.size - k)[sample.size - k]
        cand = np.flatnonzero(scores >= bound)
        if k <= cand.size <= size // _SAMPLE_STRIDE:
            return _top_of(cand, scores[cand], k)
    # The k-th best score, partitioning at the top end (not the negated scores at the bottom: 3x
    # faster, 150k items: 0.36 against 1.09 ms) of a fixed shuffle of the scores: in catalogue
    # order, long runs of equal scores (the items an item-item model did not learn all score 0)
    # defeat the selection's pivots, 200 us instead of 25 on ml-latest-small's 9,742 items.
    top_part = np.partition(scores[_shuffle(size)], size - k)[size - k :]
    if np.isnan(top_part).any():
        # partition puts NaN above everything, so a NaN anywhere lands in the top part (checked
        # there: k values, not the catalogue); a NaN never wins, so it goes to the bottom
        scores = np.where(np.isnan(scores), -np.inf, scores)
        top_part = np.partition(scores[_shuffle(size)], size - k)[size - k :]
    threshold = top_part.min()
    at_least = np.flatnonzero(scores >= threshold)  # one pass for the items above and the ties
    return _ranked(at_least, scores[at_least], threshold, k)


#: ``top_k`` bounds the k-th best score from every ``_SAMPLE_STRIDE``-th score when the catalogue
#: holds at least ``_SAMPLE_MARGIN`` times ``k`` items (the sample then holds 16 k scores).
_SAMPLE_STRIDE = 8
_SAMPLE_MARGIN = 128


def _top_of(cand: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """``top_k`` among the items ``cand`` (ascending positions, scores ``values``, no NaN, at
    least ``k``) that hold every item of the answer."""
    threshold = np.partition(values, values.size - k)[values.size - k]
    keep = values >= threshold
    return _ranked(cand[keep], values[keep], threshold, k)


def _ranked(at_least: np.ndarray, values: np.ndarray, threshold, k: int) -> np.ndarray:
    """The answer from the items scoring at least the k-th best score ``threshold``
    (ascending positions ``at_least``, their scores ``values``): those above it best first,
    then ties at it by position."""
    higher = values > threshold
    above = at_least[higher]
    above = above[np.lexsort((above, -values[higher]))]
    # ties at the threshold go to the lower indices, without sorting them (they can be most of
    # the catalogue: a short history and a large n)
    tied = at_least[values == threshold][: k - above.size]
    return np.concatenate((above, tied))


@functools.lru_cache(maxsize=8)
def _shuffle(size: int) -> np.ndarray:
    """A fixed permutation of ``range(size)`` (one per catalogue size, kept)."""
    return np.random.default_rng(size).permutation(size)


def _check_n(n: int) -> None:
    if not isinstance(n, int | np.integer) or n < 1:
        raise DataError(f"n must be a positive integer, got {n!r}", field="n")
