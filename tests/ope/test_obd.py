"""Open Bandit Dataset sample: the uniform policy's click rate from the Bernoulli-TS logs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omotenashi.importers.presets import load_obd
from omotenashi.ope import evaluate_policy, uniform_action_dist

OBD = Path(__file__).resolve().parents[2] / "../shared/datasets/obd"

pytestmark = pytest.mark.dataset


def test_reader_shapes_and_propensities():
    d = load_obd(OBD / "bts/men/men.csv")
    assert d.log.n_rounds == 10_000 and d.log.n_actions == 34
    assert d.pair_features.shape == (10_000, 34)
    assert d.action_features.shape[0] == 34
    assert set(d.log.context["position"]) == {"1", "2", "3"}
    rnd = load_obd(OBD / "random/men/men.csv")
    assert np.allclose(rnd.log.pscore, 1 / 34, atol=1e-4)  # the random policy's propensity


@pytest.mark.slow
def test_dr_intervals_are_honest_on_the_three_campaigns():
    covered, rel = 0, {"dr": [], "ipw": []}
    for campaign in ("all", "men", "women"):
        bts = load_obd(OBD / f"bts/{campaign}/{campaign}.csv")
        truth = load_obd(OBD / f"random/{campaign}/{campaign}.csv").log.reward.mean()
        res = {
            e.estimator: e
            for e in evaluate_policy(
                bts.log,
                uniform_action_dist(bts.log),
                estimators=["ipw", "dr"],
                n_bootstrap=300,
                random_state=0,
                action_features=bts.action_features,
                pair_features=bts.pair_features,
            )
        }
        covered += res["dr"].ci_low <= truth <= res["dr"].ci_high
        for name in rel:
            rel[name].append(abs(res[name].value - truth) / truth)
    assert covered >= 2
    assert np.mean(rel["dr"]) <= np.mean(rel["ipw"])
