"""Erasure benchmark: what erasing one person costs on MovieLens 100k, beside its peer, a full
training from scratch on the store without them (what an erasure must equal).

Prints one JSON object: import and training time; per erased user the seconds of the whole
erasure and of its parts (rows, model refit); the time of a from-scratch training on a copy of
the store that never held the erased users; and whether every other user's top-10 (items and
scores) is the same from both models.

Usage: python benchmarks/erase.py [--model ease] [--users 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from omotenashi import Omotenashi

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "../shared/datasets/ml-100k"


def top10(om: Omotenashi, users: list[str]) -> dict[str, list[tuple[str, float]]]:
    out = {}
    for user in users:
        recs = om.recommendations.for_customer(user, 10, explain=False)
        out[user] = [(r.item_id, round(r.score, 9)) for r in recs]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ease")
    parser.add_argument("--users", type=int, default=3, help="users erased one after another")
    args = parser.parse_args()
    result: dict = {"dataset": "movielens-100k", "model": args.model}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ml.db"
        with Omotenashi(db) as om:
            start = time.perf_counter()
            om.import_events(DATA, preset="movielens-100k")
            result["import_s"] = round(time.perf_counter() - start, 3)
            start = time.perf_counter()
            om.training.train(args.model, session_model=False)
            result["train_s"] = round(time.perf_counter() - start, 3)
            erased = [str(u) for u in range(1, args.users + 1)]
            runs = []
            for user in erased:
                steps: dict[str, float] = {}
                last = [time.perf_counter(), ""]

                def step(message: str, steps=steps, last=last) -> None:
                    now = time.perf_counter()
                    if last[1]:
                        steps[last[1]] = round(now - last[0], 3)
                    last[:] = [now, message]

                start = time.perf_counter()
                receipt = om.rights.erase(user, step=step).receipt
                step("")
                runs.append(
                    {
                        "user": user,
                        "seconds": round(time.perf_counter() - start, 3),
                        "steps": steps,
                        "rows": receipt["rows"],
                    }
                )
            result["erasures"] = runs
            others = [str(u) for u in range(args.users + 1, 944, 37)]
            after = top10(om, others)
            events = om.events_frame()
        scratch_db = Path(tmp) / "scratch.db"
        with Omotenashi(scratch_db) as scratch:
            kept = events[["event_id", "customer_id", "type", "item_id", "rating", "timestamp"]]
            rows = [
                {k: v for k, v in row.items() if v == v and v is not None}
                for row in kept.assign(timestamp=kept["timestamp"].astype(str)).to_dict("records")
            ]
            scratch.track_many(rows)
            start = time.perf_counter()
            scratch.training.train(args.model, session_model=False)
            result["scratch_train_s"] = round(time.perf_counter() - start, 3)
            result["compared_users"] = len(others)
            result["same_top10_as_scratch"] = top10(scratch, others) == after
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
