"""The grid behind the ``userknn`` candidate, and the rule that decides whether it is one.

On a *tuning* dataset only (default ml-100k; see ``TUNING_DATASETS`` in ``recommend.py``; a
reporting dataset is refused): the P1 training part becomes a store's events, ``train``'s own
validation split is cut from it (the test rows are never read), and user-kNN is fitted on the
validation training part for every (k, shrink, exponent) of the grid and scored there the way
``train`` scores a candidate (NDCG@10, Recall@20). Prints one JSON line per setting (with the
seconds of its fit and of its scoring), then a summary line: the best setting. The ``userknn``
search space (``SEARCH_SPACES`` in ``omotenashi.evaluation._tuning``) comes from it by a rule
fixed before the run: its start is the grid's best setting; ``train`` walks k over the grid's
k values, then shrink, then the exponent.

    python benchmarks/userknn_grid.py [--dataset ml-100k] [--k 10,25,50,100,200,400]
        [--shrink 0,10,30,100] [--exponent 0.5,1,2,3]

``--train`` checks instead whether ``userknn`` joins ``train``'s automatic candidates
(``AUTO_CANDIDATES``). **The rule, fixed before the run:** ``train`` (default budget, the product
path) runs on the same store events (the P1 training part) without ``userknn`` among its
candidates, then with it, in turn, ``--repeat`` times (default 3). ``userknn`` joins when, with
it, the choice's validation NDCG@10 (the lowest over the repeats) is not lower than without it
(the lowest over the repeats), the budget never runs out, and the median seconds of ``train``
with it are at most 1.5 times the median without it. The last line says whether it joins.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recommend as bench  # noqa: E402  (the benchmark's datasets and store events)
from omotenashi.recommend import UserKNN  # noqa: E402

TIME_FACTOR = 1.5


def numbers(text: str, kind=float) -> list:
    return [kind(v) for v in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--k", default="10,25,50,100,200,400")
    parser.add_argument("--shrink", default="0,10,30,100")
    parser.add_argument("--exponent", default="0.5,1,2,3")
    parser.add_argument("--train", action="store_true", help="check the candidate rule instead")
    parser.add_argument("--budget", type=float, default=120.0, help="train's budget (--train)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (--train)")
    args = parser.parse_args()
    if args.dataset not in bench.TUNING_DATASETS:
        parser.error(f"{args.dataset} is a reporting dataset: defaults are chosen on tuning ones")
    if args.train:
        check_rule(args.dataset, args.budget, args.repeat)
        return
    rows = []
    validation, score = bench.tuning_validation(args.dataset)
    grid = itertools.product(numbers(args.k, int), numbers(args.shrink), numbers(args.exponent))
    for k, shrink, exponent in grid:
        model = UserKNN(k=k, shrink=shrink, exponent=exponent)
        start = time.perf_counter()
        model.fit(validation.train)
        fit_s = time.perf_counter() - start
        row, _ = score(model)
        rows.append(
            {
                "dataset": args.dataset,
                "k": k,
                "shrink": shrink,
                "exponent": exponent,
                "ndcg@10": round(row["ndcg@10"], 5),
                "recall@20": round(row["recall@20"], 5),
                "fit_s": round(fit_s, 3),
                "score_s": round(time.perf_counter() - start - fit_s, 3),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    best = max(rows, key=lambda r: r["ndcg@10"])
    print(json.dumps({"summary": True, "best": best}), flush=True)


def check_rule(dataset: str, budget: float, repeat: int) -> None:
    """``train`` without, then with ``userknn`` among its candidates, ``repeat`` times in turn
    (one JSON line each), then the rule's verdict."""
    runs = bench.train_with_and_without(dataset, "userknn", budget, repeat)
    a, b = runs["without"], runs["with"]
    ndcg_a = min(r["validation_ndcg@10"] for r in a)
    ndcg_b = min(r["validation_ndcg@10"] for r in b)
    s_a = float(np.median([r["train_s"] for r in a]))
    s_b = float(np.median([r["train_s"] for r in b]))
    exhausted = any(r["budget_exhausted"] for r in b)
    joins = ndcg_b >= ndcg_a and not exhausted and s_b <= TIME_FACTOR * s_a
    print(
        json.dumps(
            {
                "summary": True,
                "rule": "joins when NDCG@10 not lower, budget not out, median train <= 1.5x",
                "validation_ndcg@10": {"without": ndcg_a, "with": ndcg_b},
                "train_s_median": {"without": s_a, "with": s_b},
                "budget_exhausted_with": exhausted,
                "joins": joins,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
