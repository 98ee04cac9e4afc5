"""The blend's greedy step (``evaluation._tuning._greedy``, run by ``select_model``): a third
part is added when it raises the blend's validation NDCG@10 by more than the margin and only
then; every scoring starts only when it fits in the budget; a blend of three parts is fitted,
saved, loaded and served by ``train`` like any choice."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

import omotenashi.evaluation._tuning as tuning
from omotenashi.evaluation import SearchSpace, select_model, validation_split
from omotenashi.recommend import MODELS, Recommender, load_model, make_model

from . import test_tuning_budget as budget_tests
from .test_tuning import ring_walks


# -- a hand-built score situation ---------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    name: str


A, B, C, D = Part("a"), Part("b"), Part("c"), Part("d")


def _run(gains: dict[tuple[str, float], float], base: float = 0.30, **patch):
    """``_greedy`` from the blend a + 0.5 x b (NDCG@10 ``base``): a blend scores ``base`` plus
    the gain of each further (part, weight) in it; every scoring is logged."""
    log: list[tuple[tuple[str, ...], tuple[float, ...]]] = []

    def score_blend(parts, weights):
        log.append((tuple(p.name for p in parts), tuple(weights)))
        extra = sum(
            gains.get((p.name, w), 0.0) for p, w in zip(parts[2:], weights[2:], strict=True)
        )
        return {"ndcg@10": base + extra}

    parts, weights = [A, B], [1.0, 0.5]
    out = tuning._greedy(
        [A, B, C, D],
        parts,
        weights,
        {"ndcg@10": base},
        score_blend,
        fits=patch.get("fits", lambda parts: True),
        step=lambda message: None,
        label=lambda parts, weights: "",
    )
    return parts, weights, log, out


@pytest.fixture()
def no_rewalk(monkeypatch):
    monkeypatch.setattr(tuning, "BLEND_REWALK", False)
    monkeypatch.setattr(tuning, "BLEND_MARGIN", 0.002)
    monkeypatch.setattr(tuning, "BLEND_ADD_WEIGHTS", (0.1, 0.3, 0.5, 1.0))
    monkeypatch.setattr(tuning, "BLEND_MAX_PARTS", 4)


def test_a_part_that_helps_is_added_at_its_best_weight_and_the_next_round_stops(no_rewalk):
    """c at weight 0.3 adds 0.01 (3 %), d nothing: c is added, then d alone is tried again at
    every weight and, adding nothing, is not."""
    parts, weights, log, (additions, rewalks, stopped, row) = _run({("c", 0.3): 0.01})
    assert [p.name for p in parts] == ["a", "b", "c"] and weights == [1.0, 0.5, 0.3]
    assert row["ndcg@10"] == pytest.approx(0.31)
    assert [(a["model"], a["weight"], a["kept"]) for a in additions] == [
        ("c", 0.3, True),
        ("d", 0.1, False),
    ]
    assert additions[0]["scored"] == 8 and additions[1]["scored"] == 4  # c and d, then d
    assert len(log) == 12 and stopped == "no addition above the margin" and rewalks == []
    assert all(names[:2] == ("a", "b") and w[:2] == (1.0, 0.5) for names, w in log)


def test_a_part_that_adds_less_than_the_margin_is_not_added(no_rewalk):
    """d at weight 1 adds 0.0005 to 0.30 (0.17 %, under the 0.2 % margin): the blend stays two
    parts; at 0.001 (0.33 %) it is added."""
    parts, weights, _, (additions, _, stopped, row) = _run({("d", 1.0): 0.0005})
    assert [p.name for p in parts] == ["a", "b"] and weights == [1.0, 0.5]
    assert row["ndcg@10"] == 0.30 and additions[0] == {
        "model": "d",
        "weight": 1.0,
        "ndcg@10": pytest.approx(0.3005),
        "before": 0.30,
        "scored": 8,
        "kept": False,
    }
    assert stopped == "no addition above the margin"
    parts, _, _, _ = _run({("d", 1.0): 0.001})
    assert [p.name for p in parts] == ["a", "b", "d"]


def test_parts_are_added_up_to_the_most_allowed(no_rewalk):
    parts, weights, log, (additions, _, stopped, row) = _run({("c", 0.5): 0.01, ("d", 1.0): 0.01})
    assert [p.name for p in parts] == ["a", "b", "c", "d"] and weights == [1.0, 0.5, 0.5, 1.0]
    assert stopped == "4 parts, the most" and row["ndcg@10"] == pytest.approx(0.32)
    assert len(log) == 8 + 4


def test_the_weights_are_walked_again_after_an_addition(no_rewalk, monkeypatch):
    """With the re-walk, once c is in, b's weight 0.5 is walked: 0.3 and 0.7 are its neighbours
    on the grid; 0.3 scores higher, then 0.2, then 0.1 stops improving."""
    monkeypatch.setattr(tuning, "BLEND_REWALK", True)
    walked = {0.3: 0.002, 0.2: 0.003, 0.1: 0.001}

    def score(parts, weights):
        extra = 0.01 if len(parts) > 2 and parts[2] is C and weights[2] == 0.3 else 0.0
        if len(parts) > 2 and parts[2] is C:
            extra += walked.get(weights[1], 0.0)
        return {"ndcg@10": 0.30 + extra}

    parts, weights = [A, B], [1.0, 0.5]
    additions, rewalks, _, row = tuning._greedy(
        [A, B, C],
        parts,
        weights,
        {"ndcg@10": 0.30},
        score,
        fits=lambda parts: True,
        step=lambda m: None,
        label=lambda p, w: "",
    )
    assert weights == [1.0, 0.2, 0.3] and row["ndcg@10"] == pytest.approx(0.313)
    assert [(m["model"], m["from"], m["to"]) for m in rewalks] == [("b", 0.5, 0.3), ("b", 0.3, 0.2)]
    assert additions[0]["kept"] is True


def test_no_scoring_starts_without_time_for_it(no_rewalk):
    """Time for five scorings: the round stops after them and what was scored still counts."""
    left = [5]

    def fits(parts):
        left[0] -= 1
        return left[0] >= 0

    parts, _, log, (additions, _, stopped, _) = _run({("c", 0.3): 0.01}, fits=fits)
    assert len(log) == 5 and stopped == "no time left"
    assert [p.name for p in parts] == ["a", "b", "c"] and additions[0]["scored"] == 5


# -- small synthetic data where the answer is known ---------------------------------------------
class ThirdSpan(Recommender):
    """Scores items near the customer's items on the ring of :func:`ring_walks`, for the customers
    whose number is ``part`` modulo 3 only (the others get 0 for every item): each part knows a
    third of the customers, any two of them two thirds, all three every one."""

    name = "test_third_0"
    part = 0
    exact_reasons = False

    def __init__(self) -> None:
        pass

    def _fit(self, frame, items):
        ring = np.array([int(i[1:]) for i in self.item_ids_])
        steps = (ring[:, None] - ring[None, :]) % 120
        near = np.minimum(steps, 120 - steps) <= 3
        np.fill_diagonal(near, False)
        self.near_ = near.astype(np.float64)

    def _score(self, X, ages):
        return np.asarray((X > 0) @ self.near_, dtype=np.float64)

    def _score_users(self, rows, X, ages):
        S = self._score(X, ages)
        mine = np.array([int(u[1:]) % 3 == self.part for u in self.user_ids_[rows]])
        S[~mine] = 0.0
        return S


class Third1(ThirdSpan):
    name, part = "test_third_1", 1


class Third2(ThirdSpan):
    name, part = "test_third_2", 2


class Nobody(ThirdSpan):
    name, part = "test_third_none", 3  # knows no customer


@pytest.fixture()
def thirds(monkeypatch):
    for cls in (ThirdSpan, Third1, Third2, Nobody):
        monkeypatch.setitem(MODELS, cls.name, cls)


def test_select_model_adds_the_third_part_that_knows_the_last_third(thirds):
    data = ring_walks(True)
    selection = select_model(data, ["test_third_0", "test_third_1", "test_third_2"], budget_s=60)
    assert selection.model == "hybrid"
    assert sorted(selection.params["components"]) == [
        "test_third_0",
        "test_third_1",
        "test_third_2",
    ]
    blend = selection.blend
    assert blend["kept"] is True and len(blend["part_weights"]) == 3
    assert blend["additions"][0]["kept"] is True
    # the third part lifts the blend well above the two-part blend (a third more customers)
    assert blend["ndcg@10"] > 1.3 * blend["two_parts_ndcg@10"]
    assert selection.params["weights"] == blend["part_weights"]
    assert selection.table[0]["ndcg@10"] == blend["ndcg@10"]
    # the choice refitted from its settings scores what the blend scored on validation
    val = validation_split(data)
    refitted = make_model("hybrid", **selection.params).fit(val.train)
    assert tuning._Scorer(val)(refitted)[0]["ndcg@10"] == pytest.approx(blend["ndcg@10"])


def test_select_model_adds_no_part_that_does_not_help(thirds):
    selection = select_model(
        ring_walks(True), ["test_third_0", "test_third_1", "test_third_none"], budget_s=60
    )
    blend = selection.blend
    assert selection.model == "hybrid" and blend["kept"] is True
    assert sorted(selection.params["components"]) == ["test_third_0", "test_third_1"]
    assert [(a["model"], a["kept"]) for a in blend["additions"]] == [("test_third_none", False)]
    assert blend["ndcg@10"] == blend["two_parts_ndcg@10"]
    assert blend["stopped"] == "no addition above the margin"


# -- the budget, on the fake clock of test_tuning_budget.py -------------------------------------
class TimedC(budget_tests.Timed):
    name = "test_timed_c"


class TimedD(budget_tests.Timed):
    name = "test_timed_d"


FOUR = ("test_timed_a", "test_timed_b", "test_timed_c", "test_timed_d")


@pytest.fixture()
def timed(monkeypatch):
    clock = budget_tests.FakeClock()
    monkeypatch.setattr(budget_tests, "CLOCK", clock)
    monkeypatch.setattr(tuning, "_clock", clock)
    for cls in (budget_tests.TimedA, budget_tests.TimedB, TimedC, TimedD):
        monkeypatch.setitem(MODELS, cls.name, cls)
    monkeypatch.setattr(tuning, "BLEND_ADD_WEIGHTS", (0.1, 0.3, 0.5, 1.0))
    return clock


def _four(budget: float):
    """No search (no grid): four candidates, 1 s to fit and 1 s to score each, serving the same
    customers (no blend helps)."""
    spaces = {name: SearchSpace({"knob": 9, "score_s": 1.0}) for name in FOUR}
    return select_model(ring_walks(True), list(FOUR), budget_s=budget, spaces=spaces)


def _greedy_scorings(clock) -> list[tuple[float, float, str, str]]:
    """The scorings of the parts after the two-part blend (six scorings of two parts)."""
    return [e for e in clock.events[8:] if e[3] == "score"][2 * len(tuning.BLEND_WEIGHTS) :]


@pytest.mark.parametrize(
    ("budget", "scored", "ends"),
    [(22.5, 0, 20.0), (23.0, 4, 23.0), (23.5, 4, 23.0), (24.0, 8, 24.0)],
)
def test_the_greedy_step_starts_a_scoring_only_when_it_fits(timed, budget, scored, ends):
    """Defaults 8 s, the two-part blend's six scorings 2 s each (to 20 s). The greedy step's
    first blend with c scores a, b and c (3 s) and keeps their scores, so c's three other
    weights cost nothing here; d's first blend then scores d alone (1 s). Each is estimated so
    (the parts not kept yet, plus what blend scorings took beyond them: 0 s here), so with
    22.5 s nothing starts, with 23 s c's four weights, with 24 s all eight; an estimate of every
    part's scoring (3 s) would not have started d with 24 s. Nothing ends past the budget."""
    selection = _four(budget)
    assert [e for e in timed.events[8:] if e[3] == "score"][11][1] == pytest.approx(20.0)
    greedy = _greedy_scorings(timed)
    parts_scored = {"c": 3, "d": 1}  # scorings of parts: c's blend scores a, b, c; d's only d
    assert len(greedy) == (0 if scored == 0 else parts_scored["c"] + (scored > 4))
    assert timed.now == pytest.approx(ends) and timed.now <= budget
    assert selection.seconds == pytest.approx(ends)
    additions = selection.blend["additions"]
    assert sum(a["scored"] for a in additions) == scored
    assert (selection.blend["stopped"] == "no time left") is (scored < 8)
    assert selection.budget_exhausted is (scored < 8)


def test_the_kept_scores_are_the_parts_own(timed):
    """Every greedy blend scores as the same blend scored afresh (no part kept)."""
    selection = _four(100.0)
    greedy = [t for t in selection.trials if t["model"] == "hybrid"][len(tuning.BLEND_WEIGHTS) :]
    assert len(greedy) == 8
    val = validation_split(ring_walks(True))
    for trial in greedy:
        fresh = make_model("hybrid", **trial["params"]).fit(val.train)
        assert tuning._Scorer(val)(fresh)[0]["ndcg@10"] == pytest.approx(trial["ndcg@10"])


# -- a three-part choice through train ----------------------------------------------------------
def test_a_three_part_choice_is_fitted_saved_loaded_and_served_with_exact_reasons(
    tmp_path, monkeypatch
):
    """``train`` fits the blend the choice names (three parts, their settings and weights) on
    all interactions, saves and loads it, and serves it with reasons adding up to each score."""
    from omotenashi import Omotenashi
    from omotenashi.services import recommend_for_customer, train

    from ..recommend.conftest import make_events, make_items
    from ..services.test_recommendations import FakeStore

    params = {
        "components": ["ease", "itemknn", "ials"],
        "weights": [1.0, 0.3, 0.5],
        "params": [{"l2": 30.0}, {"k": 10}, {"factors": 8, "iterations": 4}],
        "scaling": "std",
    }
    chosen = tuning.Selection(
        model="hybrid",
        params=params,
        table=[
            {
                "model": "hybrid",
                "params": params,
                "ndcg@10": 0.5,
                "recall@20": 0.6,
                "coverage": 0.1,
                "novelty": 1.0,
                "default_ndcg@10": 0.4,
                "trials": 20,
            }
        ],
    )
    monkeypatch.setattr(tuning, "select_model", lambda *args, **kwargs: chosen)
    monkeypatch.setattr("omotenashi.evaluation.select_model", lambda *a, **k: chosen)
    with Omotenashi("memory://") as engine:
        om = FakeStore(make_events(), make_items(), tmp_path, engine)
        info = train(om, session_model=False)
        assert info["model"] == "hybrid"
        model, meta = load_model(om.root)
        assert [type(part).name for part in model.models_] == ["ease", "itemknn", "ials"]
        assert list(model.weights) == [1.0, 0.3, 0.5] and meta["exact_reasons"] is True
        assert meta["params"]["components"] == params["components"]
        served = recommend_for_customer(om, "u0", 5)
        assert len(served) == 5
        for rec in served:
            total = math.fsum(r.weight for r in rec.reasons)
            assert total == pytest.approx(rec.score, rel=1e-5, abs=1e-9)
            assert rec.explained == 1.0
        # what is served is the loaded three-part model's own ranking and scores
        own = model.recommend("u0", 5)
        assert [r.item_id for r in own] == [r.item_id for r in served]
        assert [r.score for r in own] == pytest.approx([r.score for r in served])
