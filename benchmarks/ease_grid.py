"""The grid behind the EASE candidate's search: EASE, EDLAE and DLAE over λ and the dropout rate.

On a *tuning* dataset only (default ml-100k; see ``TUNING_DATASETS`` in ``recommend.py``): the
P1 training part becomes a store's events, ``train``'s own validation split is cut from it, and
every (λ, dropout, zero diagonal) is fitted on the validation training part and scored on its
held-out part (NDCG@10, Recall@20), the way ``train`` scores a candidate. Prints one JSON line
per setting; docs/recommend.md's grid table comes from it.

    python benchmarks/ease_grid.py [--dataset ml-100k] [--l2 100,300,1000]
        [--dropout 0,0.1,0.25,0.5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recommend as bench  # noqa: E402  (the benchmark's datasets and store events)
from omotenashi.recommend import make_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--l2", default="100,300,1000")
    parser.add_argument("--dropout", default="0,0.1,0.25,0.5")
    args = parser.parse_args()
    if args.dataset not in bench.TUNING_DATASETS:
        parser.error(f"{args.dataset} is a reporting dataset: defaults are chosen on tuning ones")
    lambdas = [float(v) for v in args.l2.split(",")]
    rates = [float(v) for v in args.dropout.split(",")]
    validation, score = bench.tuning_validation(args.dataset)
    for l2, rate, zero in itertools.product(lambdas, rates, (True, False)):
        model = make_model("ease", l2=l2, dropout=rate, zero_diagonal=zero, min_support=2)
        row, _ = score(model.fit(validation.train))
        name = ("EASE" if rate == 0 else "EDLAE") if zero else "DLAE"
        print(
            json.dumps(
                {
                    "dataset": args.dataset,
                    "model": name,
                    "l2": l2,
                    "dropout": rate,
                    "ndcg@10": round(row["ndcg@10"], 4),
                    "recall@20": round(row["recall@20"], 4),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
