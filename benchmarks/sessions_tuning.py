"""How the size of ``sknn``'s self-tuning sample changes what it picks; prints JSON lines.

Nothing here looks at the test split of ``benchmarks/sessions.py``. On each of its datasets the
training sessions are split again (their last 20 % by date: the "outer validation" sessions,
all of them, first 10 clicks each on the invoices); ``sknn`` is fitted on the rest, which runs
its own search on *its* latest 20 % (``SessionKNN._TUNE_SESSIONS`` of them, a sample drawn with
``_TUNE_SEED``), and then scored on the outer validation sessions (HR@20, MRR@20, with 95 %
half-widths clustered by session, and paired against the first run). Each (sample size, seed,
budget) shows which setting the search chose, how well it does on sessions the search never
saw, and the fit's wall time.

With ``--item-part``, instead: ``sknn`` with and without the scan of its item-to-item part
(:data:`SKNN_ITEM_WEIGHTS` after the walk, or 0 alone), in three periods of the training
sessions: period 1 is the outer validation above, periods 2 and 3 are cut the same way from the
sessions before it. Each line gives both figures and the paired differences (95 % half-widths,
clustered by session).

Run from the repository root:
    python benchmarks/sessions_tuning.py [--only NAME] [--sizes 150 600] [--seeds 0 1 2]
        [--budgets 5 10 20]   # the search bounded as ``train --budget`` bounds it
    python benchmarks/sessions_tuning.py --item-part [--only NAME]
"""

from __future__ import annotations

import argparse
import time
from itertools import product

import numpy as np
from sessions import as_interactions, datasets, emit, half_width, sample, sessions_of

from omotenashi.evaluation import split_sessions_last
from omotenashi.recommend import _session, make_model
from omotenashi.recommend._session import SessionKNN, next_click_rank, next_click_rows


def per_prediction(model, sessions):
    """Hit and reciprocal rank of each next click, and the session it belongs to."""
    rank = next_click_rank(model, *next_click_rows(model, sessions))
    # the session of each prediction: next_click_rows keeps known items and sessions in order
    counts = []
    for clicks in sessions:
        known = sum(1 for c in clicks if str(c) in model._item_pos)
        counts.append(max(known - 1, 0))
    session = np.repeat(np.arange(len(sessions)), counts)
    hit = (rank < 20).astype(float)
    return session, hit, np.where(rank < 20, 1.0 / (rank + 1.0), 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["diginetica-sample", "online-retail-invoices"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 600])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--budgets",
        type=float,
        nargs="+",
        default=[None],
        help="seconds for the search (tune_budget_s, as train gives it; default: no bound)",
    )
    parser.add_argument(
        "--item-part",
        action="store_true",
        help="compare sknn with and without its item-to-item part in three training periods",
    )
    args = parser.parse_args()
    if args.item_part:
        item_part(args.only)
        return
    for name, frame, _, head in datasets():
        if args.only not in (None, name):
            continue
        split = split_sessions_last(frame, order_by="date")
        outer = split_sessions_last(split.train, order_by="date")
        sessions = sessions_of(sample(outer.test, None, 0, head))
        train = as_interactions(outer.train)
        reference = None  # the first (size, seed, budget): paired differences against it
        for size, seed, budget in product(args.sizes, args.seeds, args.budgets):
            SessionKNN._TUNE_SESSIONS, SessionKNN._TUNE_SEED = size, seed
            start = time.perf_counter()
            model = make_model("sknn", tune_budget_s=budget).fit(train)
            fit_s = time.perf_counter() - start
            session, hit, rr = per_prediction(model, sessions)
            if reference is None:
                reference = (size, seed, budget, hit, rr)
            paired = {
                "vs": list(reference[:3]),
                **{
                    m: [round(d.mean(), 4), round(half_width(d, session), 4)]
                    for m, d in (("hr@20", hit - reference[3]), ("mrr@20", rr - reference[4]))
                },
            }
            emit(
                {
                    "dataset": name,
                    "tune_sessions": size,
                    "seed": seed,
                    "budget_s": budget,
                    "budget_exhausted": model.tuning_["budget_exhausted"],
                    "fit_s": round(fit_s, 1),
                    "chosen": model.tuned_,
                    "inner_validation": round(model.tuning_["validation"], 4),
                    "inner_predictions": model.tuning_["validation_predictions"],
                    "settings_tried": model.tuning_["settings_tried"],
                    "outer_hr@20": round(hit.mean(), 4),
                    "outer_mrr@20": round(rr.mean(), 4),
                    "outer_ci95": [
                        round(half_width(hit, session), 4),
                        round(half_width(rr, session), 4),
                    ],
                    "outer_predictions": len(hit),
                    "outer_minus_first": paired,
                }
            )


def item_part(only: str | None, periods: int = 3) -> None:
    """``sknn`` with its item-to-item part's scan against the walk's setting alone, period by
    period of the training sessions (never the test)."""
    weights = _session.SKNN_ITEM_WEIGHTS
    for name, frame, _, head in datasets():
        if only not in (None, name):
            continue
        earlier = split_sessions_last(frame, order_by="date").train
        for period in range(1, periods + 1):
            cut = split_sessions_last(earlier, order_by="date")
            sessions = sessions_of(sample(cut.test, None, 0, head))
            train = as_interactions(cut.train)
            runs = {}
            for label, scanned in (("without", (0.0,)), ("with", weights)):
                _session.SKNN_ITEM_WEIGHTS = scanned
                start = time.perf_counter()
                model = make_model("sknn").fit(train)
                fit_s = time.perf_counter() - start
                session, hit, rr = per_prediction(model, sessions)
                runs[label] = (hit, rr, model.tuned_["item_weight"], fit_s)
            _session.SKNN_ITEM_WEIGHTS = weights
            (h0, r0, _, s0), (h1, r1, chosen, s1) = runs["without"], runs["with"]
            emit(
                {
                    "dataset": name,
                    "period": period,
                    "predictions": len(h0),
                    "without": [round(h0.mean(), 4), round(r0.mean(), 4)],
                    "with": [round(h1.mean(), 4), round(r1.mean(), 4)],
                    "item_weight": chosen,
                    "hr_diff": [round((h1 - h0).mean(), 4), round(half_width(h1 - h0, session), 4)],
                    "mrr_diff": [
                        round((r1 - r0).mean(), 4),
                        round(half_width(r1 - r0, session), 4),
                    ],
                    "fit_s": [round(s0, 1), round(s1, 1)],
                }
            )
            earlier = cut.train


if __name__ == "__main__":
    main()
