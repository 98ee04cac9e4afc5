"""Compose benchmark: exact solve time of the best bundle (and the top 5) for random catalogues
of 50, 200 and 1,000 parts, and of a trip plan over the sample travel catalogue for 3, 5 and 7
days. Goal: under 100 ms for 200 parts. Prints one JSON document (wall and CPU times). Not a
test.

    python benchmarks/compose.py [--sizes 50,200,1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from importlib import resources

import numpy as np

from omotenashi.compose import (
    Taste,
    TravelTaste,
    best_bundles,
    parse_bundle_catalog,
    parse_travel_catalog,
    plan_trip,
)


def catalogue(n: int, seed: int) -> tuple[dict, Taste]:
    """A random catalogue shaped like a real one: 2 pick-one groups, 3 optional groups, some
    incompatible pairs and dependencies, 5% out of stock, a budget that binds."""
    rng = np.random.default_rng(seed)
    groups = [
        {"id": "g0", "min": 1, "max": 1},
        {"id": "g1", "min": 1, "max": 1},
        {"id": "g2", "max": 2},
        {"id": "g3", "max": 3},
        {"id": "g4", "max": 2},
    ]
    cats = [f"cat{i}" for i in range(12)]
    parts = [
        {
            "id": f"p{i}",
            "group": f"g{i % 5}",
            "price": round(float(rng.uniform(0.5, 12)), 2),
            "category": cats[int(rng.integers(len(cats)))],
            "stock": 0 if rng.random() < 0.05 else 10,
        }
        for i in range(n)
    ]
    pairs = rng.integers(0, n, size=(n // 10, 2))
    incompatible = [[f"p{a}", f"p{b}"] for a, b in pairs if a != b]
    deps = rng.integers(0, n, size=(n // 20, 2))
    requires = [[f"p{a}", f"p{b}"] for a, b in deps if a != b]
    taste = Taste(
        bought={f"p{i}": int(rng.integers(1, 4)) for i in rng.choice(n, size=n // 10)},
        categories={c: float(rng.random()) for c in cats},
        model_ranks={f"p{i}": r + 1 for r, i in enumerate(rng.choice(n, size=min(n, 100)))},
        model_size=100,
    )
    data = {
        "groups": groups,
        "parts": parts,
        "incompatible": incompatible,
        "requires": requires,
        "budget": 25.0,
    }
    return data, taste


def timed(fn, repeat: int) -> dict[str, float]:
    """Median and max wall time, and median CPU time of this process (steadier than wall time
    on a shared machine: time spent waiting for a core does not count)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.process_time() - start_cpu))
    return {
        "median_ms": round(statistics.median(wall), 2),
        "max_ms": round(max(wall), 2),
        "cpu_median_ms": round(statistics.median(cpu), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,1000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bundles = []
    for n in (int(s) for s in args.sizes.split(",")):
        data, taste = catalogue(n, seed=n)
        catalog = parse_bundle_catalog(data)
        best = best_bundles(catalog, taste)[0]
        bundles.append(
            {
                "parts": n,
                "constraints": len(data["incompatible"]) + len(data["requires"]) + 8,
                "best_utility": best.utility,
                "best_price": best.price,
                "top1": timed(lambda c=catalog, t=taste: best_bundles(c, t), args.repeat),
                "top5": timed(lambda c=catalog, t=taste: best_bundles(c, t, top=5), args.repeat),
            }
        )
    path = resources.files("omotenashi.data") / "travel_kansai.json"
    travel = parse_travel_catalog(json.loads(path.read_text(encoding="utf-8")))
    taste = TravelTaste({"Temples": 1.0, "Food": 0.6, "Nature": 0.3}, level=1.6, hours=6.0)
    plans = []
    for days in (3, 5, 7):

        def solve(d=days):
            return plan_trip(travel, taste, start=dt.date(2026, 4, 6), days=d, budget=250 * d)

        plan = solve()
        plans.append(
            {
                "days": days,
                "items": len(plan.items),
                "price": plan.price,
                **timed(solve, args.repeat),
            }
        )
    print(
        json.dumps(
            {"bundles": bundles, "plans": plans, "goal": "top1 < 100 ms at 200 parts"}, indent=1
        )
    )


if __name__ == "__main__":
    main()
