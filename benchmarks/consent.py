"""Consent benchmark: what an outreach run and an uncached answer pay for consent. Prints one JSON
document. Not a test.

    python benchmarks/consent.py [--customers 100000] [--db consent-bench.db]

Peers, side by side on one store: ``customers_without`` (one read for everyone) against
``allows`` asked once per customer (what a queue run would do without the bulk call), under
opt-out and opt-in; and the consent and preferences reads of one uncached recommendation
(``gate``) against the model's own answer time for the same customer.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from omotenashi.services import Omotenashi


def _timed(fn, repeat: int = 1) -> tuple[float, object]:
    start = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return (time.perf_counter() - start) / repeat, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="consent-bench-"))
    db = args.db or folder / "bench.db"
    rng = random.Random(7)
    n = args.customers
    with Omotenashi(db) as om:
        events = [
            {
                "customer_id": f"c{c}",
                "type": "purchase",
                "item_id": f"i{rng.randrange(200)}",
                "timestamp": "2025-01-02T10:00:00Z",
                "event_id": f"e{c}-{k}",
            }
            for c in range(n)
            for k in range(2)
        ]
        om.track_many(events)
        records = [
            {"customer_id": f"c{c}", "purpose": "marketing", "granted": rng.random() < 0.7}
            for c in range(0, n, 3)
        ]
        record_s, _ = _timed(lambda: om.consent.record_many(records, source="bench"))
        out: dict[str, object] = {
            "customers": n,
            "answers": len(records),
            "record_many_s": round(record_s, 3),
        }
        for model in ("opt-out", "opt-in"):
            om.consent.set_model(model)
            bulk_s, without = _timed(lambda: om.consent.customers_without("marketing"))
            sample = [f"c{c}" for c in rng.sample(range(n), 2_000)]
            each_s, _ = _timed(
                lambda sample=sample: [om.consent.allows(c, "marketing") for c in sample]
            )
            out[model] = {
                "without": len(without),
                "customers_without_s": round(bulk_s, 3),
                "allows_per_customer_ms": round(1000 * each_s / len(sample), 3),
                "allows_for_everyone_s_estimated": round(each_s / len(sample) * n, 1),
            }
        om.consent.set_model("opt-out")
        om.training.train("popularity", session_model=False)
        model, _ = om.recommendations.model()
        sample = [f"c{c}" for c in rng.sample(range(n), 500)]
        gate_s, _ = _timed(lambda: [om.consent.gate(c) for c in sample])
        recommend_s, _ = _timed(lambda: [model.recommend(c, 10, explain=False) for c in sample])
        out["uncached_answer"] = {
            "gate_ms": round(1000 * gate_s / len(sample), 3),
            "model_recommend_ms": round(1000 * recommend_s / len(sample), 3),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
