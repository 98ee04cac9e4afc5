"""The grid behind the ``ials`` candidate: iALS over λ, α₀, factors and alternating passes.

On a *tuning* dataset only (default ml-100k; see ``TUNING_DATASETS`` in ``recommend.py``; a
reporting dataset is refused): the P1 training part becomes a store's events, ``train``'s own
validation split is cut from it (the test rows are never read), and every (factors, λ, α₀) is
fitted once on the validation training part for the largest pass count; after each pass count of
``--passes`` the model is served as a fit with that many passes would be (the same alternating
passes, ``IALS._passes``, then the customers' solve) and scored on the held-out part the way
``train`` scores a candidate (NDCG@10, Recall@20). Prints one JSON line per setting and pass
count, with the seconds the passes took (scoring apart), then a summary line: the best setting,
and per (factors, passes) the best λ, α₀ and NDCG@10. docs/recommend.md's iALS table and the
``ials`` search space (``SEARCH_SPACES`` in ``omotenashi.evaluation._tuning``) come from it,
by a rule fixed before the run: the (factors, passes) kept is the cheapest (least ``fit_s``)
whose best NDCG@10 over (λ, α₀) is within 1 % of the whole grid's best; the starting point is
that pair's best (λ, α₀); ``train`` walks λ and α₀ over the starting value and its neighbours on
this grid.

    python benchmarks/ials_grid.py [--dataset ml-100k] [--factors 32,64,128]
        [--l2 0.003,0.01,0.03,0.1,0.3] [--alpha0 0.01,0.03,0.1,0.3,1] [--passes 2,4,8,16]

``--train`` checks instead the rule that keeps ``ials`` among ``train``'s automatic candidates
(fixed before the reporting run, docs/recommend.md): ``train`` runs on the same store events
(the P1 training part) without ``ials`` among its candidates, then with it, back to back, and
each run prints the choice, its validation NDCG@10, whether the budget ran out and the seconds.
``ials`` stays a candidate when, with it, the choice's validation NDCG@10 is not lower, the
budget does not run out and ``train`` takes at most twice as long.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recommend as bench  # noqa: E402  (the benchmark's datasets and store events)
from omotenashi.recommend import IALS  # noqa: E402


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--factors", default="32,64,128")
    parser.add_argument("--l2", default="0.003,0.01,0.03,0.1,0.3")
    parser.add_argument("--alpha0", default="0.01,0.03,0.1,0.3,1")
    parser.add_argument("--passes", default="2,4,8,16")
    parser.add_argument("--train", action="store_true", help="check the candidate rule instead")
    parser.add_argument("--budget", type=float, default=120.0, help="train's budget (--train)")
    args = parser.parse_args()
    if args.dataset not in bench.TUNING_DATASETS:
        parser.error(f"{args.dataset} is a reporting dataset: defaults are chosen on tuning ones")
    if args.train:
        check_rule(args.dataset, args.budget)
        return
    factors = [int(v) for v in args.factors.split(",")]
    passes = sorted(int(v) for v in args.passes.split(","))
    rows = []
    validation, score = bench.tuning_validation(args.dataset)
    for k, l2, a0 in itertools.product(factors, floats(args.l2), floats(args.alpha0)):
        model = IALS(factors=k, regularization=l2, unobserved_weight=a0, iterations=passes[-1])
        model._check()
        model.prepare(validation.train)
        passes_s, start = 0.0, time.perf_counter()
        with threadpool_limits(1, "blas"):
            for n, H in enumerate(model._passes(), 1):
                passes_s += time.perf_counter() - start
                if n in passes:
                    start = time.perf_counter()
                    model._serve(H)  # what a fit with n passes serves
                    fit_s = passes_s + time.perf_counter() - start
                    row, _ = score(model)
                    rows.append(
                        {
                            "dataset": args.dataset,
                            "factors": k,
                            "l2": l2,
                            "alpha0": a0,
                            "passes": n,
                            "ndcg@10": round(row["ndcg@10"], 4),
                            "recall@20": round(row["recall@20"], 4),
                            "fit_s": round(fit_s, 2),
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
                start = time.perf_counter()
    best = max(rows, key=lambda r: r["ndcg@10"])
    by_cost = {}
    for r in rows:
        key = f"{r['factors']}x{r['passes']}"
        if key not in by_cost or r["ndcg@10"] > by_cost[key]["ndcg@10"]:
            by_cost[key] = {k: r[k] for k in ("l2", "alpha0", "ndcg@10", "fit_s")}
    print(json.dumps({"summary": True, "best": best, "best_per_factors_x_passes": by_cost}))


def check_rule(dataset: str, budget: float) -> None:
    """``train`` without, then with ``ials`` among its candidates (one JSON line each)."""
    runs = bench.train_with_and_without(dataset, "ials", budget)
    a, b = runs["without"][0], runs["with"][0]
    keep = (
        b["validation_ndcg@10"] >= a["validation_ndcg@10"]
        and not b["budget_exhausted"]
        and b["train_s"] <= 2 * a["train_s"]
    )
    print(json.dumps({"summary": True, "keep_ials": keep}), flush=True)


if __name__ == "__main__":
    main()
