"""Growth curves: how import, storage, training and serving grow with the number of events.

For each size (events), a synthetic store with realistic skew: item popularity follows a Zipf
law, customers' activity is heavy-tailed (log-normal), and events come in sessions (views, some
carts, fewer purchases in orders, a few returns) over 180 days. For each size and backend
(SQLite file, PostgreSQL database), in one run so that the figures are peers:

* ``import_s``, ``events_per_s``: ``import_events`` of the generated Parquet file;
* ``store_mb``: the SQLite file (with its WAL) or ``pg_database_size``;
* ``train``: per model (popularity, itemknn, als), the seconds of ``om.training.train`` and the
  peak memory of the process that trained it;
* ``latency_ms``: p50/p99 of ``om.recommendations.for_customer`` (default model, n=10) over
  2,000 customers drawn at random (after 20 warm-up answers), in two rounds of other customers:
  the round with the lower p99 counts, both are in ``rounds`` (with 2,000 answers the p99 is the
  20th slowest, not the 4th, and a pause of the machine rarely hits both rounds); ``cpu_*`` the
  answering process's CPU time;
* ``serve``: ``omotenashi serve`` (one worker) on the store: seconds from launch to a ready
  ``/v1/ready``, then recommendations over HTTP for 300 customers asked once each (p50/p99, the
  first answer apart) and the server's peak memory;
* ``spark``: ``export-events`` to Parquet and ``spark-train`` (local[2]) beside them (SQLite
  only: the pipeline reads the export, not the store).

Every phase runs in a child process, so ``peak_mb`` (its maximum resident memory) is that
phase's own. At the end, ``exponents``: the slope of log(cost) on log(events) (1.0 = linear).
Prints one JSON object and writes ``--out`` (JSON) and ``--plot`` (PNG).

    python benchmarks/scale.py --sizes 100000,300000,1000000 [--no-postgres | --no-sqlite]
        [--no-spark] [--import-only] [--spark-max N] [--data FOLDER] [--repeat N]

Defaults are the issue's sizes (1M, 5M, 20M events): plan hours for 20M.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

MODELS = ("popularity", "itemknn", "als")
EVENTS_MAP = (
    "event_id=event_id,customer=customer_id,type=type,item=item_id,order=order_id,"
    "value=value,time=timestamp"
)


def generate(events: int, path: Path, seed: int = 0) -> dict:
    """A synthetic event file of about ``events`` rows (see the module docstring)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    customers = max(100, events // 25)
    items = max(200, int(events**0.75 / 2))
    activity = rng.lognormal(0.0, 1.2, customers)  # heavy-tailed: a few very active people
    activity /= activity.sum()
    session_sizes = rng.geometric(0.25, size=events // 3 + 10)  # events per session, mean 4
    sizes = session_sizes[np.cumsum(session_sizes) <= events]
    n_sessions = len(sizes)
    who = rng.choice(customers, size=n_sessions, p=activity)
    start = rng.uniform(0, 180 * 86400, size=n_sessions)
    rows = int(sizes.sum())
    session_of = np.repeat(np.arange(n_sessions), sizes)
    offset = np.concatenate([np.arange(s) for s in sizes]) * 45.0  # 45 s between clicks
    item = np.minimum(rng.zipf(1.15, size=rows), items) - 1  # Zipf popularity
    kind = rng.choice(
        np.array(["view", "add_to_cart", "purchase", "return"]),
        size=rows,
        p=[0.78, 0.12, 0.095, 0.005],
    )
    price = np.round(2.0 + (item % 97) * 0.75, 2)
    ts = pd.to_datetime(1_735_689_600 + start[session_of] + offset, unit="s", utc=True)
    order = np.where(
        np.isin(kind, ["purchase", "return"]), np.char.add("o", session_of.astype(str)), None
    )
    frame = pd.DataFrame(
        {
            "event_id": np.char.add("e", np.arange(rows).astype(str)),
            "customer_id": np.char.add("c", who[session_of].astype(str)),
            "type": kind,
            "item_id": np.char.add("i", item.astype(str)),
            "order_id": order,
            "value": np.where(np.isin(kind, ["purchase", "return"]), price, np.nan),
            "timestamp": ts,
        }
    )
    frame.to_parquet(path, index=False)
    return {"rows": rows, "customers": customers, "items": items, "sessions": n_sessions}


def _events_file(size: int, folder: Path) -> tuple[Path, dict]:
    """The generated file of ``size`` events in ``folder`` (reused when it is there, with the
    description written beside it) and that description."""
    folder.mkdir(parents=True, exist_ok=True)
    file, about = folder / f"events-{size}.parquet", folder / f"events-{size}.json"
    if file.exists() and about.exists():
        return file, json.loads(about.read_text())
    described = generate(size, file)
    about.write_text(json.dumps(described))
    return file, described


def _peak_mb() -> float:
    """This process's peak resident memory since it started (``VmHWM``: reset by ``exec``,
    where ``ru_maxrss`` keeps the high-water mark of the parent that forked it)."""
    try:
        with open("/proc/self/status") as status:
            return round(next(int(x.split()[1]) for x in status if x.startswith("VmHWM")) / 1024, 1)
    except (OSError, StopIteration):  # not Linux
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def phase_import(db: str, file: str) -> dict:
    from omotenashi import Omotenashi

    start = time.perf_counter()
    with Omotenashi(db) as om:
        report = om.import_events(file, mapping=EVENTS_MAP)
    seconds = time.perf_counter() - start
    return {
        "import_s": round(seconds, 2),
        "events_per_s": round(report.events_written / seconds),
        "stored": report.events_written,
        "peak_mb": _peak_mb(),
    }


def phase_train(db: str, model: str) -> dict:
    from omotenashi import Omotenashi

    start = time.perf_counter()
    with Omotenashi(db, create=False) as om:
        info = om.training.train(model, session_model=False)
    return {
        "train_s": round(time.perf_counter() - start, 2),
        "fit_s": info["fit_s"],
        "peak_mb": _peak_mb(),
    }


def phase_latency(db: str, requests: int = 2000, passes: int = 2) -> dict:
    """``passes`` rounds of ``requests`` answers, each round for its own random customers; the
    round with the lower p99 counts (as the fastest import does): a pause of this shared machine
    rarely hits the slowest answers of both. ``cpu_*``: this process's CPU time per answer (all
    of an answer's work on SQLite; PostgreSQL's own work runs in its server, outside it)."""
    from omotenashi import Omotenashi

    rounds = []
    with Omotenashi(db, create=False) as om:
        customers = om.rfm()
        ids = list(customers.index if "customer_id" not in customers else customers["customer_id"])
        rng = np.random.default_rng(1)
        for c in rng.integers(0, len(ids), size=20):
            om.recommendations.for_customer(str(ids[c]), n=10)
        for _ in range(passes):
            chosen = [str(ids[i]) for i in rng.integers(0, len(ids), size=requests)]
            wall, cpu = [], []
            for c in chosen:
                start, start_cpu = time.perf_counter(), time.thread_time()
                om.recommendations.for_customer(c, n=10)
                wall.append(time.perf_counter() - start)
                cpu.append(time.thread_time() - start_cpu)
            ms, cpu_ms = np.array(wall) * 1000, np.array(cpu) * 1000
            rounds.append(
                {
                    "p50_ms": round(float(np.percentile(ms, 50)), 2),
                    "p99_ms": round(float(np.percentile(ms, 99)), 2),
                    "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 2),
                    "cpu_p99_ms": round(float(np.percentile(cpu_ms, 99)), 2),
                }
            )
    best = min(rounds, key=lambda r: r["p99_ms"])
    return {**best, "requests": requests, "rounds": rounds, "peak_mb": _peak_mb()}


def phase_spark(db: str, folder: str) -> dict:
    from omotenashi import Omotenashi

    with Omotenashi(db, create=False) as om:
        start = time.perf_counter()
        exported = om.scale.export_events(folder)
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        info = om.scale.spark_train(folder, master="local[2]", factors=64, iterations=15)
        train_s = time.perf_counter() - start
    return {
        "export_s": round(export_s, 2),
        "exported_rows": exported["rows"],
        "spark_train_s": round(train_s, 2),
        "spark_steps_s": info["seconds"],
        "driver_peak_mb": _peak_mb(),
    }


def phase_serve(db: str, requests: int = 300) -> dict:
    """The real server on the store: seconds from launch to ``/v1/ready``, the first answer,
    and p50/p99 of recommendations over HTTP for customers asked once each (the model path:
    none is in the answer cache), with the server's peak memory."""
    import socket

    import httpx

    from omotenashi import Omotenashi
    from omotenashi.services import KeyStore, ServiceSettings

    with Omotenashi(db, create=False) as om:
        customers = om.rfm()
        ids = [str(i) for i in (customers["customer_id"] if "customer_id" in customers
                                else customers.index)]  # fmt: skip
    rng = np.random.default_rng(2)
    chosen = [ids[i] for i in rng.choice(len(ids), size=min(requests, len(ids)), replace=False)]
    keys = KeyStore(ServiceSettings(db=db).keys_path())
    token = keys.create("default", ["read"]).token
    keys.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    launched = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "omotenashi", "serve", "--db", db, "--port", str(port),
         "--workers", "1", "--retrain-after", "0", "--no-train-on-start"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers={"X-API-Key": token}, timeout=120) as http:
            ready_s = None
            while time.perf_counter() - launched < 600:
                try:
                    if http.get("/v1/ready").status_code == 200:
                        ready_s = time.perf_counter() - launched
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            if ready_s is None:
                return {"error": ["server not ready after 600 s"]}
            times = []
            for customer in chosen:
                start = time.perf_counter()
                answer = http.get(f"/v1/customers/{customer}/recommendations", params={"n": 10})
                times.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    return {"error": [f"{answer.status_code}: {answer.text[:200]}"]}
        with open(f"/proc/{server.pid}/status") as status:
            peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    finally:
        server.terminate()
        server.wait(60)
    ms = np.array(times) * 1000
    return {
        "ready_s": round(ready_s, 2),
        "first_ms": round(float(ms[0]), 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "requests": len(ms),
        "server_peak_mb": round(peak / 1024, 1),
    }


PHASES = {
    "import": phase_import,
    "train": phase_train,
    "latency": phase_latency,
    "spark": phase_spark,
    "serve": phase_serve,
}


def child(name: str, *args: str) -> dict:
    """Run one phase in a fresh interpreter (its own peak memory)."""
    done = subprocess.run(
        [sys.executable, __file__, "--phase", name, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def store_mb(db: str) -> float:
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db.split("?")[0]) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        return round(size / 2**20, 1)
    total = sum(
        Path(db + suffix).stat().st_size for suffix in ("", "-wal") if Path(db + suffix).exists()
    )
    return round(total / 2**20, 1)


def measure(
    fresh: Callable[[], str],
    file: Path,
    folder: Path,
    spark: bool,
    import_only: bool = False,
    repeat: int = 1,
) -> dict:
    """Every phase on one store; ``fresh()`` gives a new empty store (and removes the one it
    gave before). The import runs ``repeat`` times, each into a new store: the fastest counts
    (the machine's noise only ever adds time), ``runs_s`` lists them all."""
    runs = []
    for _ in range(max(1, repeat)):
        db = fresh()
        runs.append(child("import", db, str(file)))
    best = min(runs, key=lambda run: run.get("import_s", float("inf")))
    out: dict = {"import": {**best, "runs_s": [run.get("import_s") for run in runs]}}
    out["store_mb"] = store_mb(db)
    if import_only:  # the import's growth alone (minutes at 20M instead of hours)
        out["train"] = {model: {"skipped": True} for model in MODELS}
        out["latency_ms"] = {"skipped": True}
        print(json.dumps({"db": db.split("?")[0][-40:], **out}), file=sys.stderr, flush=True)
        return out
    out["train"] = {model: child("train", db, model) for model in MODELS}
    out["latency_ms"] = child("latency", db)  # the last trained (als) is the default
    out["serve"] = child("serve", db)
    if spark:
        out["spark"] = child("spark", db, str(folder / "lake"))
    print(json.dumps({"db": db.split("?")[0][-40:], **out}), file=sys.stderr, flush=True)
    return out


def exponent(sizes: list[int], values: list[float | None]) -> float | None:
    points = [(s, v) for s, v in zip(sizes, values, strict=True) if v]
    if len(points) < 2:
        return None
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return round(float(np.polyfit(x, y, 1)[0]), 3)


def targets(sizes: list[int], backends: dict, exps: dict) -> dict:
    """The issue's targets per backend: every phase worked at the largest size (no error),
    import exponent <= 1.1, p99 at the largest size within 2x of the smallest."""
    out: dict = {}
    for backend, runs in backends.items():
        last = runs[-1]
        failed = [
            name
            for name, phase in (
                ("import", last["import"]),
                *((f"train {m}", last["train"][m]) for m in MODELS),
                ("latency", last["latency_ms"]),
            )
            if "error" in phase
        ]
        p99 = [r["latency_ms"].get("p99_ms") for r in runs]
        ratio = round(p99[-1] / p99[0], 2) if p99[0] and p99[-1] else None
        exponent_ = exps[backend]["import_s"]
        out[backend] = {
            "largest_events": sizes[-1],
            "largest_worked": not failed,
            "failed": failed,
            "largest_peak_mb": max(
                [last["import"].get("peak_mb") or 0]
                + [last["train"][m].get("peak_mb") or 0 for m in MODELS]
            ),
            "import_exponent": exponent_,
            "import_exponent_ok": exponent_ is not None and exponent_ <= 1.1,
            "p99_ratio_largest_to_smallest": ratio,
            "p99_ok": ratio is not None and ratio <= 2.0,
        }
    return out


def plot(result: dict, path: Path) -> None:
    """Three panels: seconds (import, training per model, Spark), recommendation latency (in
    process: wall and CPU time; over HTTP), MB (store, import and training peaks). A series
    with nothing measured is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = result["sizes"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 6))

    def line(ax, xs, ys, style, label):
        # a backend stopped early has fewer runs than sizes: its first ones
        points = [(x, y) for x, y in zip(xs[: len(ys)], ys, strict=True) if y]
        if points:
            ax.plot([x for x, _ in points], [y for _, y in points], style, label=label)

    for backend, runs in result["backends"].items():

        def series(get, runs=runs):
            return [get(run) for run in runs]

        line(
            axes[0], sizes, series(lambda r: r["import"].get("import_s")), "o-", f"{backend} import"
        )
        for model in MODELS:
            line(
                axes[0],
                sizes,
                series(lambda r, m=model: r["train"][m].get("train_s")),
                "s--",
                f"{backend} train {model}",
            )
        if backend == "sqlite" and runs and "spark" in runs[0]:
            done = [
                (s, r["spark"].get("spark_train_s"))
                for s, r in zip(sizes, runs, strict=True)
                if "spark" in r
            ]
            line(axes[0], [s for s, _ in done], [t for _, t in done], "^-", "spark-train local[2]")
        for key, style, label in (
            ("p50_ms", "o-", "p50"),
            ("p99_ms", "o--", "p99"),
            ("cpu_p99_ms", "x:", "p99 CPU time"),
        ):
            line(
                axes[1],
                sizes,
                series(lambda r, k=key: r["latency_ms"].get(k)),
                style,
                f"{backend} {label}",
            )
        line(
            axes[1],
            sizes,
            series(lambda r: r.get("serve", {}).get("p99_ms")),
            "d-.",
            f"{backend} p99 over HTTP",
        )
        line(axes[2], sizes, series(lambda r: r["store_mb"]), "o-", f"{backend} store")
        line(
            axes[2],
            sizes,
            series(lambda r: r["import"].get("peak_mb")),
            "^:",
            f"{backend} import peak",
        )
        line(
            axes[2],
            sizes,
            series(lambda r: max((r["train"][m].get("peak_mb") or 0) for m in MODELS)),
            "s--",
            f"{backend} training peak",
        )
    titles = ("seconds", "recommendation latency (ms)", "MB")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("events")
        ax.set_title(title)
        if ax.get_lines():
            ax.set_yscale("log")
            # under the panel: inside, eight series hide the lines they name
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
        else:  # e.g. --import-only: say so instead of an empty frame with a legend
            ax.text(0.5, 0.5, "not measured in this run", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--data",
        help="folder to keep the generated event files in and reuse them from (generating 20M "
        "events takes minutes; a run with the same sizes then skips it)",
    )
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument(
        "--import-only", action="store_true", help="measure the imports (and store sizes) only"
    )
    parser.add_argument(
        "--spark-max",
        type=int,
        default=5_000_000,
        help="largest size the Spark pipeline also runs at (local[2] on 2 cores: about an hour "
        "at 20M events)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="imports per size and backend, each into a new store; the fastest counts",
    )
    parser.add_argument("--out", default="scale.json")
    parser.add_argument("--plot", default="scale.png")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        print(json.dumps(PHASES[name](*rest)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    result: dict = {"sizes": sizes, "machine": {"cpus": os.cpu_count()}, "data": [], "backends": {}}
    with tempfile.TemporaryDirectory(prefix="omotenashi-scale-") as tmp:
        work = Path(tmp)
        pg_cm = None
        if not args.no_postgres:
            from omotenashi.testing.postgres import server

            pg_cm = server(durable=True)
            pg = pg_cm.__enter__()
        try:
            for size in sizes:
                file, described = _events_file(size, Path(args.data) if args.data else work)
                result["data"].append({"events": size, **described})
                folder = work / f"sqlite-{size}"
                if not args.no_sqlite:

                    def sqlite_store(folder: Path = folder) -> str:
                        shutil.rmtree(folder, ignore_errors=True)
                        folder.mkdir()
                        return str(folder / "store.db")

                    result["backends"].setdefault("sqlite", []).append(
                        measure(
                            sqlite_store,
                            file,
                            folder,
                            spark=not args.no_spark and size <= args.spark_max,
                            import_only=args.import_only,
                            repeat=args.repeat,
                        )
                    )
                    shutil.rmtree(folder, ignore_errors=True)
                if pg_cm is not None:
                    made: list[str] = []

                    def pg_store(size: int = size, made: list[str] = made) -> str:
                        while made:
                            pg.drop_database(made.pop())
                        made.append(pg.create_database())
                        return f"{pg.url_of(made[0])}?artefacts={work / f'pg-{size}'}"

                    result["backends"].setdefault("postgresql", []).append(
                        measure(
                            pg_store,
                            file,
                            work,
                            spark=False,
                            import_only=args.import_only,
                            repeat=args.repeat,
                        )
                    )
                    while made:
                        pg.drop_database(made.pop())
                if not args.data:
                    file.unlink()
        finally:
            if pg_cm is not None:
                pg_cm.__exit__(None, None, None)
    exps: dict = {}
    for backend, runs in result["backends"].items():
        exps[backend] = {
            "import_s": exponent(sizes, [r["import"].get("import_s") for r in runs]),
            "store_mb": exponent(sizes, [r["store_mb"] for r in runs]),
            **{
                f"train_{m}_s": exponent(sizes, [r["train"][m].get("train_s") for r in runs])
                for m in MODELS
            },
            "p99_ms": exponent(sizes, [r["latency_ms"].get("p99_ms") for r in runs]),
        }
        if backend == "sqlite" and runs and "spark" in runs[0]:
            spark_runs = [(s, r["spark"]) for s, r in zip(sizes, runs, strict=True) if "spark" in r]
            spark_sizes = [s for s, _ in spark_runs]
            exps["spark"] = {
                "export_s": exponent(spark_sizes, [r.get("export_s") for _, r in spark_runs]),
                "spark_train_s": exponent(
                    spark_sizes, [r.get("spark_train_s") for _, r in spark_runs]
                ),
            }
    result["exponents"] = exps
    result["targets"] = targets(sizes, result["backends"], exps)
    Path(args.out).write_text(json.dumps(result, indent=2))
    plot(result, Path(args.plot))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
