"""CLI start-up benchmark: median wall time of `omotenashi --help`, subcommands' --help and the
light commands (keys, track, profile ... on an embedded SQLite store). Prints one JSON document.
Not a test.

Wall time (what a user waits) and CPU time (user + system: the cost itself, which other work
on a busy machine inflates much less). Peers in the same run: ``python -c pass`` (the
interpreter's floor) and ``import omotenashi``.
Each ``--venv LABEL=DIR`` is a virtual environment with omotenashi installed (e.g. one of an
older checkout, to compare before/after); runs go round-robin over the venvs and commands so
that load on the machine hits them all alike.

    python benchmarks/startup.py [--runs 10] [--venv before=../old/.venv --venv after=.venv]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVENT = (
    '{"customer_id": "c1", "type": "purchase", "item_id": "tea", "value": 4.5, '
    '"event_id": "bench-1", "timestamp": "2025-01-05T10:00:00Z"}'
)

#: (name, argv after the program, stdin); "{db}" is the store of the venv.
HELP = [
    ("--help", ["--help"], None),
    ("import --help", ["import", "--help"], None),
    ("profile --help", ["profile", "--help"], None),
    ("train --help", ["train", "--help"], None),
    ("value fit --help", ["value", "fit", "--help"], None),
    ("evaluate topn --help", ["evaluate", "topn", "--help"], None),
    ("decide simulate --help", ["decide", "simulate", "--help"], None),
    ("serve --help", ["serve", "--help"], None),
    ("keys create --help", ["keys", "create", "--help"], None),
]
LIGHT = [
    ("presets", ["presets"], None),
    ("init", ["init", "--db", "{db}"], None),
    (
        "keys create",
        ["keys", "create", "--workspace", "w", "--scope", "read", "--db", "{db}"],
        None,
    ),
    ("keys list", ["keys", "list", "--db", "{db}"], None),
    ("track (stdin)", ["track", "--db", "{db}"], EVENT),
    ("identify", ["identify", "c1", "--anonymous", "cookie-1", "--db", "{db}"], None),
    ("profile c1", ["profile", "c1", "--db", "{db}"], None),
    ("profile c1 --json", ["profile", "c1", "--json", "--db", "{db}"], None),
    ("timeline c1", ["timeline", "c1", "--db", "{db}"], None),
    ("stats", ["stats", "--db", "{db}"], None),
]


def _run(argv: list[str], stdin: str | None, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        argv,
        input=stdin,
        text=True,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--venv",
        action="append",
        metavar="LABEL=DIR",
        help="a virtual environment with omotenashi installed (default: this interpreter's)",
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--only", choices=["help", "light"], help="run one group of commands")
    args = parser.parse_args()
    venvs = dict(v.split("=", 1) for v in args.venv) if args.venv else {"this": sys.prefix}

    commands = [("python -c pass", None, None), ("import omotenashi", None, None)]
    commands += [] if args.only == "light" else HELP
    commands += [] if args.only == "help" else LIGHT
    times: dict[str, dict[str, list[tuple[float, float]]]] = {
        name: {v: [] for v in venvs} for name, *_ in commands
    }

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Bytecode is cached as an installed package has it (``PYTHONDONTWRITEBYTECODE`` would
        # compile every module of the package on each run), in a folder of this run so that no
        # checkout is written to.
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        envs = {
            label: {**base, "COLUMNS": "100", "PYTHONPYCACHEPREFIX": str(work / f"pyc-{label}")}
            for label in venvs
        }
        stores = {}
        for label, folder in venvs.items():
            program = str(Path(folder) / "bin" / "omotenashi")
            stores[label] = str(work / f"{label}.db")
            _run([program, "track", "--db", stores[label]], EVENT, work, envs[label])  # a customer
        for round_ in range(args.warmup + args.runs):
            for name, argv, stdin in commands:
                for label, folder in venvs.items():
                    python = str(Path(folder) / "bin" / "python")
                    if name == "python -c pass":
                        full = [python, "-c", "pass"]
                    elif name == "import omotenashi":
                        full = [python, "-c", "import omotenashi"]
                    else:
                        program = str(Path(folder) / "bin" / "omotenashi")
                        full = [program, *(a.format(db=stores[label]) for a in argv)]
                    spent = _run(full, stdin, work, envs[label])
                    if round_ >= args.warmup:  # warm-up rounds write the bytecode caches
                        times[name][label].append(spent)

    def table(pick: int, summary) -> dict[str, dict[str, float]]:
        return {
            name: {label: round(summary([t[pick] for t in ts]), 3) for label, ts in per.items()}
            for name, per in times.items()
        }

    result = {
        "runs": args.runs,
        "venvs": venvs,
        "warmup_rounds": args.warmup,
        "bytecode": "cached (PYTHONPYCACHEPREFIX in a temporary folder, written by the warm-up)",
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        # wall time is what a user waits; CPU time (user + system) is the cost itself, which a
        # busy machine (other processes on the same cores) inflates much less
        "median_wall_s": table(0, statistics.median),
        "median_cpu_s": table(1, statistics.median),
        "min_wall_s": table(0, min),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
