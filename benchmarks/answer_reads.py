"""How much of the catalogue a matrix-factorisation answer reads, and what that saves.

For a store with a trained MF model (``als``, ``bpr`` or ``ials``) and random known customers
(n=10, seen items left out), side by side on the same customers:

* ``stopping``: the served path (``NormOrderedItems``: item vectors longest first, stop once no
  unread item can enter the answer): the share of answers by the number of item vectors read,
  and its time per answer;
* ``full_scan``: every item scored in float64 and ranked (``top_k``), the reference: its time,
  and whether the two answers are the same items in the same order (they must be, for every
  customer) with scores within float64 rounding.

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
    rows = np.random.default_rng(0).integers(0, U.shape[0], size=args.customers)
    index.top(U[rows[0]], args.n)  # the first answer builds nothing more: warm the caches
    reads, stopping, full, same = [], [], [], 0
    for r in rows:
        seen = X.indices[X.indptr[r] : X.indptr[r + 1]]
        u = np.asarray(U[r], dtype=np.float64)
        start = time.perf_counter()
        items, scores, read = index.scan(u, args.n, seen)
        stopping.append(time.perf_counter() - start)
        start = time.perf_counter()
        everything = Y @ u
        everything[seen] = -np.inf
        ref = top_k(everything, args.n)
        full.append(time.perf_counter() - start)
        reads.append(read)
        same += bool(
            np.array_equal(items, ref)
            and np.allclose(scores, everything[ref], rtol=1e-12, atol=1e-15)
        )
    reads_arr = np.array(reads)

    def ms(values: list[float]) -> dict:
        arr = np.array(values) * 1000
        return {f"p{q}_ms": round(float(np.percentile(arr, q)), 3) for q in (50, 90, 99)}

    print(
        json.dumps(
            {
                "model": model.name,
                "items": int(Y.shape[0]),
                "factors": int(Y.shape[1]),
                "customers": len(rows),
                "n": args.n,
                "stages": index.stages,
                "answers_by_items_read": {
                    str(int(s)): round(float(np.mean(reads_arr == s)), 4)
                    for s in np.unique(reads_arr)
                },
                "mean_share_read": round(float(reads_arr.mean() / Y.shape[0]), 4),
                "stopping": ms(stopping),
                "full_scan": ms(full),
                "same_answers": same,
            }
        )
    )


if __name__ == "__main__":
    main()
