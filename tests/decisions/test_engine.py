"""decide/reward through both decision logs: propensities, delayed and bad rewards, erasure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from omotenashi.decisions import (
    COLUMNS,
    DecisionEngine,
    DecisionPoint,
    EligibilityRule,
    PolicySpec,
    RewardSpec,
    Variant,
    assign_arm,
    decisions_to_bandit_log,
    experiment,
    make_policy,
    policy_action_dist,
)
from omotenashi.errors import DataError, NotFound

POINT = DecisionPoint(
    name="offer",
    variants=(
        Variant(id="none"),
        Variant(id="ten_off", features={"discount": 10}),
        Variant(id="vip_gift", features={"gift": True}),
    ),
    reward=RewardSpec(name="purchase_value", kind="continuous", min=0, max=500, ttl_seconds=3600),
    eligibility=(
        EligibilityRule(variant="vip_gift", field="profile.segment", op="in", value=["champion"]),
        EligibilityRule(variant="ten_off", field="page", op="ne", value="checkout"),
    ),
    policy=PolicySpec(kind="linucb", params={"exploration_floor": 0.1}),
)


@pytest.fixture
def engine(decision_log, clock):
    eng = DecisionEngine(decision_log, random_state=0, clock=clock)
    eng.register(POINT)
    return eng


def test_decide_logs_propensity_and_reward(engine, clock):
    d = engine.decide("offer", "c1", {"segment": "champion"}, {"page": "home"})
    assert set(d.probabilities) == {"none", "ten_off", "vip_gift"}
    assert d.propensity == pytest.approx(d.probabilities[d.variant])
    assert sum(d.probabilities.values()) == pytest.approx(1.0)
    clock.now += 600  # delayed reward, within the hour
    engine.reward(d.decision_id, 42.5)
    rec = engine.log.get(d.decision_id)
    assert rec.reward == 42.5 and rec.rewarded_at == clock.now
    frame = engine.log.to_frame()
    assert list(frame.columns) == list(COLUMNS)
    row = frame.iloc[0]
    assert row["customer_id"] == "c1" and json.loads(row["profile"]) == {"segment": "champion"}
    assert engine.policy("offer").n_updates_ == 1


def test_eligibility_rules_restrict_candidates(engine):
    d = engine.decide("offer", "c2", {"segment": "new"}, {"page": "checkout"})
    assert d.variant == "none" and d.probabilities == pytest.approx({"none": 1.0})
    d = engine.decide("offer", "c2", {"segment": "new"}, {"page": "home"})
    assert set(d.probabilities) == {"none", "ten_off"}


def test_why_says_what_the_engine_did(engine, clock):
    """The plain-word reason names the chosen variant with its real chance, the other
    candidates with theirs, the policy's experience and the rule that left each variant out."""
    only = engine.decide("offer", "c2", {"segment": "new"}, {"page": "checkout"})
    assert only.why == (
        "'none' was chosen by a learning policy that weighs what worked for people like you "
        "with how sure it is, which has learnt from 0 outcomes; it had a 100% chance (the only "
        "variant that applied); not shown: 'ten_off' (shown only when this request's page is "
        "not checkout); 'vip_gift' (shown only when your segment is one of champion)."
    )
    d = engine.decide("offer", "c1", {"segment": "champion"}, {"page": "home"})
    engine.reward(d.decision_id, 10.0)
    d = engine.decide("offer", "c1", {"segment": "champion"}, {"page": "home"})
    assert f"'{d.variant}' was chosen" in d.why and "learnt from 1 outcome;" in d.why
    assert f"{d.probabilities[d.variant]:.0%} chance" in d.why
    for other, p in d.probabilities.items():
        if other != d.variant:
            assert f"'{other}' {p:.0%}" in d.why
    assert "not shown" not in d.why  # every variant applied


def test_why_of_an_ab_test_says_the_choice_is_kept():
    ab = DecisionPoint(
        name="headline",
        variants=(Variant(id="a"), Variant(id="b")),
        policy=PolicySpec(kind="uniform"),
        assignment="hash",
    )
    eng = DecisionEngine(random_state=0)
    eng.register(ab)
    d = eng.decide("headline", "c9")
    assert d.why.startswith(f"'{d.variant}' was chosen at random, every eligible variant")
    assert "50% chance" in d.why and "you keep this choice" in d.why
    assert "learnt" not in d.why


def test_unknown_expired_duplicate_and_invalid_rewards(engine, clock):
    with pytest.raises(NotFound, match="decision 'nope' is unknown"):
        engine.reward("nope", 1.0)
    d = engine.decide("offer", "c3", {}, {"page": "home"})
    with pytest.raises(DataError, match="must lie in"):
        engine.reward(d.decision_id, 900.0)
    with pytest.raises(DataError, match="not a number"):
        engine.reward(d.decision_id, "lots")
    engine.reward(d.decision_id, 5.0)
    with pytest.raises(DataError, match="already has a reward"):
        engine.reward(d.decision_id, 5.0)
    late = engine.decide("offer", "c3", {}, {"page": "home"})
    clock.now += 3601
    with pytest.raises(DataError, match="expired"):
        engine.reward(late.decision_id, 1.0)
    assert engine.log.get(late.decision_id).reward is None


def test_bad_requests(engine):
    with pytest.raises(NotFound, match="decision point 'nowhere'"):
        engine.decide("nowhere", "c1")
    with pytest.raises(DataError, match="customer_id"):
        engine.decide("offer", "", {}, {})
    with pytest.raises(DataError, match="field 'p.when' has unsupported type"):
        engine.decide("offer", "c1", {"when": object()}, {})
    only_vip = DecisionPoint(
        name="vip_only",
        variants=(Variant(id="gift"),),
        eligibility=(
            EligibilityRule(variant="gift", field="profile.segment", op="eq", value="vip"),
        ),
    )
    engine.register(only_vip)
    with pytest.raises(DataError, match="no variant of 'vip_only' is eligible"):
        engine.decide("vip_only", "c1", {"segment": "new"}, {})


def test_erase_customer(engine):
    ids = [engine.decide("offer", c, {}, {"page": "home"}).decision_id for c in ("a", "b", "a")]
    engine.reward(ids[0], 1.0)
    assert engine.log.erase_customer("a") == 2
    assert set(engine.log.to_frame()["customer_id"]) == {"b"}
    with pytest.raises(NotFound):
        engine.log.get(ids[0])


def test_warm_start_reproduces_online_learning(engine):
    rng = np.random.default_rng(0)
    for i in range(60):
        seg = ["champion", "new"][i % 2]
        d = engine.decide("offer", f"c{i}", {"segment": seg}, {"page": "home"})
        engine.reward(d.decision_id, float(rng.integers(0, 100)))
    fresh = DecisionEngine(random_state=1)
    fresh.register(POINT)
    assert fresh.warm_start("offer", engine.log.to_frame()) == 60
    online, warm = engine.policy("offer"), fresh.policy("offer")
    # same ridge coefficients; names only the online policy saw (never shown) have weight 0
    w_online = dict(zip(online.index_.names_, online.theta_, strict=True))
    w_warm = dict(zip(warm.index_.names_, warm.theta_, strict=True))
    assert set(w_warm) <= set(w_online)
    for name, value in w_online.items():
        assert w_warm.get(name, 0.0) == pytest.approx(value, abs=1e-9), name


def test_experiment_assignment_is_stable_and_matches_assign_arm(decision_log):
    eng = DecisionEngine(decision_log, random_state=0)
    eng.register(experiment("subject_line", ["control", "short", "emoji"]))
    arms = ["control", "short", "emoji"]
    seen = {}
    for i in range(300):
        cid = f"c{i % 100}"
        d = eng.decide("subject_line", cid)
        assert d.propensity == pytest.approx(1 / 3)
        assert seen.setdefault(cid, d.variant) == d.variant
        assert d.variant == assign_arm("subject_line", cid, arms)


def test_decision_log_round_trips_through_ope(clock):
    """A uniform policy's value estimated from a LinUCB log brackets its true value."""
    from omotenashi.decisions import ArtworkSimulator, simulate
    from omotenashi.ope import DR, IPW, RewardModel

    env = ArtworkSimulator(random_state=3)
    eng = DecisionEngine(random_state=4)
    eng.register(env.decision_point("linucb", {"exploration_floor": 0.3}))
    result = simulate(eng, env, 3000)
    point = eng.point("title_artwork")
    log = decisions_to_bandit_log(eng.log.to_frame(), point)
    dist = policy_action_dist(make_policy("uniform"), log, point)
    assert dist == pytest.approx(np.full((3000, 4), 0.25))
    truth = float(result.expected.mean())
    ipw = IPW().estimate(log, dist, n_bootstrap=200, random_state=0)
    assert ipw.ci_low <= truth <= ipw.ci_high
    ctx = log.context[["profile", "context"]].apply(
        lambda r: {**r["profile"], **r["context"]}, axis=1
    )
    import pandas as pd

    q = RewardModel(random_state=0).fit_predict(log, context=pd.DataFrame(list(ctx)))
    dr = DR().estimate(log, dist, q, n_bootstrap=200, random_state=0)
    assert dr.ci_low <= truth <= dr.ci_high


def test_decision_point_parse_reports_the_field():
    with pytest.raises(DataError, match="variants"):
        DecisionPoint.parse({"name": "x", "variants": []})
    with pytest.raises(DataError, match="duplicate variant id 'a'"):
        DecisionPoint.parse({"name": "x", "variants": [{"id": "a"}, {"id": "a"}]})
    with pytest.raises(DataError, match="unknown variant 'zz'"):
        DecisionPoint.parse(
            {
                "name": "x",
                "variants": [{"id": "a"}],
                "eligibility": [{"variant": "zz", "field": "device"}],
            }
        )
    again = DecisionPoint.parse(POINT.model_dump_json())
    assert again == POINT


def test_concurrent_decide_and_reward(decision_log):
    from concurrent.futures import ThreadPoolExecutor

    eng = DecisionEngine(decision_log, random_state=0)
    eng.register(POINT)

    def work(worker: int) -> int:
        for i in range(100):
            d = eng.decide("offer", f"w{worker}-{i}", {"segment": "champion"}, {"page": "home"})
            eng.reward(d.decision_id, float(i % 7))
        return 100

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(work, range(4))) == 400
    frame = eng.log.to_frame()
    assert len(frame) == 400 and frame["reward"].notna().all()
    assert eng.policy("offer").n_updates_ == 400


def test_sqlite_batches_are_flushed_before_reads(tmp_path):
    from omotenashi.decisions import DecisionRecord, open_decision_log

    log = open_decision_log(tmp_path / "batched.db", batch_size=50)
    eng = DecisionEngine(log, random_state=0)
    eng.register(POINT)
    ids = [eng.decide("offer", f"c{i}", {}, {"page": "home"}).decision_id for i in range(120)]
    eng.reward(ids[-1], 3.0)  # still pending in the batch: get() must flush first
    assert len(log.to_frame()) == 120
    rec = DecisionRecord(ids[0], "offer", "c0", 1.0, "none", 1.0, {"none": 1.0})
    log.append(rec)
    with pytest.raises(DataError, match="already logged"):
        log.flush()
    log.close()
    reopened = open_decision_log(tmp_path / "batched.db")
    assert len(reopened.to_frame()) == 120 and reopened.get(ids[-1]).reward == 3.0
    with pytest.raises(DataError, match="batch_size"):
        open_decision_log(tmp_path / "x.db", batch_size=0)
