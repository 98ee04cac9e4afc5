"""Model choice with tuned hyper-parameters, on a validation split cut from training data only.

:func:`select_model` is what ``omotenashi train`` runs when it chooses the model itself. It sees
only the interactions it is given (the store's data, or the training part of a benchmark split):

1. **Validation split.** Protocol P1 applied to those interactions: per customer, the last 20 %
   by time are held out (customers with fewer than 5 interactions stay whole in the fitting part);
   interaction weights are kept.
2. **Defaults.** Every candidate is fitted with its starting parameters and scored (NDCG@10).
3. **Recency signal.** Whether the data's timestamps say something about what comes next is
   tested, not assumed: the best item-item candidate is scored with and without recency
   weighting (``recency_boost`` 3, ``recency_scale`` 10) on the same validation customers, and
   the per-customer NDCG@10 differences are compared by a paired t-statistic. Timestamps carry
   signal when ``t > 2`` (the weighted variant is better by more than about two standard errors);
   without timestamps, or when every customer's interactions share one time, there is none.
   Only then is recency weighting searched (it is a scoring parameter: no refit).
4. **Search.** Candidates are tuned best first, one parameter at a time (coordinate search: from
   the current best value the grid is walked towards the better neighbour while NDCG@10
   improves), on log grids for regularisation. Parameters that change scoring only reuse the
   fitted model. The defaults are always scored; the search runs within what is left of the
   budget (see **Budget** below).
5. **Blend.** The two best candidates after the search are blended (:class:`Hybrid`: a
   weighted sum of their scores, each divided per customer by its standard deviation over the
   catalogue, :data:`BLEND_SCALING`) with the second's weight walked over :data:`BLEND_WEIGHTS`
   (the best's is 1). Then more parts are added by greedy forward selection: each round scores
   every candidate not yet in the blend (with its tuned parameters) at each weight of
   :data:`BLEND_ADD_WEIGHTS` and adds the best one when it raises the blend's NDCG@10 by more
   than :data:`BLEND_MARGIN` (relative); after an addition the weight of every part but the
   best's is walked once more over both grids (:data:`BLEND_REWALK`: from its current value to
   the better neighbour while NDCG@10 improves). It stops at :data:`BLEND_MAX_PARTS` parts, when
   no addition clears the margin, or when time runs out. Every blend reuses the models already
   fitted on the validation split (weights only change scoring: nothing is refitted) and is
   scored on the same validation customers; in the greedy step each part's scores of those
   customers are kept once computed (up to :data:`BLEND_MEMORY` bytes in all), so a blend
   scoring after the first with that part only adds them up. The two-part blend's scoring time
   is set aside from the budget; the greedy step has what is left (see **Budget**).
6. **Winner.** The best row by validation NDCG@10: a candidate with its tuned parameters, or the
   blend when it beats the best candidate (ties go to the single candidate). With folds (below),
   rows are ranked by their NDCG@10 over all folds.

**Folds.** Where the timestamps say nothing about what comes next (no time order within
customers, or the recency test found no signal), which fifth of a customer's interactions is
"the last" is chance, and the blend step, a choice among some forty blends, would also pick
whatever suits that one draw. So there the blend is chosen on :data:`BLEND_FOLDS` validation
splits: the split by time and further ones that each hold out a seeded random fifth of every
customer's interactions (:func:`validation_split`'s ``seed``). Every candidate, with the
settings its search found on the split by time, is fitted and scored on each further fold; the
candidates are ranked, the blend's parts and weights chosen and the blend kept or not on
NDCG@10 over the validation customers of all folds together (``folds_ndcg@10`` in the table;
``ndcg@10`` stays the split by time's, which the search tuned on and the defaults were scored
on). The search itself stays on the split by time. Where time does tell (the recency test found
a signal), the split by time is the one that resembles what will be asked and is used alone.
The further folds are left out, and the note says why, when the dense item x item matrices they
would hold exceed :data:`FOLD_MEMORY`, when a fit on a fold fails, or when their fits and
scorings do not fit before the budget's end (their cost is part of the blend's reserve).

**Budget.** ``budget_s`` counts from the start of :func:`select_model` (cutting the split and
scoring the defaults included; the defaults are scored even past it). Every fit and every
scoring is timed. A trial (the recency probe, or one step of the search) is started only when
its estimated cost fits in the time left before the blend's reserve: the slowest fit measured
for that candidate (when the step changes a parameter that needs a refit: a step may fit a
larger model than any before) plus the median of the scorings measured for it (the defaults
give both before any step). The reserve is the blend's six scorings, each estimated as the two
slowest candidates' median scorings added up (re-estimated as the search measures more). A
trial can still take longer than estimated (a larger model, a busy machine); then no further
trial starts, and the blend gets back the time that trial ran into its reserve, so the model
choice ends past the budget by that one trial's excess over its estimate (and by any excess of
a blend scoring over its estimate). Each weight of the two-part blend is scored only when its
estimate (its parts' median scorings added up, then the median of the blend's scorings so far)
fits before the blend's deadline. Nothing is set aside for the greedy step: it runs in the time
the search and the two-part blend left, and each of its scorings starts only when its estimate
fits before the same deadline: the median scorings of its parts whose scores are not kept yet,
plus the median of what blend scorings took beyond the parts they scored afresh (adding up,
ranking). When the search used the whole budget, no part is added.

Progress is reported as ``(done, total, message)`` where ``total`` is the number of steps the
search may take (steps not needed or skipped for time count as done, and their message says
``no time left``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from omotenashi.errors import DataError
from omotenashi.evaluation._metrics import catalogue_coverage, ndcg_at_k, novelty, recall_at_k
from omotenashi.evaluation._protocols import TopNSplit, split_p1
from omotenashi.recommend import Hybrid, Recommender, make_model, shared_preparation

#: Paired t-statistic above which recency weighting counts as a real gain (see module docs).
RECENCY_T = 2.0
#: The recency variant used for the signal test.
RECENCY_PROBE = {"recency_boost": 3.0, "recency_scale": 10.0}
#: Weights of the second-best candidate in the blend of the two best (the best's weight is 1).
BLEND_WEIGHTS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
#: Per-customer scaling of each part of the blend (``Hybrid.scaling``).
BLEND_SCALING = "std"
#: Greedy selection of further parts (module docs, **Blend**): the most parts a blend may hold,
#: the weights a part is added at (the best's weight is 1), the relative NDCG@10 gain an
#: addition must exceed, and whether the parts' weights are walked again after an addition.
#: Chosen on ml-100k's validation split only (``benchmarks/blend_grid.py``, its rule).
BLEND_MAX_PARTS = 3
BLEND_ADD_WEIGHTS = (0.1, 0.3, 0.5, 1.0)
BLEND_MARGIN = 0.002
BLEND_REWALK = True
#: Bytes of validation scores the greedy step may keep (the parts' scores, computed once).
BLEND_MEMORY = 1 << 30
#: Validation splits the blend is chosen on where the timestamps say nothing about what comes
#: next (module docs, **Folds**): the split by time and ``BLEND_FOLDS - 1`` more, each holding
#: out a seeded random fifth of every customer's interactions. Set on principle (a choice among
#: some forty blends on one draw of held-out rows also picks that draw's noise), not read off
#: any dataset.
BLEND_FOLDS = 3
#: Bytes the dense item x item matrices fitted on the further folds may take in all; with a
#: larger catalogue the blend is chosen on the one split.
FOLD_MEMORY = 1 << 31


@dataclass(frozen=True)
class SearchSpace:
    """Where the search starts and which parameters it walks, in order.

    Attributes
    ----------
    start : dict
        Parameters of the first fit (the others keep the model's defaults).
    grid : tuple of (name, values)
        Parameters searched one at a time, each over its ordered values.
    extras : tuple of (name, values)
        Scoring parameters searched after ``grid`` when ``extras`` are enabled (popularity
        damping); recency weighting is added when the data carry a recency signal.
    """

    start: dict[str, Any]
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    extras: tuple[tuple[str, tuple[Any, ...]], ...] = ()


_LOG_L2 = (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0)
_DAMPING = (("popularity_exponent", (0.0, 0.1, 0.2, 0.3, 0.5)),)
#: EASE's dropout rate (DLAE / EDLAE, Steck NeurIPS 2020; ``recommend._linear``), searched after
#: λ and the zero-diagonal constraint. Chosen on ml-100k's validation split only (the tuning
#: dataset): there the best rates were 0.1 (with or without the constraint, λ 300) and 0.5 at a
#: small λ (100); 0.25 lies between.
_DROPOUT = (0.0, 0.1, 0.25, 0.5)
#: ALS confidence scaling ``c = alpha · w``: from ``implicit``'s default (1) up to Hu, Koren &
#: Volinsky's (2008) 40, which was set for raw counts; the weights here are 1–2 (ratings) or
#: purchase counts, so the grid also goes below 1. ALS's own default (2) is the start.
_ALS_ALPHA = (0.5, 1.0, 2.0, 5.0, 10.0, 40.0)
#: Recency grid searched when the data carry a recency signal (item-item models).
RECENCY_GRID: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("recency_boost", (0.0, 1.0, 3.0, 10.0)),
    ("recency_scale", (3.0, 10.0, 30.0)),
)

#: Search spaces of the models ``train`` can tune. Grids are chosen to span the values that are
#: right on data from a few thousand to a million interactions (EASE λ on a log grid).
SEARCH_SPACES: dict[str, SearchSpace] = {
    "ease": SearchSpace(
        {"l2": 300.0, "min_support": 2},
        (("l2", _LOG_L2), ("zero_diagonal", (True, False)), ("dropout", _DROPOUT)),
        _DAMPING,
    ),
    "recent_ease": SearchSpace({"l2": 300.0, "recency_boost": 0.0}, (("l2", _LOG_L2),), _DAMPING),
    "rp3beta": SearchSpace(
        {"alpha": 1.0, "beta": 0.4, "k": 200},
        (
            ("beta", (0.0, 0.2, 0.4, 0.6, 0.8)),
            ("alpha", (0.25, 0.5, 0.75, 1.0, 1.5)),
            ("k", (50, 100, 200, 400)),
        ),
        _DAMPING,
    ),
    "itemknn": SearchSpace(
        {"k": 100, "weighting": "cosine"},
        (("weighting", ("cosine", "bm25")), ("k", (10, 25, 50, 100, 200, 400))),
        _DAMPING,
    ),
    "itemknn_bm25": SearchSpace({"k": 100}, (("k", (10, 25, 50, 100, 200, 400)),), _DAMPING),
    "als": SearchSpace(
        {"factors": 64, "regularization": 0.1},
        (
            ("regularization", (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)),
            ("alpha", _ALS_ALPHA),
            ("factors", (32, 64, 128, 256)),
        ),
    ),
    # chosen on ml-100k's validation split only (benchmarks/ials_grid.py, its rule): 128 factors
    # and 2 passes are the cheapest within 1 % of the grid's best (more passes did not score
    # higher), λ 0.01 and α₀ 0.3 their best; the walk covers each value's neighbours there
    "ials": SearchSpace(
        {"factors": 128, "iterations": 2, "regularization": 0.01, "unobserved_weight": 0.3},
        (
            ("regularization", (0.003, 0.01, 0.03)),
            ("unobserved_weight", (0.1, 0.3, 1.0)),
        ),
    ),
    # chosen on ml-100k's validation split only (benchmarks/userknn_grid.py, its rule): the
    # start is the grid's best (k 50, shrink 30, exponent 3: NDCG@10 0.1595); the walk covers
    # the grid's values of each
    "userknn": SearchSpace(
        {"k": 50, "shrink": 30.0, "exponent": 3.0},
        (
            ("k", (10, 25, 50, 100, 200, 400)),
            ("shrink", (0.0, 10.0, 30.0, 100.0)),
            ("exponent", (0.5, 1.0, 2.0, 3.0)),
        ),
    ),
    "bpr": SearchSpace({}, (("factors", (32, 64, 128)),)),
    "popularity": SearchSpace({}),
}

#: EASE's ridge λ is added to the Gram matrix XᵀX, whose diagonal grows with the customers of an
#: item and with the square of the interaction weights (a purchase weighs 5, a rating 1-2): a λ
#: that suits 35,000 ratings is far too weak for a million purchases. So the ``l2`` start and grid
#: of these models are in units of the data's mean Gram diagonal (the mean over items of the sum
#: of squared weights), relative to that of the tuning dataset's validation fit part (ml-100k:
#: 34,764 interactions, 1,266 items), where they are the values written in ``SEARCH_SPACES``.
L2_SCALED = frozenset({"ease", "recent_ease"})
REFERENCE_GRAM_DIAGONAL = 60.45


def gram_scale(interactions: pd.DataFrame) -> float:
    """The data's mean Gram diagonal over ml-100k's (:data:`REFERENCE_GRAM_DIAGONAL`)."""
    if interactions.empty:
        return 1.0
    weights = (
        interactions["weight"].to_numpy(dtype=float)
        if "weight" in interactions.columns
        else np.ones(len(interactions))
    )
    per_item = pd.Series(weights**2).groupby(interactions["item_id"].to_numpy()).sum()
    return float(per_item.mean()) / REFERENCE_GRAM_DIAGONAL


def scaled_space(space: SearchSpace, scale: float) -> SearchSpace:
    """``space`` with its ``l2`` start and grid times ``scale`` (three significant digits)."""

    def times(value: float) -> float:
        return float(f"{value * scale:.3g}")

    start = {k: times(v) if k == "l2" else v for k, v in space.start.items()}
    grid = tuple(
        (name, tuple(times(v) for v in values) if name == "l2" else values)
        for name, values in space.grid
    )
    return replace(space, start=start, grid=grid)


#: Models that hold a dense item x item matrix, and the most items they are fitted on in tuning.
DENSE = {"ease", "recent_ease"}
DENSE_ITEM_LIMIT = 20_000
#: Models whose scoring takes recency weighting and popularity damping (x · B models).
ITEM_ITEM = {"ease", "recent_ease", "rp3beta", "itemknn", "itemknn_bm25"}

Progress = Callable[[int, int, str], None]

#: The clock the budget is kept with (seconds; tests put a fake clock in its place).
_clock: Callable[[], float] = time.perf_counter


@dataclass
class Selection:
    """Outcome of :func:`select_model`.

    Attributes
    ----------
    model : str
        The winner.
    params : dict
        Its tuned parameters (those set on top of the model's defaults).
    table : list of dict
        One row per candidate, best first: ``model``, ``params``, ``ndcg@10``, ``recall@20``,
        ``coverage``, ``novelty`` (on the split by time), ``default_ndcg@10`` (before tuning),
        ``trials``, ``fit_s``; with folds, ``folds_ndcg@10`` (over all folds, the rank).
    trials : list of dict
        Every evaluation: ``model``, ``params``, ``ndcg@10``, ``recall@20``.
    recency : dict
        The recency-signal test: ``signal`` (bool), ``gain`` (relative NDCG@10), ``t``, ``rule``.
    validation : dict
        Sizes of the validation split (``customers``, ``fit_interactions``, ``held_out``),
        ``l2_scale``, the factor EASE's λ grid was scaled by (:func:`gram_scale`), ``folds``
        (the validation splits the blend was chosen on) and ``folds_note`` (why so many).
    seconds : float
    budget_s : float
    budget_exhausted : bool
        Some steps were skipped for lack of time.
    skipped : dict
        Candidates left out, with the reason (their fit failed, or a catalogue too large for a
        dense item x item matrix).
    blend : dict
        The blend: ``tried`` (False with a ``reason``: fewer than two candidates, blending
        off, or no time left), ``components`` and ``part_weights`` (the blend's parts and their
        weights, the best candidate first at 1), ``scaling``; the two-part step's ``weights``
        (the second part's weights scored), ``best_weight`` and ``two_parts_ndcg@10``; the
        greedy step's ``additions`` (one per round: the best candidate tried, its ``weight``,
        ``ndcg@10``, the blend's NDCG@10 ``before``, how many blends were ``scored`` and
        whether it was ``kept``), ``rewalks`` (weights the walk after an addition moved:
        ``model``, ``from``, ``to``, ``ndcg@10``) and ``stopped`` (why it ended); then
        ``ndcg@10`` (the blend's), ``best_single`` (the best candidate's NDCG@10), ``gain``
        (relative) and ``kept`` (it won). With folds, every NDCG@10 here is over all folds.
    """

    model: str
    params: dict[str, Any]
    table: list[dict[str, Any]]
    trials: list[dict[str, Any]] = field(default_factory=list)
    recency: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    budget_s: float = 0.0
    budget_exhausted: bool = False
    skipped: dict[str, str] = field(default_factory=dict)
    blend: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "params": self.params,
            "table": self.table,
            "recency": self.recency,
            "validation": self.validation,
            "seconds": round(self.seconds, 2),
            "budget_s": self.budget_s,
            "budget_exhausted": self.budget_exhausted,
            "skipped": self.skipped,
            "blend": self.blend,
            "trials": len(self.trials),
        }


def validation_split(
    interactions: pd.DataFrame, min_positives: int = 5, *, seed: int | None = None
) -> TopNSplit:
    """Protocol P1 on ``interactions`` (last 20 % per customer held out), weights kept; ties in
    time broken by a seeded hash of the pair, not by item id (``split_p1``'s ``ties``).

    With ``seed``, the fifth held out is drawn at random (seeded) instead of being the latest:
    the further folds of a blend chosen where time says nothing (module docs, **Folds**). The
    rows kept keep their times.

    Raises
    ------
    DataError
        No customer has ``min_positives`` interactions (nothing to validate on).
    """
    source = (
        interactions if seed is None else interactions.drop(columns="timestamp", errors="ignore")
    )
    try:
        val = split_p1(
            source,
            min_rating=None,
            min_positives=min_positives,
            ties="hash",
            random_state=0 if seed is None else seed,
        )
    except DataError as exc:
        raise DataError(
            f"not enough data to cut a validation split: no customer has {min_positives} or "
            "more interactions"
        ) from exc
    if val.test.empty:
        raise DataError("not enough data to cut a validation split")
    # per pair: the weights summed and, where the split did not see the times, the first time
    restore: dict[str, Any] = {}
    if "weight" in interactions.columns:
        restore["weight"] = (interactions["weight"].to_numpy(dtype=float), "sum")
    if seed is not None and "timestamp" in interactions.columns:
        restore["timestamp"] = (interactions["timestamp"].array, "min")
    if restore:
        frame = interactions[["user_id", "item_id"]].astype(str)
        frame = frame.assign(**{name: values for name, (values, _) in restore.items()})
        by_pair = frame.groupby(["user_id", "item_id"], sort=False, as_index=False).agg(
            {name: how for name, (_, how) in restore.items()}
        )
        train = val.train.drop(columns=list(restore)).merge(by_pair, on=["user_id", "item_id"])
        train = train[["user_id", "item_id", "weight", "timestamp"]]
        val = TopNSplit(train=train, test=val.test)
    # customers too short to validate on still teach the models about items
    kept = set(val.train["user_id"].unique())
    short = interactions[~interactions["user_id"].astype(str).isin(kept)]
    if len(short):
        extra = pd.DataFrame(
            {
                "user_id": short["user_id"].astype(str).to_numpy(),
                "item_id": short["item_id"].astype(str).to_numpy(),
                "weight": (
                    short["weight"].to_numpy(dtype=float) if "weight" in short.columns else 1.0
                ),
                "timestamp": (short["timestamp"].array if "timestamp" in short.columns else pd.NaT),
            }
        )
        val = TopNSplit(train=pd.concat([val.train, extra], ignore_index=True), test=val.test)
    return val


class _Scorer:
    """Scores fitted models on the validation customers (per-customer NDCG@10 kept)."""

    def __init__(self, val: TopNSplit) -> None:
        grouped = val.test.groupby("user_id", sort=True)["item_id"].agg(set)
        self.users = grouped.index.to_numpy(dtype=str)
        self.relevant = list(grouped.to_numpy())
        self.n_relevant = np.array([len(r) for r in self.relevant])

    def __call__(self, model: Recommender) -> tuple[dict[str, Any], np.ndarray]:
        # at most about 20 million scores at once (a blend holds several such blocks)
        batch = max(1, min(2000, 20_000_000 // max(1, len(model.item_ids_))))
        _, rec_ids, _ = model.recommend_batch(self.users, n=20, batch_size=batch)
        hits = np.array(
            [[i in rel for i in row] for row, rel in zip(rec_ids, self.relevant, strict=True)]
        )
        per_user = ndcg_at_k(hits, self.n_relevant, 10)
        rec_idx = model._item_index.get_indexer(rec_ids.ravel()).reshape(rec_ids.shape)
        row = {
            "ndcg@10": float(per_user.mean()),
            "recall@20": float(recall_at_k(hits, self.n_relevant, 20).mean()),
            "coverage": catalogue_coverage(rec_idx[:, :10], len(model.item_ids_)),
            "novelty": novelty(rec_idx[:, :10], model.item_popularity_, len(model.user_ids_)),
        }
        return row, per_user


def _has_time_order(frame: pd.DataFrame) -> bool:
    ts = frame.get("timestamp")
    if ts is None or ts.isna().all():
        return False
    spread = frame.assign(_t=ts).groupby("user_id")["_t"].nunique()
    return bool((spread > 1).any())


def paired_t(diff: np.ndarray) -> float:
    """Paired t-statistic of per-customer differences (0 when they are all equal)."""
    diff = np.asarray(diff, dtype=float)
    if diff.size < 2:
        return 0.0
    sd = diff.std(ddof=1)
    if sd == 0:
        return 0.0 if diff.mean() == 0 else math.copysign(math.inf, diff.mean())
    return float(diff.mean() / (sd / math.sqrt(diff.size)))


class _Candidate:
    def __init__(self, name: str, space: SearchSpace, params: dict[str, Any] | None) -> None:
        self.name = name
        self.space = space
        self.params = dict(space.start if params is None else params)
        self.default_params = dict(self.params)
        self.model: Recommender | None = None
        self.row: dict[str, Any] | None = None
        self.per_user: np.ndarray | None = None
        self.default_ndcg: float | None = None
        self.fit_s = 0.0  # the fit of the model kept (its best settings)
        #: every fit and every scoring of this candidate, timed (the budget's estimates)
        self.fit_times: list[float] = []
        self.score_times: list[float] = []
        self.trials = 0
        #: the model, its row and per-customer NDCG@10 on each validation fold (the time split
        #: first), and its row averaged over them (module docs, **Folds**)
        self.fold_models: list[Recommender | None] = []
        self.fold_rows: list[dict[str, Any] | None] = []
        self.fold_per_user: list[np.ndarray | None] = []
        self.folds_row: dict[str, Any] = {}
        blank = make_model(name)
        self.scoring = set(getattr(blank, "scoring_params", ()))
        #: the model's own defaults of its scoring parameters: a fitted model whose scoring
        #: parameters are set for a trial is set back to these plus ``params``, so that a value
        #: tried and rejected does not stay on the model (and in every later trial's scores)
        self.scoring_defaults = {k: v for k, v in blank.get_params().items() if k in self.scoring}

    def scoring_state(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every scoring parameter's value under ``params`` (the model's default elsewhere)."""
        return {**self.scoring_defaults, **{k: v for k, v in params.items() if k in self.scoring}}

    @property
    def ndcg(self) -> float:
        return -1.0 if self.row is None else self.row["ndcg@10"]

    @property
    def score_cost(self) -> float:
        """Estimated seconds of one scoring: the median of those measured (each scores the same
        customers on the same catalogue; one slow scoring on a busy machine does not count
        more than once); 0 before any."""
        return _median(self.score_times)

    def trial_cost(self, refit: bool) -> float:
        """Estimated seconds of one trial: the slowest fit measured (a step may fit a larger
        model than any before) when the trial refits, plus :attr:`score_cost`."""
        return (max(self.fit_times, default=0.0) if refit else 0.0) + self.score_cost


class _KeptScores:
    """A fitted candidate as a part of the greedy step's blends: its scores of the validation
    customers are computed by the first blend scoring that needs them and kept (a copy, batch by
    batch) while ``room`` (bytes, shared by every part) allows, so that later blends with it
    only add them up. :attr:`ready` once a whole scoring found or kept every batch."""

    def __init__(self, model: Recommender | None, room: list[int]) -> None:
        assert model is not None
        self.model = model
        self.room = room
        self.batches: dict[bytes, np.ndarray] = {}
        self.ready = False
        self._missed = False

    def _score_users(self, rows: np.ndarray, X: Any, ages: Any) -> np.ndarray:
        key = np.asarray(rows, dtype=np.int64).tobytes()
        found = self.batches.get(key)
        if found is not None:
            return found
        S = np.array(self.model._score_users(rows, X, ages), dtype=np.float64)
        if S.nbytes <= self.room[0]:
            self.room[0] -= S.nbytes
            self.batches[key] = S
        else:
            self._missed = True
        return S

    def scored(self) -> None:
        """After a blend scoring with this part."""
        self.ready = not self._missed
        self._missed = False


def _median(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else 0.0


def _mean_row(rows: Sequence[Any], per_users: Sequence[Any]) -> dict[str, Any]:
    """One scoring's row over several folds: NDCG@10 over every fold's customers (each fold
    validates the same customers), the other figures averaged."""
    if len(rows) == 1:
        return dict(rows[0])
    row = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    row["ndcg@10"] = float(np.concatenate(per_users).mean())
    return row


def _figures(rows: Sequence[Any], mean: dict[str, Any]) -> dict[str, Any]:
    """A table row's figures: the time split's (the first fold: what the search tuned on and
    the defaults were scored on); with further folds, also ``folds_ndcg@10``, NDCG@10 over all
    of them (``mean``: what the rows are ranked by)."""
    out = {k: rows[0][k] for k in ("ndcg@10", "recall@20", "coverage", "novelty")}
    if len(rows) > 1:
        out["folds_ndcg@10"] = mean["ndcg@10"]
    return out


def _fold_count(blend_steps: int, learnable: int, cands: Sequence[_Candidate]) -> tuple[int, str]:
    """How many validation folds the blend is chosen on where time says nothing, and why."""
    if not blend_steps or BLEND_FOLDS < 2:
        return 1, "the time split only: no blend"
    dense = sum(c.name in DENSE for c in cands) * (BLEND_FOLDS - 1) * learnable**2 * 8
    if dense > FOLD_MEMORY:
        return 1, (
            f"the time split only: further folds' item x item matrices would take "
            f"{dense / 2**30:.1f} GiB, more than {FOLD_MEMORY / 2**30:g}"
        )
    return BLEND_FOLDS, (
        f"{BLEND_FOLDS} folds: the time split and {BLEND_FOLDS - 1} random ones, as time says "
        "nothing of what comes next"
    )


@shared_preparation()  # every candidate is fitted on the same validation split
def select_model(
    interactions: pd.DataFrame,
    candidates: Sequence[str],
    *,
    items: pd.DataFrame | None = None,
    budget_s: float = 120.0,
    extras: bool = True,
    spaces: dict[str, SearchSpace] | None = None,
    progress: Progress | None = None,
    blend: bool = True,
) -> Selection:
    """Tune each candidate on a validation split of ``interactions`` and keep the best.

    Parameters
    ----------
    interactions : pandas.DataFrame
        Training interactions only (``user_id``, ``item_id``, ``weight``, ``timestamp``); the
        validation split is cut from them (see the module docs). Rows of weight 0 (met, not
        liked) play no part: no model learns from them and no one wants them found.
    candidates : sequence of str
        Registered model names.
    items : pandas.DataFrame, optional
        Item metadata given to ``fit``.
    budget_s : float
        Seconds the whole choice may take, counted from its start; every candidate's defaults
        are scored even past it (0: defaults only). See **Budget** in the module docs.
    extras : bool
        Also search popularity damping and, where the data carry a recency signal, recency
        weighting (our product's choice); False tunes each model's own parameters only (peers).
    spaces : dict, optional
        Search spaces by name (default :data:`SEARCH_SPACES`; unknown names are only scored).
    progress : callable, optional
        Called with ``(done, total, message)`` after every step.
    blend : bool
        Also blend the best candidates: the two best, then greedy additions (see the module
        docs; needs two).

    Returns
    -------
    Selection

    Raises
    ------
    DataError
        No candidate, or too little data for a validation split.
    """
    if not candidates:
        raise DataError("no candidate model to choose from", field="candidates")
    for name in candidates:
        make_model(name)  # unknown names fail here, before any work
    start_time = _clock()
    deadline = start_time + max(0.0, float(budget_s))
    spaces = SEARCH_SPACES if spaces is None else spaces
    if "weight" in interactions.columns:
        # bad weights (negative, missing) stay in, for the fits to refuse with their row
        met_only = pd.to_numeric(interactions["weight"], errors="coerce").to_numpy() == 0
        if met_only.any():
            interactions = interactions[~met_only]
    val = validation_split(interactions)
    score = _Scorer(val)
    timed = _has_time_order(val.train)
    l2_scale = gram_scale(val.train)
    cands = [_Candidate(n, _space_of(n, spaces, l2_scale), None) for n in dict.fromkeys(candidates)]
    recency_grid = RECENCY_GRID if extras and timed else ()
    n_item_item = sum(c.name in ITEM_ITEM for c in cands)
    total = len(cands) + (1 if extras and timed and n_item_item else 0)

    def planned(c: _Candidate) -> int:
        n = sum(len(v) - 1 for _, v in c.space.grid)
        if extras and c.name in ITEM_ITEM:
            n += sum(len(v) - 1 for _, v in c.space.extras + recency_grid)
        return n

    for c in cands:
        total += planned(c)
    blend_steps = len(BLEND_WEIGHTS) if blend and len(cands) >= 2 else 0
    total += blend_steps
    done = 0
    trials: list[dict[str, Any]] = []
    exhausted = False

    def step(message: str, n: int = 1) -> None:
        nonlocal done
        done = min(total, done + n)
        if progress is not None:
            progress(done, total, message)

    def timed_score(
        c: _Candidate, model: Recommender, scorer: _Scorer | None = None
    ) -> tuple[dict[str, Any], np.ndarray]:
        t0 = _clock()
        try:
            return (score if scorer is None else scorer)(model)
        finally:
            c.score_times.append(_clock() - t0)

    def timed_fit(c: _Candidate, params: dict[str, Any], train: pd.DataFrame) -> Recommender:
        t0 = _clock()
        try:
            return make_model(c.name, **params).fit(train, items)
        finally:
            c.fit_times.append(_clock() - t0)

    def evaluate(c: _Candidate, params: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray]:
        structural = {k: v for k, v in params.items() if k not in c.scoring}
        current = {k: v for k, v in c.params.items() if k not in c.scoring}
        if c.model is None or structural != current:
            model = timed_fit(c, params, val.train)
            fit_s = c.fit_times[-1]
        else:
            model, fit_s = c.model, c.fit_s
            model.set_params(**{**params, **c.scoring_state(params)})
        row, per_user = timed_score(c, model)
        c.trials += 1
        trials.append({"model": c.name, "params": dict(params), **row})
        if c.row is None or row["ndcg@10"] > c.row["ndcg@10"]:
            c.model, c.fit_s, c.params = model, fit_s, dict(params)
            c.row, c.per_user = row, per_user
        elif c.model is not None:
            c.model.set_params(**c.scoring_state(c.params))  # back to the best ones
        return row, per_user

    # 1. every candidate with its starting parameters (one that cannot be fitted is left out)
    learnable = int((val.train.groupby("item_id")["user_id"].nunique() >= 2).sum())
    skipped: dict[str, str] = {}
    for c in list(cands):
        try:
            if c.name in DENSE and learnable > DENSE_ITEM_LIMIT:
                raise DataError(
                    f"{learnable:,} items seen twice or more: more than the {DENSE_ITEM_LIMIT:,} "
                    "its dense item x item matrix is allowed"
                )
            evaluate(c, c.params)
        except (DataError, MemoryError) as exc:
            skipped[c.name] = str(exc) or type(exc).__name__
            cands.remove(c)
            total -= planned(c)
            step(f"{c.name}: left out ({skipped[c.name]})")
            continue
        c.default_ndcg = c.ndcg
        step(f"{c.name}: NDCG@10 {c.ndcg:.4f} with its defaults")
    if not cands:
        reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items())
        raise DataError(f"no candidate model could be fitted ({reasons})", field="candidates")
    n_item_item = sum(c.name in ITEM_ITEM for c in cands)
    if blend_steps and len(cands) < 2:
        total -= blend_steps
        blend_steps = 0
    greedy_steps = _greedy_steps(len(cands)) if blend_steps else 0
    total += greedy_steps

    folds = 1  # validation splits the blend is chosen on (module docs, **Folds**)
    folds_note = "the time split only: the recency signal was not tested"

    def reserve() -> float:
        """Seconds set aside for the blend: each of its scorings scores two fitted models on
        every fold, estimated as the two slowest candidates' scorings added up; with further
        folds, every candidate's fit and scoring on each of them."""
        two_slowest = sorted((c.score_cost for c in cands), reverse=True)[:2]
        on_folds = sum(c.trial_cost(refit=True) for c in cands) * (folds - 1)
        return blend_steps * folds * sum(two_slowest) + on_folds

    limit = deadline  # when the blend's reserve began as the last trial started
    late = 0.0  # seconds a trial of the search ran into the reserve: the blend gets them back

    def fits(cost: float) -> bool:
        """Whether a trial estimated at ``cost`` seconds ends before the blend's reserve."""
        nonlocal limit
        limit = deadline - reserve()
        return _clock() + cost <= limit

    def ended() -> None:
        """After a trial of the search: how far it ran into the reserve."""
        nonlocal late
        late = max(late, _clock() - limit)

    # 2. is there a recency signal in the timestamps?
    recency: dict[str, Any] = {"signal": False, "gain": 0.0, "t": 0.0, "rule": _RULE}
    probe = max((c for c in cands if c.name in ITEM_ITEM), key=lambda c: c.ndcg, default=None)
    if not timed:
        recency["reason"] = "no time order within customers"
        folds, folds_note = _fold_count(blend_steps, learnable, cands)
    elif probe is None:
        recency["reason"] = "no item-item candidate to test it with"
    elif extras and not fits(2 * probe.score_cost):  # scored with recency, maybe again without
        exhausted = True
        recency["reason"] = "not tested: no time left in the budget"
        recency_grid = ()
        total -= sum(len(v) - 1 for _, v in RECENCY_GRID) * n_item_item
        step("recency signal: not tested (no time left)")
    elif extras:
        base = probe.per_user
        row, per_user = evaluate(probe, {**probe.params, **RECENCY_PROBE})
        t = paired_t(per_user - base)
        gain = float(per_user.mean() / base.mean() - 1) if base.mean() > 0 else 0.0
        recency.update(signal=bool(t > RECENCY_T), gain=round(gain, 4), t=round(t, 2))
        recency["model"] = probe.name
        if recency["signal"]:
            folds_note = "the time split only: the timestamps tell what comes next"
        else:
            folds, folds_note = _fold_count(blend_steps, learnable, cands)
            probe.params = {**probe.params, "recency_boost": 0.0}
            probe.model.set_params(**probe.scoring_state(probe.params))  # type: ignore[union-attr]
            probe.row, probe.per_user = timed_score(probe, probe.model)  # type: ignore[arg-type]
        ended()
        step(f"recency signal: {'yes' if recency['signal'] else 'no'} (t = {t:.1f})")
        if not recency["signal"]:
            recency_grid = ()
            total -= sum(len(v) - 1 for _, v in RECENCY_GRID) * n_item_item
    else:
        recency["reason"] = "not searched (peers tune their own parameters only)"

    total += (folds - 1) * len(cands)  # each candidate fitted and scored on each further fold

    # 3. coordinate search, most promising candidate first
    for c in sorted(cands, key=lambda c: -c.ndcg):
        coords = list(c.space.grid)
        if extras and c.name in ITEM_ITEM:
            coords += list(c.space.extras) + list(recency_grid)
        for name, values in coords:
            values = tuple(values)
            current = c.params.get(name, c.model.get_params().get(name))  # type: ignore[union-attr]
            steps = len(values) - 1
            if current not in values:
                step(f"{c.name}: {name} kept", steps)
                continue
            pos = values.index(current)
            tried = {pos}
            out_of_time = False
            # look both ways, then walk towards the better side while it improves
            frontier = [p for p in (pos - 1, pos + 1) if 0 <= p < len(values)]
            while frontier:
                nxt = frontier.pop(0)
                if nxt in tried:
                    continue
                if not fits(c.trial_cost(refit=name not in c.scoring)):
                    exhausted = out_of_time = True
                    break
                tried.add(nxt)
                before = c.ndcg
                try:
                    row, _ = evaluate(c, {**c.params, name: values[nxt]})
                except (DataError, MemoryError) as exc:
                    c.model.set_params(**c.scoring_state(c.params))  # type: ignore[union-attr]
                    ended()
                    step(f"{c.name}: {name}={values[nxt]} failed ({exc})")
                    continue
                ended()
                step(f"{c.name}: {name}={values[nxt]} NDCG@10 {row['ndcg@10']:.4f}")
                if row["ndcg@10"] > before:
                    direction = 1 if nxt > pos else -1
                    pos = nxt
                    ahead = pos + direction
                    frontier = [ahead] if 0 <= ahead < len(values) else []
            kept = c.params.get(name, current)
            note = " (no time left)" if out_of_time else ""
            step(f"{c.name}: {name}={kept}{note}", max(0, steps - (len(tried) - 1)))

    # 4. where time says nothing of what comes next, every candidate with its tuned settings
    #    is fitted and scored on the further folds too, and the blend is chosen on the mean
    #    over all of them (module docs, **Folds**)
    # the search never eats the reserve: when its last trial ran into it, the blend gets that
    # time back (the choice then ends late by that trial's excess over its estimate)
    blend_deadline = deadline + late
    scorers = [score]
    for c in cands:
        c.fold_models, c.fold_rows, c.fold_per_user = [c.model], [c.row], [c.per_user]
    if folds > 1:
        splits = []  # held while their fits share their preparation
        fold_steps = 0
        two_slowest = sum(sorted((c.score_cost for c in cands), reverse=True)[:2])
        try:
            for k in range(1, folds):
                splits.append(validation_split(interactions, seed=k))
                scorers.append(_Scorer(splits[-1]))
                for c in sorted(cands, key=lambda c: -c.ndcg):
                    after = blend_steps * folds * two_slowest
                    if _clock() + c.trial_cost(refit=True) + after > blend_deadline:
                        raise TimeoutError("no time left in the budget")
                    model = timed_fit(c, c.params, splits[-1].train)
                    row, per_user = timed_score(c, model, scorers[-1])
                    c.fold_models.append(model)
                    c.fold_rows.append(row)
                    c.fold_per_user.append(per_user)
                    fold_steps += 1
                    step(f"{c.name}: fold {k + 1} of {folds}, NDCG@10 {row['ndcg@10']:.4f}")
        except (DataError, MemoryError, TimeoutError) as exc:
            exhausted = exhausted or isinstance(exc, TimeoutError)
            folds_note = f"the time split only: further folds failed ({exc})"
            step(f"folds: {folds_note}", max(0, (folds - 1) * len(cands) - fold_steps))
            folds, scorers = 1, [score]
            for c in cands:
                del c.fold_models[1:], c.fold_rows[1:], c.fold_per_user[1:]
    for c in cands:
        c.folds_row = _mean_row(c.fold_rows, c.fold_per_user)

    table = []
    for c in sorted(cands, key=lambda c: -c.folds_row["ndcg@10"]):
        assert c.row is not None
        table.append(
            {
                "model": c.name,
                "params": {k: _plain(v) for k, v in c.params.items()},
                **_figures(c.fold_rows, c.folds_row),
                "default_ndcg@10": c.default_ndcg,
                "trials": c.trials,
                "fit_s": round(c.fit_s, 3),
            }
        )

    # 4. the blend, scored with the models fitted above: the two best candidates, then parts
    #    added one at a time while they raise it by more than the margin (greedy selection)
    blended: dict[str, Any] = {"tried": False}
    if not blend:
        blended["reason"] = "blending off"
    elif len(cands) < 2:
        blended["reason"] = "fewer than two candidates"
    else:
        ranked = sorted(cands, key=lambda c: -c.folds_row["ndcg@10"])
        first, second = ranked[:2]
        blend_times: list[float] = []
        #: what each blend scoring took beyond the scorings of the parts it scored afresh
        overheads: list[float] = []
        #: the greedy step's parts on each fold, their validation scores kept after the first
        kept_scores: dict[tuple[str, int], _KeptScores] = {}
        room = [BLEND_MEMORY]

        def ready(c: _Candidate) -> bool:
            kept = [kept_scores.get((c.name, k)) for k in range(folds)]
            return all(part is not None and part.ready for part in kept)

        def score_blend(
            parts: list[_Candidate], weights: list[float], keep: bool = False
        ) -> dict[str, Any]:
            afresh = folds * sum(c.score_cost for c in parts if not (keep and ready(c)))
            rows, per_users = [], []
            t0 = _clock()
            for k, scorer in enumerate(scorers):
                models = [c.fold_models[k] for c in parts]
                hybrid = Hybrid.of_fitted(models, tuple(weights), scaling=BLEND_SCALING)
                if keep:
                    for c in parts:
                        kept_scores.setdefault((c.name, k), _KeptScores(c.fold_models[k], room))
                    hybrid.models_ = [kept_scores[(c.name, k)] for c in parts]
                row, per_user = scorer(hybrid)
                rows.append(row)
                per_users.append(per_user)
                if keep:
                    for c in parts:
                        kept_scores[(c.name, k)].scored()
            blend_times.append(_clock() - t0)
            overheads.append(max(0.0, blend_times[-1] - afresh))
            row = _mean_row(rows, per_users)
            params = _blend_params(parts, weights)
            trials.append({"model": hybrid.name, "params": params, **row})
            return {**row, "params": params, "figures": _figures(rows, row)}

        def blend_cost(parts: list[_Candidate]) -> float:
            """A scoring of the greedy step: the median scorings of its parts whose scores are
            not kept yet, plus the median of what blend scorings took beyond such parts."""
            return folds * sum(c.score_cost for c in parts if not ready(c)) + _median(overheads)

        def label(parts: list[_Candidate], weights: list[float]) -> str:
            return "blend " + " + ".join(
                c.name if j == 0 else f"{w:g} x {c.name}"
                for j, (c, w) in enumerate(zip(parts, weights, strict=True))
            )

        cost = folds * (first.score_cost + second.score_cost)  # then the median blend scoring
        best: tuple[float, dict[str, Any]] | None = None
        scored: list[float] = []
        for j, weight in enumerate(BLEND_WEIGHTS):
            if _clock() + cost > blend_deadline:
                exhausted = True
                step("blend: no time left", len(BLEND_WEIGHTS) - j)
                break
            row = score_blend([first, second], [1.0, weight])
            cost = _median(blend_times)
            scored.append(weight)
            step(f"{label([first, second], [1.0, weight])}: NDCG@10 {row['ndcg@10']:.4f}")
            if best is None or row["ndcg@10"] > best[1]["ndcg@10"]:
                best = (weight, row)
        if best is None:
            blended["reason"] = "not scored: no time left in the budget"
            step("blend: no time left", greedy_steps)
        else:
            weight, row = best
            parts, weights = [first, second], [1.0, weight]
            additions, rewalks, stopped, row = _greedy(
                ranked,
                parts,
                weights,
                row,
                lambda parts_, weights_: score_blend(parts_, weights_, keep=True),
                fits=lambda parts_: _clock() + blend_cost(parts_) <= blend_deadline,
                step=step,
                label=label,
            )
            exhausted = exhausted or stopped == "no time left"
            used = len(blend_times) - len(scored)  # the greedy step's scorings
            step(f"blend: {stopped}", max(0, greedy_steps - used))  # those it did not need
            single = first.folds_row["ndcg@10"]
            kept = row["ndcg@10"] > single
            blended = {
                "tried": True,
                "components": [c.name for c in parts],
                "part_weights": list(weights),
                "scaling": BLEND_SCALING,
                "weights": scored,
                "best_weight": weight,
                "two_parts_ndcg@10": best[1]["ndcg@10"],
                "additions": additions,
                "rewalks": rewalks,
                "stopped": stopped,
                "ndcg@10": row["ndcg@10"],
                "best_single": single,
                "gain": round(row["ndcg@10"] / single - 1, 4) if single > 0 else 0.0,
                "kept": kept,
            }
            table.append(
                {
                    "model": Hybrid.name,
                    "params": row["params"],
                    **row["figures"],
                    # what the blend is measured against: the best single candidate
                    "default_ndcg@10": first.row["ndcg@10"],  # type: ignore[index]
                    "trials": len(blend_times),
                    "fit_s": round(sum(c.fit_s for c in parts), 3),
                }
            )
            # best first; on a tie the single candidate stays ahead (the sort is stable)
            table.sort(key=lambda r: -r.get("folds_ndcg@10", r["ndcg@10"]))
    if progress is not None:
        progress(total, total, f"chose {table[0]['model']}")
    return Selection(
        model=table[0]["model"],
        params=table[0]["params"],
        table=table,
        trials=trials,
        recency=recency,
        validation={
            "customers": int(len(score.users)),
            "fit_interactions": int(len(val.train)),
            "held_out": int(len(val.test)),
            "l2_scale": round(l2_scale, 4),
            "folds": folds,
            "folds_note": folds_note,
        },
        seconds=_clock() - start_time,
        budget_s=float(budget_s),
        budget_exhausted=exhausted,
        skipped=skipped,
        blend=blended,
    )


def _space_of(name: str, spaces: dict[str, SearchSpace], l2_scale: float) -> SearchSpace:
    space = spaces.get(name, SearchSpace({}))
    return scaled_space(space, l2_scale) if name in L2_SCALED else space


def _blend_params(parts: Sequence[_Candidate], weights: Sequence[float]) -> dict[str, Any]:
    """The ``Hybrid`` parameters of the blend of tuned candidates (JSON-ready)."""
    return {
        "components": [c.name for c in parts],
        "weights": [float(w) for w in weights],
        "params": [{k: _plain(v) for k, v in c.params.items()} for c in parts],
        "scaling": BLEND_SCALING,
    }


def _rewalk_grid() -> list[float]:
    """The weights a part's weight is walked over after an addition (both grids)."""
    return sorted(set(BLEND_WEIGHTS) | set(BLEND_ADD_WEIGHTS))


def _greedy_steps(n_candidates: int) -> int:
    """Most scorings the greedy step may take with ``n_candidates`` (progress total)."""
    n = 0
    for size in range(2, min(BLEND_MAX_PARTS, n_candidates)):  # parts before an addition
        n += (n_candidates - size) * len(BLEND_ADD_WEIGHTS)
        if BLEND_REWALK:
            n += size * (len(_rewalk_grid()) - 1)  # every part but the first, after it
    return n


def _greedy(
    ranked: Sequence[Any],
    parts: list[Any],
    weights: list[float],
    current: dict[str, Any],
    score_blend: Callable[[list[Any], list[float]], dict[str, Any]],
    fits: Callable[[list[Any]], bool],
    step: Callable[[str], None],
    label: Callable[[list[Any], list[float]], str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str, dict[str, Any]]:
    """Greedy forward selection of the blend's parts (see the module docs, **Blend**).

    ``parts`` and ``weights`` (the two-part blend, scored ``current``) grow in place: each round
    scores every candidate of ``ranked`` not yet in, at each of :data:`BLEND_ADD_WEIGHTS`, and
    adds the best when its NDCG@10 beats ``current``'s by more than :data:`BLEND_MARGIN`
    (relative); with :data:`BLEND_REWALK`, every part's weight but the first's is then walked
    over the grid once (towards the better neighbour while NDCG@10 improves). A scoring starts
    only when ``fits(parts)``. Returns the rounds (``additions``), the weights the walks moved
    (``rewalks``), why it stopped and the row of the blend kept."""
    additions: list[dict[str, Any]] = []
    rewalks: list[dict[str, Any]] = []
    while True:
        if len(parts) >= BLEND_MAX_PARTS:
            return additions, rewalks, f"{BLEND_MAX_PARTS} parts, the most", current
        rest = [c for c in ranked if all(c is not p for p in parts)]
        if not rest:
            return additions, rewalks, "no candidate left", current
        best: tuple[Any, float, dict[str, Any]] | None = None
        out = False
        scored = 0
        for c in rest:
            for w in BLEND_ADD_WEIGHTS:
                if not fits([*parts, c]):
                    out = True
                    break
                row = score_blend([*parts, c], [*weights, w])
                scored += 1
                step(f"{label([*parts, c], [*weights, w])}: NDCG@10 {row['ndcg@10']:.4f}")
                if best is None or row["ndcg@10"] > best[2]["ndcg@10"]:
                    best = (c, w, row)
            if out:
                break
        added = best is not None and best[2]["ndcg@10"] > current["ndcg@10"] * (1 + BLEND_MARGIN)
        if best is not None:
            additions.append(
                {
                    "model": best[0].name,
                    "weight": best[1],
                    "ndcg@10": best[2]["ndcg@10"],
                    "before": current["ndcg@10"],
                    "scored": scored,
                    "kept": added,
                }
            )
        if best is not None and added:
            parts.append(best[0])
            weights.append(best[1])
            current = best[2]
            if BLEND_REWALK and not out:
                current, out, moves = _rewalk(
                    parts, weights, current, score_blend, fits, step, label
                )
                rewalks += moves
        if out:
            return additions, rewalks, "no time left", current
        if not added:
            return additions, rewalks, "no addition above the margin", current


def _rewalk(
    parts: list[Any],
    weights: list[float],
    current: dict[str, Any],
    score_blend: Callable[[list[Any], list[float]], dict[str, Any]],
    fits: Callable[[list[Any]], bool],
    step: Callable[[str], None],
    label: Callable[[list[Any], list[float]], str],
) -> tuple[dict[str, Any], bool, list[dict[str, Any]]]:
    """One coordinate pass over the weights of every part but the first (whose weight is 1):
    from the current weight, both neighbours on :func:`_rewalk_grid`, then on towards the
    better one while NDCG@10 improves. Returns the row kept, whether time ran out and the
    weights moved."""
    grid = _rewalk_grid()
    moves: list[dict[str, Any]] = []
    for j in range(1, len(parts)):
        if weights[j] not in grid:
            continue
        pos = grid.index(weights[j])
        tried = {pos}
        frontier = [p for p in (pos - 1, pos + 1) if 0 <= p < len(grid)]
        while frontier:
            nxt = frontier.pop(0)
            if nxt in tried:
                continue
            if not fits(parts):
                return current, True, moves
            tried.add(nxt)
            trial = list(weights)
            trial[j] = grid[nxt]
            row = score_blend(parts, trial)
            step(f"{label(parts, trial)}: NDCG@10 {row['ndcg@10']:.4f}")
            if row["ndcg@10"] > current["ndcg@10"]:
                moves.append(
                    {"model": parts[j].name, "from": weights[j], "to": grid[nxt]}
                    | {"ndcg@10": row["ndcg@10"]}
                )
                weights[j] = grid[nxt]
                current = row
                direction = 1 if nxt > pos else -1
                pos = nxt
                ahead = pos + direction
                frontier = [ahead] if 0 <= ahead < len(grid) else []
    return current, False, moves


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return list(value) if isinstance(value, tuple) else value


_RULE = (
    f"recency weighting is searched only when scoring the best item-item candidate with it "
    f"(boost {RECENCY_PROBE['recency_boost']:g}, scale {RECENCY_PROBE['recency_scale']:g}) beats "
    f"scoring without it by a paired t-statistic over validation customers above {RECENCY_T:g}"
)
