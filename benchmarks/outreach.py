"""Outreach-queue benchmark: one queue run over every customer of a store, side by side with
the per-customer path (next-best-action asked customer by customer) as the peer.

Prints one JSON object: the store's size, the seconds to import the synthetic events, to preview
the queue (rank every action for every customer, nothing stored), to run it (stored), to
approve it (decisions logged) and to export it; and the per-customer path timed on a sample
and scaled to all customers (``per_customer_path_s_est``), with the ratio.

Synthetic customers: 1 to 6 purchases each over a year, spend drawn from three price levels,
a quarter of them with a due reminder; the built-in actions.

Usage: python benchmarks/outreach.py [--customers 100000] [--sample 200] [--db PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from omotenashi.services import Omotenashi

DAY = "2026-01-15"


def synthetic_events(customers: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 7, customers)
    cid = np.repeat(np.arange(customers), per)
    start = np.datetime64("2025-01-01T10:00:00")
    days = rng.integers(0, 365, len(cid)).astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "customer": [f"c{c}" for c in cid],
            "item": [f"i{k}" for k in rng.integers(0, 500, len(cid))],
            "time": (start + days).astype(str),
            "order": [f"o{n}" for n in range(len(cid))],
            "price": rng.choice([8.0, 35.0, 120.0], len(cid)),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
    db = args.db or folder / "bench.db"
    out: dict[str, object] = {"customers": args.customers}

    events = synthetic_events(args.customers)
    path = folder / "events.csv"
    events.to_csv(path, index=False)
    out["events"] = len(events)
    rng = np.random.default_rng(1)
    due = rng.choice(args.customers, args.customers // 4, replace=False)
    reminders = pd.DataFrame(
        {
            "customer_id": [f"c{c}" for c in due],
            "topic": "check-up",
            "rule": "yearly check-up",
            "due": "2026-01-10",
            "reason": "Yearly check-up due",
            "priority": rng.gamma(2, 20, len(due)),
        }
    )
    with Omotenashi(db) as om:
        t = time.perf_counter()
        om.import_events(
            path,
            mapping="customer=customer,item=item,time=time,order=order,price=price",
            type="purchase",
        )
        out["import_s"] = round(time.perf_counter() - t, 2)

        om.outreach.actions()  # load the modules once, outside the timings
        t = time.perf_counter()
        preview = om.outreach.run(DAY, preview=True, reminders=reminders)
        out["preview_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        queue = om.outreach.run(DAY, reminders=reminders)
        out["run_s"] = round(time.perf_counter() - t, 2)
        out["contacts"] = len(queue)
        out["by_action"] = queue["action"].value_counts().to_dict()
        assert len(preview) == len(queue)
        t = time.perf_counter()
        out["approved"] = len(om.outreach.approve(date=DAY))
        out["approve_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        om.outreach.export(folder / "contacts.csv", date=DAY)
        out["export_s"] = round(time.perf_counter() - t, 2)

        sample = [f"c{c}" for c in rng.choice(args.customers, args.sample, replace=False)]
        t = time.perf_counter()
        for c in sample:
            om.next_best_actions(c, date=DAY)
        per = (time.perf_counter() - t) / len(sample)
        out["per_customer_ms"] = round(per * 1000, 2)
        out["per_customer_path_s_est"] = round(per * args.customers, 1)
        out["queue_speedup_vs_per_customer"] = round(per * args.customers / out["preview_s"], 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
