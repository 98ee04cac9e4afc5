"""Decisions benchmark: regret of every policy on the artwork simulator, decision throughput, and
off-policy evaluation on the Open Bandit Dataset sample. Prints one JSON document; writes a PNG of
the regret curves. Not a test.

    python benchmarks/decide.py [--rounds 50000] [--plot decide_regret.png]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from omotenashi.decisions import (
    ArtworkSimulator,
    DecisionEngine,
    InMemoryDecisionLog,
    learn_from_log,
    logged_action_dist,
    make_policy,
    open_decision_log,
    read_obd,
    simulate,
)
from omotenashi.ope import evaluate_policy, uniform_action_dist

DATA = Path(__file__).resolve().parents[1] / "../shared/datasets/obd"
POLICIES = {
    "uniform": {},
    "epsilon-greedy": {"epsilon": 0.1},
    "linucb": {"alpha": 0.2},
    "linear-ts": {"scale": 0.1},
    "logistic-ts": {},
    "vw": {},
}


def regret(rounds: int, seed: int) -> tuple[dict, dict]:
    out, curves = {}, {}
    for kind, params in POLICIES.items():
        env = ArtworkSimulator(random_state=seed)
        engine = DecisionEngine(random_state=seed + 1)
        engine.register(env.decision_point(kind, {**params, "exploration_floor": 0.02}))
        res = simulate(engine, env, rounds)
        curves[kind] = res.oracle_regret
        curves["best fixed variant"] = res.fixed_regret()
        out[kind] = {
            "params": params,
            "regret_vs_oracle": round(float(res.oracle_regret[-1]), 1),
            "loop_per_second": round(res.decisions_per_second),
        }
        out["best_fixed_variant"] = {
            "variant": env.variant_ids[res.best_fixed],
            "regret_vs_oracle": round(float(res.fixed_regret()[-1]), 1),
        }
        print(kind, out[kind], flush=True, file=__import__("sys").stderr)
    learners = [k for k in POLICIES if k not in ("uniform", "epsilon-greedy")]
    best = min(learners, key=lambda k: out[k]["regret_vs_oracle"])
    out["best_learner"] = best
    out["best_vs_epsilon_greedy"] = round(
        out[best]["regret_vs_oracle"] / out["epsilon-greedy"]["regret_vs_oracle"], 3
    )
    out["best_vs_best_fixed"] = round(
        out[best]["regret_vs_oracle"] / out["best_fixed_variant"]["regret_vs_oracle"], 3
    )
    return out, curves


def throughput(n: int, seed: int, tmp: Path) -> dict:
    out = {}
    logs = {
        "memory": lambda kind: InMemoryDecisionLog(),
        "sqlite": lambda kind: open_decision_log(tmp / f"{kind}.db"),
        "sqlite-batch64": lambda kind: open_decision_log(tmp / f"{kind}-b.db", batch_size=64),
    }
    for log_name, make_log in logs.items():
        for kind in ("uniform", "linucb", "linear-ts", "vw"):
            env = ArtworkSimulator(random_state=seed)
            log = make_log(kind)
            engine = DecisionEngine(log, random_state=seed)
            engine.register(env.decision_point(kind, POLICIES[kind]))
            simulate(engine, env, 2000)  # warm up the learner's vocabulary
            reqs = [env.draw() for _ in range(n)]
            t0 = time.perf_counter()
            ids = [
                engine.decide("title_artwork", r.customer_id, r.profile, r.context).decision_id
                for r in reqs
            ]
            t1 = time.perf_counter()
            clicks = np.random.default_rng(seed).random(n) < 0.1
            for i, c in zip(ids, clicks, strict=True):
                engine.reward(i, float(c))
            t2 = time.perf_counter()
            out[f"{kind}/{log_name}"] = {
                "decide_per_second": round(n / (t1 - t0)),
                "reward_per_second": round(n / (t2 - t1)),
            }
    return out


def obd(n_bootstrap: int, seed: int) -> dict:
    out = {}
    for campaign in ("all", "men", "women"):
        bts = read_obd(DATA / f"bts/{campaign}/{campaign}.csv")
        rnd = read_obd(DATA / f"random/{campaign}/{campaign}.csv")
        row = {}
        # target direction: uniform-random policy's click rate from the Bernoulli-TS logs
        truth = float(rnd.log.reward.mean())
        res = evaluate_policy(
            bts.log,
            uniform_action_dist(bts.log),
            n_bootstrap=n_bootstrap,
            random_state=seed,
            action_features=bts.action_features,
            pair_features=bts.pair_features,
        )
        row["uniform_from_bts"] = {
            "truth": truth,
            "estimates": {
                e.estimator: {
                    "value": e.value,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "ess": round(e.ess, 1),
                    "rel_error": abs(e.value - truth) / truth,
                    "covered": e.ci_low <= truth <= e.ci_high,
                }
                for e in res
            },
        }
        # standard direction: the Bernoulli-TS policy's value from the random logs; the deployed
        # policy is approximated by its observed (position, item) frequencies in the BTS log
        truth = float(bts.log.reward.mean())
        pos = bts.log.context["position"].to_numpy()
        freq = {}
        for p in np.unique(pos):
            counts = np.bincount(bts.log.action[pos == p], minlength=bts.log.n_actions)
            freq[p] = counts / counts.sum()
        rpos = rnd.log.context["position"].to_numpy()
        dist = np.vstack([freq[p] for p in rpos])
        res = evaluate_policy(
            rnd.log,
            dist,
            n_bootstrap=n_bootstrap,
            random_state=seed,
            action_features=rnd.action_features,
            pair_features=rnd.pair_features,
        )
        row["bts_from_random"] = {
            "truth": truth,
            "estimates": {
                e.estimator: {
                    "value": e.value,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "ess": round(e.ess, 1),
                    "rel_error": abs(e.value - truth) / truth,
                    "covered": e.ci_low <= truth <= e.ci_high,
                }
                for e in res
            },
        }
        out[campaign] = row
    summary = {}
    for direction in ("uniform_from_bts", "bts_from_random"):
        for est in ("ipw", "snipw", "dm", "dr", "switch-dr", "sndr"):
            cells = [out[c][direction]["estimates"][est] for c in out]
            summary[f"{direction}/{est}"] = {
                "mean_rel_error": round(float(np.mean([c["rel_error"] for c in cells])), 3),
                "covered": f"{sum(c['covered'] for c in cells)}/3",
            }
    out["summary"] = summary
    return out


def obd_learner(seed: int) -> dict:
    """A LinUCB learner warm-started on the men BTS log, evaluated on the men random log."""
    bts = read_obd(DATA / "bts/men/men.csv")
    rnd = read_obd(DATA / "random/men/men.csv")
    t0 = time.perf_counter()
    learner = learn_from_log(
        make_policy("linucb", {"exploration_floor": 0.1}, random_state=seed), bts
    )
    dist = logged_action_dist(learner, rnd)
    res = evaluate_policy(
        rnd.log,
        dist,
        n_bootstrap=500,
        random_state=seed,
        action_features=rnd.action_features,
        pair_features=rnd.pair_features,
    )
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "random_policy_truth": float(rnd.log.reward.mean()),
        "estimates": {
            e.estimator: [round(e.value, 5), round(e.ci_low, 5), round(e.ci_high, 5)] for e in res
        },
    }


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in curves.items():
        ax.plot(
            np.arange(1, len(curve) + 1), curve, label=name, ls="--" if "fixed" in name else "-"
        )
    ax.set_xlabel("round")
    ax.set_ylabel("cumulative regret vs oracle")
    ax.set_title("Artwork simulator: cumulative regret")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--plot", type=Path, default=Path("decide_regret.png"))
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to skip: regret,speed,obd,learner"
    )
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    report: dict = {"rounds": args.rounds, "seed": args.seed}
    if "obd" not in skip:
        report["obd"] = obd(args.n_bootstrap, args.seed)
    if "learner" not in skip:
        report["obd_learner_men"] = obd_learner(args.seed)
    if "speed" not in skip:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            report["throughput"] = throughput(3000, args.seed, Path(tmp))
    if "regret" not in skip:
        report["regret"], curves = regret(args.rounds, args.seed)
        plot(curves, args.plot)
        report["plot"] = str(args.plot)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
