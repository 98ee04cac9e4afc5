"""First-render time of every dashboard page on a large synthetic store; prints JSON.

A store of ``--customers`` customers (default 100,000) and ``--events`` events (default
1,000,000; the issue's 10 million works too, it only takes longer to build) is written through
the event log's bulk path, with customer attributes, value scores for every customer, decisions
with rewards, an import record and a trained ``popularity`` model. One customer in five is a
patient (a ``birthdate``, and ``visit`` events of the clinic over the two years before the shop's
year, some patients lapsing), one in a hundred holds a goal (a visit every half-year), and the
workspace declares outreach actions with a ``reminder``: Customer 360 then shows next best
actions, recalls, goals and the printable brief as a clinic sees them. The build ends like a
server's background training (``train_job``), which also saves the patients' lapse-risk scores.

The app (``create_app``, keys off) then answers each page in-process: ``first_ms`` is the first
request of the page once the start-up warm-up has read the activity totals of the whole log (the
overview during the warm-up, which answers with what is read so far, is reported apart),
``warm_ms`` the median of the next ``--repeat`` requests. Goal: every page under 500 ms.

Run from the repository root (``--keep FOLDER`` builds the store there once and measures it
again on later runs; ``--build-only`` stops after the build):
    python benchmarks/dashboard.py [--customers 100000] [--events 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

DAY_US = 86_400_000_000
T0_US = 1_704_067_200_000_000  # 2024-01-01
VISITS_T0_US = T0_US - 730 * DAY_US  # clinic visits: from two years before the shop's year
VISIT_SHARE = 0.05  # of the events: visits of patients (one customer in five)
VISIT_CLASSES = np.array(["wellness", "ambulatory", "outpatient", "emergency"])
#: the outreach actions the workspace declares (a reminder action takes recalls and goals)
ACTIONS = {
    "actions": [
        {"id": "tip", "kind": "recommend", "channel": "email", "topic": "tips",
         "eligible": "frequency >= 1 and recency_days <= 120", "value": "aov",
         "response_rate": 0.08, "message": "New for you: {item}"},
        {"id": "comeback", "kind": "offer", "channel": "sms", "topic": "winback",
         "eligible": "frequency >= 2 and lapse_risk >= 0.5", "value": "value_at_risk",
         "response_rate": 0.1, "cost": 2.0, "scale_by_p_alive": False,
         "message": "We miss you: 15% off until Sunday"},
        {"id": "recall", "kind": "reminder", "channel": "email", "message": "{reason} (due {due})"},
    ]
}  # fmt: skip


def is_patient(i: int) -> bool:
    return i % 5 == 2


def holds_goal(i: int) -> bool:
    return i % 100 == 42


def birth(i: int) -> dict:
    """A patient's birth date (ages 9 to 84); {} for a customer who is not a patient."""
    if not is_patient(i):
        return {}
    return {"birthdate": f"{1940 + (i * 37) % 75}-{1 + i % 12:02d}-{1 + i % 28:02d}"}


def build(path: Path, customers: int, events: int, seed: int = 0) -> dict:
    from omotenashi.services import Omotenashi, train_job
    from omotenashi.storage import EVENT_COLUMNS, DecisionRecord

    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with Omotenashi(path) as om:
        om.upsert_items([{"item_id": f"i{i}", "title": f"Item {i}", "categories": [f"cat{i % 20}"],
                          "price": 10.0} for i in range(500)])  # fmt: skip
        batch = 250_000
        written = 0
        with om.store.bulk(events):

            def batches():
                nonlocal written
                while written < events:
                    n = min(batch, events - written)
                    who = rng.integers(0, customers, n)
                    kind = rng.choice(np.array(["view", "purchase", "return", "visit"]), n,
                                      p=[0.8, 0.18, 0.02, 0.0])  # fmt: skip
                    ts = T0_US + rng.integers(0, 365 * DAY_US, n)
                    seq = np.arange(written, written + n)
                    values = np.where(kind == "view", np.nan, rng.integers(5, 80, n).astype(float))
                    items = np.array([f"i{i}" for i in rng.integers(0, 500, n)], dtype=object)
                    channel = rng.choice(np.array(["web", "app", "shop", "clinic"]), n,
                                         p=[0.34, 0.33, 0.33, 0.0])  # fmt: skip
                    context = np.full(n, None, dtype=object)
                    # visits of patients, each active from VISITS_T0 for a span of its own (up to
                    # three years): some have lapsed, which lapse risk learns from
                    visit = rng.random(n) < VISIT_SHARE
                    k = int(visit.sum())
                    patient = 5 * rng.integers(0, max(1, (customers - 3) // 5 + 1), k) + 2
                    span = (patient * 7919) % 1095 + 1
                    who[visit] = patient
                    kind[visit] = "visit"
                    ts[visit] = VISITS_T0_US + (rng.random(k) * span * DAY_US).astype(np.int64)
                    values[visit] = 60.0
                    items[visit] = None
                    channel[visit] = "clinic"
                    classes = rng.choice(VISIT_CLASSES, k, p=[0.4, 0.3, 0.2, 0.1])
                    context[visit] = [f'{{"class": "{c}"}}' for c in classes]
                    table = {
                        "event_id": pa.array([f"e{i}" for i in seq]),
                        "customer_id": pa.array([f"c{i}" for i in who]),
                        "anonymous_id": pa.nulls(n, pa.string()),
                        "type": pa.array(kind.tolist()),
                        "item_id": pa.array(items, pa.string()),
                        "order_id": pa.array([f"o{i}" if k == "purchase" else None
                                              for i, k in zip(seq, kind, strict=True)]),
                        "quantity": pa.nulls(n, pa.float64()),
                        "value": pa.array(values, from_pandas=True),
                        "rating": pa.nulls(n, pa.float64()),
                        "channel": pa.array(channel.tolist()),
                        "ts": pa.array(ts, pa.int64()),
                        "context": pa.array(context, pa.string()),
                        "received_at": pa.array(ts, pa.int64()),
                    }  # fmt: skip
                    written += n
                    yield pa.table({c: table[c] for c in EVENT_COLUMNS})

            om.store.events.insert_stream(batches())
        ids = [f"c{i}" for i in range(customers)]
        cities = np.array(["Tokyo", "Osaka", "Kyoto", "Nagoya", "Sapporo", "Fukuoka"])
        om.upsert_customers([{"customer_id": c, "attributes": {"city": str(cities[i % 6]),
                              "member": f"m{i}", **birth(i)}}
                             for i, c in enumerate(ids)])  # fmt: skip
        for i, c in enumerate(ids):
            if holds_goal(i):
                om.care.add_goal(c, "checkup", "visit", 1, 182, "2022-01-01", goal_id=f"g{i}")
        om.outreach.declare(ACTIONS)
        r, f, m = (rng.integers(1, 6, customers) for _ in range(3))
        segments = np.array(["champions", "loyal", "potential", "at risk", "hibernating", "lost"])
        om.save_scores(
            "value",
            pd.DataFrame(
                {
                    "segment": segments[(r + f) % 6],
                    "rfm": [f"{a}{b}{c}" for a, b, c in zip(r, f, m, strict=True)],
                    "clv": rng.gamma(2.0, 40.0, customers),
                    "p_alive": rng.random(customers),
                    "expected_purchases": rng.random(customers) * 4,
                },
                index=pd.Index(ids, name="customer_id"),
            ),
        )
        log = om.store.decisions
        for i in range(20_000):
            variant = ("a", "b", "c")[i % 3]
            log.append(
                DecisionRecord(
                    f"d{i}",
                    "hero",
                    f"c{i}",
                    1000.0 + i,
                    variant,
                    1 / 3,
                    {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3},
                    policy="uniform",
                )
            )
            if rng.random() < 0.2:
                log.add_reward(f"d{i}", 1.0, 2000.0 + i)
        log.flush()
        om.store.imports.record({"import_id": "bench", "source": "synthetic.csv",
                                 "kind": "events", "rows_read": events, "rows_written": events,
                                 "duplicates": 0, "rejected": 12, "started_at": T0_US,
                                 "finished_at": T0_US + 1})  # fmt: skip
    built_s = time.perf_counter() - started
    started = time.perf_counter()
    result = train_job(str(path), "popularity")
    assert "error" not in result, result
    return {"build_s": round(built_s, 1), "train_s": round(time.perf_counter() - started, 1)}


def measure(path: Path, repeat: int, customers: int) -> list[dict]:
    from fastapi.testclient import TestClient

    from omotenashi.api import create_app
    from omotenashi.services import ServiceSettings

    settings = ServiceSettings(db=str(path), auth=False, train_on_start=False,
                               warm_on_start_s=0, warm_customers=0)  # fmt: skip
    someone = f"c{customers // 2 + 42}"  # a patient holding a goal
    shopper = f"c{customers // 2 + 41}"  # neither
    pages = [
        ("overview", "/"),
        ("customer_search_id", f"/customers?q={someone}"),
        ("customer_search_attribute", f"/customers?q=m{customers - 3}"),
        ("customer_360", f"/customer?id={someone}"),
        ("customer_360_filtered", f"/customer?id={someone}&type=purchase&channel=web"),
        ("customer_360_shopper", f"/customer?id={shopper}"),
        ("customer_brief", f"/customer/brief?id={someone}"),
        ("segments", "/segments"),
        ("segment_members", "/segments/members?segment=loyal"),
        ("decisions", "/decisions"),
        ("trust", "/trust"),
    ]
    out = []
    with TestClient(create_app(settings)) as client:
        # right after start-up the server reads the log's activity in the background: the
        # overview answers at once with what is read so far, then with all of it
        start = time.perf_counter()
        answer = client.get("/")
        out.append({"page": "overview_during_warm_up", "path": "/",
                    "first_ms": round((time.perf_counter() - start) * 1000, 1),
                    "complete": "Still reading" not in answer.text})  # fmt: skip
        insights = client.app.state.service.workspaces.get("default").om.insights
        insights.warmed.wait(timeout=3600)
        out.append({"page": "warm_up_done", "after_s": round(time.perf_counter() - start, 1)})
        for name, url in pages:
            start = time.perf_counter()
            answer = client.get(url)
            first = time.perf_counter() - start
            assert answer.status_code == 200, (url, answer.status_code, answer.text[:500])
            warm = []
            for _ in range(repeat):
                start = time.perf_counter()
                client.get(url)
                warm.append(time.perf_counter() - start)
            out.append({"page": name, "path": url, "first_ms": round(first * 1000, 1),
                        "warm_ms": round(statistics.median(warm) * 1000, 1),
                        "bytes": len(answer.content), "under_500ms": first < 0.5})  # fmt: skip
        start = time.perf_counter()
        exported = client.get("/segments/export.csv")
        out.append({"page": "export_all_csv", "path": "/segments/export.csv",
                    "first_ms": round((time.perf_counter() - start) * 1000, 1),
                    "rows": exported.text.count("\n") - 1})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the store here (reused if present)")
    parser.add_argument("--build-only", action="store_true", help="stop after the build")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="omotenashi-dashboard-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.db"
    built = {"build_s": None, "train_s": None}
    if not path.exists():
        built = build(path, args.customers, args.events)
    if args.build_only:
        json.dump({"benchmark": "dashboard", "store": str(path), **built}, sys.stdout)
        print()
        return
    pages = measure(path, args.repeat, args.customers)
    report = {
        "benchmark": "dashboard",
        "customers": args.customers,
        "events": args.events,
        **built,
        "pages": pages,
        "slowest_first_ms": max(p["first_ms"] for p in pages if "warm_ms" in p),
        "slowest_warm_ms": max(p["warm_ms"] for p in pages if "warm_ms" in p),
        "all_under_500ms": all(p["under_500ms"] for p in pages if "under_500ms" in p),
    }
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
