"""A/B assignment and report, and the simulator's regret bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from omotenashi.decisions import (
    ArtworkSimulator,
    DecisionEngine,
    ab_report,
    assign_arm,
    simulate,
)
from omotenashi.errors import DataError


def test_assignment_is_deterministic_balanced_and_weighted():
    arms = ["a", "b", "c"]
    got = [assign_arm("exp1", f"user{i}", arms) for i in range(6000)]
    assert got == [assign_arm("exp1", f"user{i}", arms) for i in range(6000)]
    counts = np.array([got.count(a) for a in arms])
    assert stats.chisquare(counts).pvalue > 0.001
    other = [assign_arm("exp2", f"user{i}", arms) for i in range(6000)]
    assert np.mean(np.array(got) == np.array(other)) == pytest.approx(1 / 3, abs=0.03)
    weighted = [assign_arm("exp1", f"user{i}", ["x", "y"], [0.9, 0.1]) for i in range(5000)]
    assert weighted.count("y") / 5000 == pytest.approx(0.1, abs=0.015)
    with pytest.raises(DataError, match="weights"):
        assign_arm("exp1", "u", ["x", "y"], [1.0])


def _frame(rates: dict[str, tuple[int, int]]) -> pd.DataFrame:
    rows = []
    for arm, (n, k) in rates.items():
        rows += [{"variant": arm, "reward": float(i < k)} for i in range(n)]
    return pd.DataFrame(rows)


def test_report_hand_computed_and_winner():
    rep = ab_report(_frame({"control": (1000, 100), "b": (1000, 150)}), control="control")
    by = {a.arm: a for a in rep.arms}
    ctrl, b = by["control"], by["b"]
    assert rep.control == "control" and math.isnan(ctrl.lift)
    # Wilson interval for 100/1000 at 95 %
    z, p, n = stats.norm.ppf(0.975), 0.1, 1000
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (ctrl.ci_low, ctrl.ci_high) == pytest.approx((centre - half, centre + half))
    se = math.sqrt(0.15 * 0.85 / 999 + 0.1 * 0.9 / 999)  # sample variances (ddof=1)
    assert b.lift == pytest.approx(0.05)
    assert b.lift_ci_low == pytest.approx(0.05 - z * se, rel=1e-6)
    assert b.p_value == pytest.approx(2 * stats.norm.sf(0.05 / se), rel=1e-6)
    assert rep.winner == "b"


def test_no_winner_with_small_samples_or_no_difference_and_control_can_win():
    assert ab_report(_frame({"a": (50, 5), "b": (50, 20)}), min_per_arm=100).winner is None
    assert ab_report(_frame({"a": (1000, 100), "b": (1000, 104)})).winner is None
    rep = ab_report(_frame({"a": (2000, 300), "b": (2000, 200), "c": (2000, 210)}), control="a")
    assert rep.winner == "a"
    # Holm: the smallest p-value is multiplied by the number of comparisons
    raw = ab_report(_frame({"a": (1000, 100), "b": (1000, 130)}))
    three = ab_report(_frame({"a": (1000, 100), "b": (1000, 130), "c": (1000, 100)}))
    assert three.arms[1].p_value == pytest.approx(min(1.0, 2 * raw.arms[1].p_value))


def test_report_errors():
    with pytest.raises(DataError, match="kpi|reward"):
        ab_report(pd.DataFrame({"variant": ["a"]}))
    with pytest.raises(DataError, match="at least two arms"):
        ab_report(_frame({"a": (10, 1)}))
    with pytest.raises(DataError, match="control"):
        ab_report(_frame({"a": (10, 1), "b": (10, 2)}), control="z")


def test_simulator_regret_bookkeeping():
    env = ArtworkSimulator(n_people=500, random_state=0)
    eng = DecisionEngine(random_state=1)
    eng.register(env.decision_point("uniform"))
    res = simulate(eng, env, 2000, delay=5)
    gaps = res.expected.max(axis=1)[:, None] - res.expected
    assert np.all(np.diff(res.oracle_regret) >= -1e-12)
    assert res.oracle_regret[-1] == pytest.approx(np.sum(res.expected.max(axis=1) - res.chosen))
    # uniform play: expected regret per round is the mean gap over variants
    assert res.oracle_regret[-1] == pytest.approx(gaps.mean(axis=1).sum(), rel=0.1)
    fixed = [res.fixed_regret(j)[-1] for j in range(4)]
    assert res.fixed_regret()[-1] == min(fixed)
    assert len(eng.log.to_frame()) == 2000 and eng.log.to_frame()["reward"].notna().all()


def test_people_who_ignore_artwork_have_no_best_variant():
    env = ArtworkSimulator(n_people=200, ignore_share=1.0, random_state=0)
    for _ in range(20):
        r = env.draw()
        assert np.ptp(r.expected) == 0


@pytest.mark.slow
def test_learner_beats_uniform_and_epsilon_greedy_in_short_runs():
    out = {}
    for kind in ("uniform", "epsilon-greedy", "linucb"):
        env = ArtworkSimulator(random_state=5)
        eng = DecisionEngine(random_state=6)
        eng.register(env.decision_point(kind))
        out[kind] = simulate(eng, env, 4000).oracle_regret[-1]
    assert out["linucb"] < out["epsilon-greedy"] < out["uniform"]


def test_report_from_totals_matches_the_report_from_rows() -> None:
    """The dashboard's path (sums a database computed) gives the row path's figures."""
    import numpy as np
    import pandas as pd

    from omotenashi.decisions import ab_report, ab_report_from_totals

    rng = np.random.default_rng(3)
    for binary in (True, False):
        rows = []
        for arm, rate in (("a", 0.10), ("b", 0.14), ("c", 0.09)):
            draws = rng.random(400) < rate if binary else rng.gamma(2.0, 10 * rate, 400)
            rows += [(arm, float(x)) for x in draws]
        frame = pd.DataFrame(rows, columns=["variant", "reward"])
        whole = ab_report(frame)
        sums = {
            arm: (len(g), float(g.sum()), float((g * g).sum()))
            for arm, g in frame.groupby("variant")["reward"]
        }
        quick = ab_report_from_totals(sums, binary=binary)
        assert (quick.control, quick.winner) == (whole.control, whole.winner)
        for a, b in zip(quick.arms, whole.arms, strict=True):
            assert a.arm == b.arm and a.n == b.n
            for field in ("mean", "ci_low", "ci_high", "lift", "lift_ci_low", "p_value"):
                x, y = getattr(a, field), getattr(b, field)
                assert (np.isnan(x) and np.isnan(y)) or abs(x - y) < 1e-9, field
