"""The model choice's time budget (``evaluation.select_model``), on a fake clock.

The candidates here take a set number of fake seconds to fit and to score (the clock the budget
reads is replaced), so where the search stops, whether the blend is scored and how long the
choice takes are exact, and every bound is checked against the events the fake models logged.
"""

from __future__ import annotations

import numpy as np
import pytest

import omotenashi.evaluation._tuning as tuning
from omotenashi.evaluation import SearchSpace, select_model
from omotenashi.recommend import MODELS, Recommender

from .test_tuning import ring_walks


class FakeClock:
    """Seconds that pass only when a fake model fits or scores."""

    def __init__(self) -> None:
        self.now = 0.0
        #: (start, end, model name, "fit" or "score")
        self.events: list[tuple[float, float, str, str]] = []
        #: extra seconds of a model's n-th scoring (1-based): a busy moment
        self.spikes: dict[tuple[str, int], float] = {}

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float, name: str, kind: str) -> None:
        if kind == "score":
            nth = 1 + sum(e[2:] == (name, kind) for e in self.events)
            seconds += self.spikes.get((name, nth), 0.0)
        self.events.append((self.now, self.now + seconds, name, kind))
        self.now += seconds


CLOCK = FakeClock()


class Timed(Recommender):
    """Scores each item by how many of the customer's items lie within 3 steps of it on the ring
    of :func:`ring_walks`, for the customers whose number ends in ``knob`` or less (the others
    get no scores): validation NDCG@10 rises with ``knob``. A fit takes ``fit_s · growth**knob``
    fake seconds, a scoring ``score_s`` per batch of customers (one batch here)."""

    name = "test_timed"
    exact_reasons = False

    def __init__(
        self, knob: int = 0, fit_s: float = 1.0, growth: float = 1.0, score_s: float = 5.0
    ) -> None:
        self.knob = knob
        self.fit_s = fit_s
        self.growth = growth
        self.score_s = score_s

    def _fit(self, frame, items):
        CLOCK.spend(self.fit_s * self.growth**self.knob, self.name, "fit")
        ring = np.array([int(i[1:]) for i in self.item_ids_])
        steps = (ring[:, None] - ring[None, :]) % 120
        near = np.minimum(steps, 120 - steps) <= 3
        np.fill_diagonal(near, False)
        self.near_ = near.astype(np.float64)

    def _score(self, X, ages):
        return np.asarray((X > 0) @ self.near_, dtype=np.float64)

    def _score_users(self, rows, X, ages):
        CLOCK.spend(self.score_s, self.name, "score")
        S = self._score(X, ages)
        served = np.array([int(u[1:]) % 10 <= self.knob for u in self.user_ids_[rows]])
        S[~served] = 0.0
        return S


class TimedA(Timed):
    name = "test_timed_a"


class TimedB(Timed):
    name = "test_timed_b"


KNOBS = tuple(range(10))


@pytest.fixture()
def timed(monkeypatch):
    global CLOCK
    CLOCK = FakeClock()
    monkeypatch.setattr(tuning, "_clock", CLOCK)
    for cls in (TimedA, TimedB):
        monkeypatch.setitem(MODELS, cls.name, cls)
    return CLOCK


def _spaces(a: dict, b: dict, b_grid: bool = True) -> dict[str, SearchSpace]:
    return {
        "test_timed_a": SearchSpace({"knob": 0, **a}, (("knob", KNOBS),)),
        "test_timed_b": SearchSpace({"knob": 0, **b}, (("knob", KNOBS),) if b_grid else ()),
    }


def _phases(clock: FakeClock, n_candidates: int):
    """The logged events split into the defaults (a fit and a scoring each), the search (each
    step refits: ``knob`` is not a scoring parameter) and the blend (scorings only)."""
    defaults = clock.events[: 2 * n_candidates]
    rest = clock.events[2 * n_candidates :]
    search: list[tuple[float, float, str, str]] = []
    i = 0
    while i < len(rest) and rest[i][3] == "fit":
        search += rest[i : i + 2]
        i += 2
    blend = rest[i:]
    return defaults, search, blend


def _trials(events):
    """(start, end) of each fit-then-score trial."""
    return [(events[k][0], events[k + 1][1]) for k in range(0, len(events), 2)]


def test_the_search_counts_the_scoring_and_leaves_the_blend_its_reserve(timed):
    """Each trial fits in 1 s and scores in 5 s. The blend's six scorings score both parts
    (10 s each): 60 s set aside. A trial estimated at its fit alone (the old bookkeeping) starts
    with 3.4 s left before the reserve and eats it: then one blend weight finds no time."""
    budget = 100.0
    selection = select_model(
        ring_walks(True),
        ["test_timed_a", "test_timed_b"],
        budget_s=budget,
        spaces=_spaces({}, {}),
    )
    defaults, search, blend = _phases(timed, 2)
    assert [e[2:] for e in defaults] == [
        ("test_timed_a", "fit"),
        ("test_timed_a", "score"),
        ("test_timed_b", "fit"),
        ("test_timed_b", "score"),
    ]
    reserve = len(tuning.BLEND_WEIGHTS) * (5.0 + 5.0)
    trials = _trials(search)
    assert trials, "the search ran no trial"
    # every trial of the search ended before the reserve...
    assert max(end for _, end in trials) <= budget - reserve
    # ...and the search stopped only when one more trial (6 s) would not have
    assert max(end for _, end in trials) + 6.0 > budget - reserve
    # the blend was scored at every weight, within the budget
    assert selection.blend["tried"] is True
    assert selection.blend["weights"] == list(tuning.BLEND_WEIGHTS)
    assert len(blend) == 2 * len(tuning.BLEND_WEIGHTS)
    assert selection.seconds == pytest.approx(timed.now)
    assert selection.seconds <= budget
    assert selection.budget_exhausted is True  # the walk was cut short for time


def _growing_fits(budget: float):
    """The choice between A, whose fit triples with each ``knob`` step, and B (1 s scorings)."""
    return select_model(
        ring_walks(True),
        ["test_timed_a", "test_timed_b"],
        budget_s=budget,
        spaces=_spaces({"growth": 3.0, "score_s": 1.0}, {"score_s": 1.0}, b_grid=False),
    )


def test_a_trial_slower_than_its_estimate_overruns_by_itself_only_and_the_blend_is_scored(timed):
    """Candidate A's fit triples with each ``knob`` step (a larger model, like more factors):
    every step is estimated from the slowest fit measured so far, so the step from 2 to 3 is
    estimated at 10 s and takes 28 s, ending 8 s past the time before the blend's reserve.
    No further trial starts, the blend still gets its whole reserve, and the choice ends past
    the budget by no more than that one trial."""
    budget = 50.0
    selection = _growing_fits(budget)
    defaults, search, blend = _phases(timed, 2)
    trials = _trials(search)
    reserve = len(tuning.BLEND_WEIGHTS) * (1.0 + 1.0)
    late = [(s, e) for s, e in trials if e > budget - reserve]
    assert len(late) == 1, trials  # one trial ran late...
    assert late[0] == trials[-1]  # ...and no trial started after it
    longest = max(e - s for s, e in trials)
    assert longest == pytest.approx(28.0)
    # the blend was scored at every weight, from the end of the late trial
    assert selection.blend["weights"] == list(tuning.BLEND_WEIGHTS)
    assert blend[0][0] == pytest.approx(late[0][1])
    assert timed.now == pytest.approx(late[0][1] + reserve)
    assert budget < selection.seconds <= budget + longest


def test_with_no_time_for_a_trial_the_progress_says_so_and_ends_complete(timed):
    """Scoring dominates (1 s to fit, 5 s to score): with 75 s the defaults (12 s) and the
    reserve (60 s) leave 3 s, less than one trial, so no step is taken and the blend is
    scored in full. Every step counted is reported once; the skipped ones say why."""
    messages: list[tuple[int, int, str]] = []
    selection = select_model(
        ring_walks(True),
        ["test_timed_a", "test_timed_b"],
        budget_s=75.0,
        spaces=_spaces({}, {}),
        progress=lambda done, total, message: messages.append((done, total, message)),
    )
    assert all(row["trials"] == 1 for row in selection.table if row["model"] != "hybrid")
    assert selection.blend["weights"] == list(tuning.BLEND_WEIGHTS)
    assert selection.seconds <= 75.0
    skipped = [m for _, _, m in messages if "no time left" in m]
    assert sorted(skipped) == [
        "test_timed_a: knob=0 (no time left)",
        "test_timed_b: knob=0 (no time left)",
    ]
    dones = [d for d, _, _ in messages]
    assert dones == sorted(dones) and all(d <= t for d, t, _ in messages)
    assert messages[-1][0] == messages[-1][1]
    # one message per trial scored (defaults, steps and blend weights)
    assert sum("NDCG@10" in m for _, _, m in messages) == len(selection.trials)


def test_a_step_is_estimated_from_the_slowest_fit_measured_and_not_started_when_it_wont_fit(
    timed,
):
    """As above with 37 s: after the step to ``knob`` 2 (fit 9 s) the clock reads 18 s and 7 s
    are left before the 12 s reserve. The next step is estimated at 9 + 1 s (the slowest fit and
    scoring measured for A), so it is not started; an estimate from an earlier, faster fit (1 or
    3 s) would start it and run 28 s past. The choice ends within its budget."""
    budget = 37.0
    selection = _growing_fits(budget)
    _, search, blend = _phases(timed, 2)
    assert [round(e - s) for s, e in _trials(search)] == [4, 10]  # knob 1, then knob 2
    rows = {row["model"]: row for row in selection.table}
    assert rows["test_timed_a"]["params"]["knob"] == 2
    assert selection.blend["weights"] == list(tuning.BLEND_WEIGHTS)
    assert selection.seconds == pytest.approx(18.0 + 12.0)
    assert selection.seconds <= budget and selection.budget_exhausted is True


def test_one_slow_scoring_does_not_stop_the_search(timed):
    """A busy moment makes one of A's scorings take 31 s instead of 1 s. A scoring is estimated
    from the median of those measured, so the next steps are still estimated at 2 s and the walk
    goes on to the end of its grid; the blend (estimated from the same medians) is scored in
    full and the choice ends within its budget. (Estimated from the slowest scoring, every step
    and the blend's reserve would count 31 s per scoring, and the walk would stop there.)"""
    timed.spikes[("test_timed_a", 4)] = 30.0  # the third step of the search
    budget = 100.0
    selection = select_model(
        ring_walks(True),
        ["test_timed_a", "test_timed_b"],
        budget_s=budget,
        spaces=_spaces({"score_s": 1.0}, {"score_s": 1.0}, b_grid=False),
    )
    _, search, _ = _phases(timed, 2)
    assert [round(e - s) for s, e in _trials(search)] == [2, 2, 32] + [2] * 6
    rows = {row["model"]: row for row in selection.table}
    assert rows["test_timed_a"]["params"]["knob"] == KNOBS[-1]
    assert selection.blend["weights"] == list(tuning.BLEND_WEIGHTS)
    assert selection.seconds <= budget and selection.budget_exhausted is False
