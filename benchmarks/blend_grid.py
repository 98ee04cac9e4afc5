"""The settings of the blend's greedy step: how many parts, at which weights, with what margin.

On a *tuning* dataset only (default ml-100k; see ``TUNING_DATASETS`` in ``recommend.py``; a
reporting dataset is refused): the P1 training part becomes a store's events and ``train``
(the product path: its own validation split cut from them, the test rows never read, the
default budget and candidates) runs once per configuration of :data:`CONFIGS`, back to back.
Each run prints the choice, its validation NDCG@10, the blend's record (parts, weights, the
additions tried), whether the budget ran out and the seconds ``train`` took; a last line applies
the rule below and names the configuration kept.

**The rule, fixed before the run.** The reference is ``two`` (today's blend of the two best
candidates; the greedy step off). The margin is not searched: a validation figure always
prefers no margin, so it is set beforehand to 0.2 % (relative), a tie margin for the greedy
step. A configuration is *admissible* when, against the reference, the choice's validation
NDCG@10 is not lower, the budget does not run out and ``train`` takes at most 1.5 times as long.
Among the admissible ones the highest validation NDCG@10 is kept; any within 0.0005 of it count
as equal and then the one with the fewest blend scorings (the cheapest) is kept. When none beats
the reference by more than the margin, the greedy step stays off (two parts at most).

With ``--repeat N`` the configurations run N times in turn (two, g3, ..., two, g3, ...) and the
rule reads each configuration's median ``train`` time (the shared machine's load varies from
one run to the next by more than the greedy step costs).

    python benchmarks/blend_grid.py [--dataset ml-100k] [--budget 120] [--configs two,g3,...]
        [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import omotenashi.evaluation._tuning as tuning  # noqa: E402
import recommend as bench  # noqa: E402  (the benchmark's datasets and store events)
from omotenashi.evaluation import split_p1  # noqa: E402

#: (most parts, weights a part is added at, walk the weights again after an addition)
CONFIGS: dict[str, tuple[int, tuple[float, ...], bool]] = {
    "two": (2, (0.1, 0.3, 0.5, 1.0), False),
    "g3": (3, (0.1, 0.3, 0.5, 1.0), False),
    "g3w": (3, (0.1, 0.3, 0.5, 1.0), True),
    "g4": (4, (0.1, 0.3, 0.5, 1.0), False),
    "g4w": (4, (0.1, 0.3, 0.5, 1.0), True),
    "g4w-fine": (4, (0.1, 0.2, 0.3, 0.5, 0.7, 1.0), True),
}
MARGIN = 0.002
TIME_FACTOR = 1.5
TIE = 0.0005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.dataset not in bench.TUNING_DATASETS:
        parser.error(f"{args.dataset} is a reporting dataset: defaults are chosen on tuning ones")
    names = args.configs.split(",")
    if names[0] != "two" or any(n not in CONFIGS for n in names):
        parser.error(f"configs: 'two' first, then any of {', '.join(CONFIGS)}")
    from omotenashi.services import train

    tuning.BLEND_MARGIN = MARGIN
    runs: dict[str, list[dict]] = {}
    for _, _, frame, min_rating, event_type, _ in bench.topn_datasets({args.dataset}):
        events = bench.store_events(split_p1(frame, min_rating=min_rating), frame, event_type)
        for rep, name in ((r, n) for r in range(args.repeat) for n in names):
            tuning.BLEND_MAX_PARTS, tuning.BLEND_ADD_WEIGHTS, tuning.BLEND_REWALK = CONFIGS[name]
            with tempfile.TemporaryDirectory() as root:
                om = bench.FrameStore(events, None, Path(root))
                start = time.perf_counter()
                info = train(om, budget=args.budget, session_model=False)
                seconds = time.perf_counter() - start
            top, blend = info["selection"][0], info["tuning"]["blend"]
            hybrid = next((r for r in info["selection"] if r["model"] == "hybrid"), None)
            run = {
                "dataset": args.dataset,
                "config": name,
                "repeat": rep,
                "max_parts": CONFIGS[name][0],
                "add_weights": CONFIGS[name][1],
                "rewalk": CONFIGS[name][2],
                "chosen": info["model"],
                "validation_ndcg@10": round(top["ndcg@10"], 5),
                "blend_scorings": hybrid["trials"] if hybrid else 0,
                "blend": {
                    k: blend.get(k)
                    for k in ("components", "part_weights", "two_parts_ndcg@10", "ndcg@10")
                    + ("additions", "rewalks", "stopped", "best_single")
                },
                "budget_exhausted": info["tuning"]["budget_exhausted"],
                "choice_s": info["tuning"]["seconds"],
                "train_s": round(seconds, 1),
                "table": [
                    {k: r[k] for k in ("model", "ndcg@10", "trials")} for r in info["selection"]
                ],
            }
            runs.setdefault(name, []).append(run)
            print(json.dumps(run, default=str), flush=True)
    merged = {}
    for name, reps in runs.items():
        merged[name] = {
            **reps[0],
            "validation_ndcg@10": min(r["validation_ndcg@10"] for r in reps),
            "budget_exhausted": any(r["budget_exhausted"] for r in reps),
            "train_s": float(np.median([r["train_s"] for r in reps])),
        }
    ref = merged["two"]
    admissible = [
        r
        for n, r in merged.items()
        if n != "two"
        and r["validation_ndcg@10"] >= ref["validation_ndcg@10"]
        and not r["budget_exhausted"]
        and r["train_s"] <= TIME_FACTOR * ref["train_s"]
    ]
    kept = "two"
    if admissible:
        top = max(r["validation_ndcg@10"] for r in admissible)
        equal = [r for r in admissible if r["validation_ndcg@10"] >= top - TIE]
        best = min(equal, key=lambda r: (r["blend_scorings"], r["train_s"]))
        if best["validation_ndcg@10"] > ref["validation_ndcg@10"] * (1 + MARGIN):
            kept = best["config"]
    print(
        json.dumps(
            {
                "summary": True,
                "rule": "not lower, budget not out, train <= 1.5x; best NDCG@10, ties "
                "(0.0005) to the fewest blend scorings; off unless above the 0.2 % margin",
                "train_s_median": {n: r["train_s"] for n, r in merged.items()},
                "admissible": [r["config"] for r in admissible],
                "kept": kept,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
