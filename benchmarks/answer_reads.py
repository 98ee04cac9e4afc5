"""How much of the catalogue a matrix-factorisation answer reads, and what that saves.

For a store with a trained MF model (``als``, ``bpr`` or ``ials``) and random known customers
(n=10, seen items left out), side by side on the same customers:

* ``with_tail_bounds``: the served path (``NormOrderedItems``: item vectors longest first, stop
  once no unread item can enter the answer, by the norms or by the customer's tail bound): the
  share of answers by the number of item vectors read, and its time per answer;
* ``norms_only``: the same without tail bounds (how answers were served before them);
* ``full_scan``: every item scored in float64 and ranked (``top_k``), the reference: its time,
  and whether each path's answers are the same items in the same order (they must be, for every
  customer) with scores within float64 rounding.

Also ``tail_bounds_s``: computing every customer's tail bound again, as a fit does (the cost
it adds to training), and the share of customers that have one.

Prints one JSON object.

    python benchmarks/answer_reads.py --db STORE [--model als] [--customers 2000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="store path or PostgreSQL URL")
    parser.add_argument("--model", default=None, help="model name (default: the main model)")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()

    from omotenashi import Omotenashi
    from omotenashi.recommend._base import top_k

    with Omotenashi(args.db, create=False) as om:
        model, _ = om.recommendations.model(args.model)
    index = model._norm_index()
    Y, U, X = model._factors()[0], model.user_factors_, model.user_items_
    start = time.perf_counter()
    bounds = index.tail_bounds(U, seen=X)
    bounds_s = time.perf_counter() - start
    saved = getattr(model, "_tails", None)
    if saved is not None and saved[0] is U:
        # the model's own bounds (from its fit) must be the ones computed here
        assert np.array_equal(saved[2], bounds), "the saved tail bounds differ"
    rows = np.random.default_rng(0).integers(0, U.shape[0], size=args.customers)
    index.top(U[rows[0]], args.n)  # the first answer builds nothing more: warm the caches
    paths = {"with_tail_bounds": ([], []), "norms_only": ([], [])}  # times, reads
    full, same = [], dict.fromkeys(paths, 0)
    for r in rows:
        seen = X.indices[X.indptr[r] : X.indptr[r + 1]]
        u = np.asarray(U[r], dtype=np.float64)
        start = time.perf_counter()
        everything = Y @ u
        everything[seen] = -np.inf
        ref = top_k(everything, args.n)
        full.append(time.perf_counter() - start)
        for name, (times, reads) in paths.items():
            tail = float(bounds[r]) if name == "with_tail_bounds" else None
            start = time.perf_counter()
            items, scores, read = index.scan(u, args.n, seen, tail=tail)
            times.append(time.perf_counter() - start)
            reads.append(read)
            same[name] += bool(
                np.array_equal(items, ref)
                and np.allclose(scores, everything[ref], rtol=1e-12, atol=1e-15)
            )

    def ms(values: list[float]) -> dict:
        arr = np.array(values) * 1000
        return {f"p{q}_ms": round(float(np.percentile(arr, q)), 3) for q in (50, 90, 99)}

    def reads_of(reads: list[int]) -> dict:
        arr = np.array(reads)
        return {
            "answers_by_items_read": {
                str(int(s)): round(float(np.mean(arr == s)), 4) for s in np.unique(arr)
            },
            "mean_share_read": round(float(arr.mean() / Y.shape[0]), 4),
        }

    out = {
        "model": model.name,
        "items": int(Y.shape[0]),
        "factors": int(Y.shape[1]),
        "customers": len(rows),
        "n": args.n,
        "stages": index.stages,
        "tail_bounds_s": round(bounds_s, 2),
        "customers_with_tail_bound": round(float(np.isfinite(bounds).mean()), 4),
        "full_scan": ms(full),
    }
    for name, (times, reads) in paths.items():
        out[name] = {**ms(times), **reads_of(reads), "same_answers": same[name]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
