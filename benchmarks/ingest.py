"""Ingest benchmark: how fast events get into the embedded store, next to its two bounds.

Runs side by side, in one process and one run (ratios matter, machines are noisy):

* ``pandas_read``   — a plain ``pandas.read_parquet`` of the file (the reading bound);
* ``plain_append``  — the same rows appended to the same kind of store (SQLite, WAL,
  ``synchronous=FULL``) with one ``executemany`` in one transaction: no mapping, no checks, no
  identity work, no indexes (the writing bound); timed with building the Python rows from the
  frame, and (``plain_append_insert_only``) without;
* ``import_preset`` — ``omotenashi import FILE --preset online-retail`` on a fresh store:
  everything (reading, checks, content ids, returns, guest checkouts, identity links, indexes,
  the catalogue and the customer attributes), one transaction;
* ``reimport_preset`` — the same file again (everything is recognised as already stored);
* ``track``         — single events through the Python API, each durable when acknowledged;
* ``guest_rows``    — bad rows on the fast path: the file's lines that have a ``CustomerID``,
  imported with a plain column map (``--map customer=CustomerID,...``, no guest rule) and
  ``--skip-bad-rows``, once as they are (``clean``) and once with the ``CustomerID`` of a seeded
  20 % of the lines emptied (``with_20pct_guests``: guest checkouts, which that map rejects and
  reports in the side file), as CSV and as Parquet, the runs alternated (clean, guests, guests,
  clean) and each variant's faster run kept; ``ratio_guests_to_clean`` is the rate (file lines
  per second) with guests over the clean rate, goal at least 0.7. ``--only guest-rows`` runs
  this part alone.
* ``workbook``      — ``--only workbook``: the file's first ``--workbook-rows`` lines (default
  200,000) written as an Excel workbook, then read in a fresh process each: ``pandas_read_excel``
  (the whole sheet as one frame, ``engine="calamine"``: how workbooks were read before), the
  project's ``read_chunks`` (50,000 rows at a time), and a whole ``omotenashi import`` of the
  workbook next to the same rows as CSV; each with its seconds and the process's peak memory
  above an interpreter that has only imported what it needs (``peak_mb_above_start``; Linux's
  ``/proc``).

And the same on PostgreSQL (``postgres``), in the same run, next to its own bound:

* ``plain_copy``    — the same rows (from the frame already read) written as CSV by Arrow and
  sent with one ``COPY`` into a plain table without indexes, in one transaction;
* ``import_preset`` / ``reimport_preset`` / ``track`` as above, on a fresh database;
* ``ratio_import_preset_to_plain_copy`` — the goal is at least 0.3.

The server is ``--postgres URL`` (a user who may create databases), else
``$OMOTENASHI_TEST_POSTGRES``, else a private cluster started for the run (fsync on, as a real
server); ``--no-postgres`` skips this part.

Usage: ``python benchmarks/ingest.py [--file PATH] [--events 3000] [--postgres URL]``; prints one
JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from omotenashi import Omotenashi

DEFAULT_FILE = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "datasets"
    / "online-retail"
    / "Online Retail.parquet"
)


def plain_append(frame: pd.DataFrame, path: Path) -> tuple[float, float]:
    """Seconds for (building the rows + inserting + committing, inserting + committing only)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE lines (invoice TEXT, stock TEXT, description TEXT, quantity INTEGER, "
        "ts BIGINT, price REAL, customer REAL, country TEXT)"
    )
    start = time.perf_counter()
    micros = frame["InvoiceDate"].to_numpy(dtype="datetime64[us]").astype("int64").tolist()
    rows = list(
        zip(
            frame["InvoiceNo"].tolist(),
            frame["StockCode"].tolist(),
            frame["Description"].tolist(),
            frame["Quantity"].tolist(),
            micros,
            frame["UnitPrice"].tolist(),
            frame["CustomerID"].tolist(),
            frame["Country"].tolist(),
            strict=True,
        )
    )
    insert_start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    end = time.perf_counter()
    conn.close()
    return end - start, end - insert_start


def plain_copy(frame: pd.DataFrame, url: str) -> float:
    """Seconds to COPY the frame's rows into a plain PostgreSQL table (no indexes), committed:
    Arrow writes the CSV, one ``COPY ... FROM STDIN`` sends it."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE lines (invoice TEXT, stock TEXT, description TEXT, quantity BIGINT, "
            "ts TIMESTAMP, price DOUBLE PRECISION, customer DOUBLE PRECISION, country TEXT)"
        )
        conn.commit()
        start = time.perf_counter()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        sink = io.BytesIO()
        options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
        pacsv.write_csv(table, sink, write_options=options)
        with conn.cursor() as cursor, cursor.copy("COPY lines FROM STDIN (FORMAT csv)") as copy:
            copy.write(sink.getvalue())
        conn.commit()
        seconds = time.perf_counter() - start
        assert conn.execute("SELECT COUNT(*) FROM lines").fetchone()[0] == len(frame)
    return seconds


@contextlib.contextmanager
def postgres_server(url: str | None):
    """A server to create the benchmark's databases on (see the module docstring)."""
    from omotenashi.testing.postgres import PostgresServer, server

    if url:
        yield PostgresServer(url)
        return
    with server(durable=True) as found:
        yield found


def postgres_figures(frame: pd.DataFrame, file: Path, url: str | None, events: int) -> dict:
    rows = len(frame)
    with postgres_server(url) as pg:
        names = [pg.create_database() for _ in range(3)]
        try:
            copy_s = plain_copy(frame, pg.url_of(names[0]))
            with Omotenashi(pg.url_of(names[1])) as om:
                preset = om.import_events(file, preset="online-retail")
                again = om.import_events(file, preset="online-retail")
            assert again.events_written == 0
            track_s = time_track(pg.url_of(names[2]), events)
        finally:
            for name in names:
                pg.drop_database(name)
    return {
        "plain_copy": {"seconds": round(copy_s, 3), "rows_per_s": round(rows / copy_s)},
        "import_preset": {
            "seconds": round(preset.seconds, 3),
            "rows_per_s": round(rows / preset.seconds),
            "items": preset.items_written,
            "customers": preset.customers_written,
        },
        "reimport_preset": {
            "seconds": round(again.seconds, 3),
            "rows_per_s": round(rows / again.seconds),
        },
        "track": {
            "events": events,
            "seconds": round(track_s, 3),
            "events_per_s": round(events / track_s),
        },
        "ratio_import_preset_to_plain_copy": round(copy_s / preset.seconds, 3),
        "targets": {"ratio_to_plain_copy": 0.3},
    }


def time_track(url: str, events: int) -> float:
    """Seconds to record ``events`` single durable events, one ``track`` call each."""
    with Omotenashi(url) as om:
        start = time.perf_counter()
        for i in range(events):
            om.track(
                {
                    "customer_id": f"c{i % 500}",
                    "type": "view",
                    "item_id": f"i{i % 97}",
                    "channel": "web",
                    "timestamp": 1_700_000_000 + i,
                }
            )
        return time.perf_counter() - start


GUEST_MAP = (
    "customer=CustomerID,item=StockCode,time=InvoiceDate,order=InvoiceNo,quantity=Quantity,"
    "price=UnitPrice,context.country=Country"
)


def guest_rows_figures(frame: pd.DataFrame, work: Path, share: float = 0.2) -> dict:
    """The same lines clean and with ``share`` of them guest checkouts (no customer id),
    imported with ``--skip-bad-rows``, side by side (see the module docstring)."""
    import numpy as np

    clean = frame[frame["CustomerID"].notna()].reset_index(drop=True)
    guests = clean.copy()
    rng = np.random.default_rng(0)
    emptied = rng.choice(len(clean), size=round(share * len(clean)), replace=False)
    guests.loc[emptied, "CustomerID"] = np.nan
    out: dict = {
        "lines": len(clean),
        "guest_lines": len(emptied),
        "guest_share_in_the_real_file": round(float(frame["CustomerID"].isna().mean()), 3),
        "map": GUEST_MAP,
    }
    for fmt in ("csv", "parquet"):
        files = {}
        for name, data in (("clean", clean), ("with_20pct_guests", guests)):
            files[name] = work / f"guest-bench-{name}.{fmt}"
            if fmt == "csv":
                data.to_csv(files[name], index=False)
            else:
                data.to_parquet(files[name], index=False)
        runs: dict[str, list[dict]] = {"clean": [], "with_20pct_guests": []}
        order = ["clean", "with_20pct_guests", "with_20pct_guests", "clean"]
        for k, name in enumerate(order):
            with Omotenashi(work / f"guest-bench-{fmt}-{k}.db") as om:
                report = om.import_events(
                    files[name],
                    mapping=GUEST_MAP,
                    skip_bad_rows=True,
                    rejects_path=work / f"guest-bench-{fmt}-{k}.rejected.csv",
                )
            runs[name].append(
                {
                    "seconds": round(report.seconds, 3),
                    "rows_per_s": round(report.rows_read / report.seconds),
                    "written": report.events_written,
                    "rejected": report.rejected,
                }
            )
        best = {name: max(r["rows_per_s"] for r in rs) for name, rs in runs.items()}
        assert all(r["rejected"] == 0 for r in runs["clean"])
        assert all(r["rejected"] == len(emptied) for r in runs["with_20pct_guests"])
        out[fmt] = {
            "runs": runs,
            "rows_per_s": best,
            "ratio_guests_to_clean": round(best["with_20pct_guests"] / best["clean"], 3),
        }
    out["targets"] = {"ratio_guests_to_clean": 0.7}
    return out


# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's size when it forked
_PEAK = """
import json, sys, time
def kb(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key))
{imports}
start_kb = kb("VmRSS:")
t = time.perf_counter()
{work}
print(json.dumps({{"seconds": round(time.perf_counter() - t, 3), "rows": int(rows),
    "start_mb": round(start_kb / 1024, 1),
    "peak_mb_above_start": round((kb("VmHWM:") - start_kb) / 1024, 1)}}))
"""


def _in_fresh_process(imports: str, work: str) -> dict:
    """Seconds and peak memory of ``work`` in a new interpreter (``imports`` run first)."""
    import subprocess

    code = _PEAK.format(imports=imports, work=work)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def workbook_figures(frame: pd.DataFrame, work: Path, rows: int) -> dict:
    """Reading and importing a workbook against the whole-sheet read (see the module docs)."""
    from openpyxl import Workbook

    part = frame.head(rows)
    book_path, csv_path = work / "retail.xlsx", work / "retail.csv"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Online Retail")
    sheet.append([str(c) for c in part.columns])
    for row in part.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in row])
    book.save(book_path)
    part.to_csv(csv_path, index=False)
    mapping = (
        "customer=CustomerID,item=StockCode,time=InvoiceDate,order=InvoiceNo,"
        "quantity=Quantity,price=UnitPrice"
    )
    read_whole = _in_fresh_process(
        "import pandas as pd",
        f"rows = len(pd.read_excel({str(book_path)!r}, dtype=object, engine='calamine'))",
    )
    read_chunked = _in_fresh_process(
        "from pathlib import Path\nfrom omotenashi.files import read_chunks",
        f"rows = sum(len(c.frame) for c in read_chunks(Path({str(book_path)!r})))",
    )
    imports = {}
    for label, path in (("import_workbook", book_path), ("import_csv", csv_path)):
        imports[label] = _in_fresh_process(
            "from omotenashi import Omotenashi",
            f"with Omotenashi({str(work / (label + '.db'))!r}) as om:\n"
            f"    rows = om.import_events({str(path)!r}, mapping={mapping!r},"
            " skip_bad_rows=True).rows_read",
        )
    return {
        "rows": len(part),
        "pandas_read_excel": read_whole,
        "read_chunks": read_chunked,
        **imports,
        "ratio_memory_chunks_to_pandas": round(
            read_chunked["peak_mb_above_start"] / read_whole["peak_mb_above_start"], 3
        ),
        "ratio_rate_workbook_to_csv_import": round(
            imports["import_csv"]["seconds"] / imports["import_workbook"]["seconds"], 3
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--events", type=int, default=3000, help="single events to track")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("OMOTENASHI_TEST_POSTGRES"),
        help="PostgreSQL server URL (default: $OMOTENASHI_TEST_POSTGRES, else a private one)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite figures only")
    parser.add_argument(
        "--only",
        choices=("guest-rows", "workbook"),
        help="run one part alone (guest-rows: bad rows; workbook: Excel reading)",
    )
    parser.add_argument("--workbook-rows", type=int, default=200_000, help="rows (--only workbook)")
    args = parser.parse_args()
    if not args.file.exists():
        sys.exit(f"missing dataset: {args.file}")
    if args.only == "workbook":
        with tempfile.TemporaryDirectory() as tmp:
            figures = workbook_figures(pd.read_parquet(args.file), Path(tmp), args.workbook_rows)
        print(json.dumps({"benchmark": "ingest", "file": args.file.name, "workbook": figures}))
        return
    if args.only == "guest-rows":
        with tempfile.TemporaryDirectory() as tmp:
            figures = guest_rows_figures(pd.read_parquet(args.file), Path(tmp))
        print(json.dumps({"benchmark": "ingest", "file": args.file.name, "guest_rows": figures}))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        frame = pd.read_parquet(args.file)
        read_s = time.perf_counter() - start
        rows = len(frame)

        append_s, insert_only_s = plain_append(frame, work / "plain.db")

        with Omotenashi(work / "preset.db") as om:
            preset = om.import_events(args.file, preset="online-retail")
            again = om.import_events(args.file, preset="online-retail")
        assert again.events_written == 0

        track_s = time_track(str(work / "track.db"), args.events)
        track_normal_s = time_track(f"{work / 'track-normal.db'}?synchronous=normal", args.events)
        guest_rows = guest_rows_figures(frame, work)
    postgres = None
    if not args.no_postgres:
        postgres = postgres_figures(frame, args.file, args.postgres, args.events)

    result = {
        "benchmark": "ingest",
        "file": args.file.name,
        "rows": rows,
        "pandas_read": {"seconds": round(read_s, 3), "rows_per_s": round(rows / read_s)},
        "plain_append": {"seconds": round(append_s, 3), "rows_per_s": round(rows / append_s)},
        "plain_append_insert_only": {
            "seconds": round(insert_only_s, 3),
            "rows_per_s": round(rows / insert_only_s),
        },
        "import_preset": {
            "seconds": round(preset.seconds, 3),
            "rows_per_s": round(rows / preset.seconds),
            "items": preset.items_written,
            "customers": preset.customers_written,
        },
        "reimport_preset": {
            "seconds": round(again.seconds, 3),
            "rows_per_s": round(rows / again.seconds),
        },
        "track": {
            "events": args.events,
            "seconds": round(track_s, 3),
            "events_per_s": round(args.events / track_s),
            "synchronous": "full",
        },
        "track_synchronous_normal": {
            "events": args.events,
            "seconds": round(track_normal_s, 3),
            "events_per_s": round(args.events / track_normal_s),
        },
        "guest_rows": guest_rows,
        "ratio_import_preset_to_plain_append": round(append_s / preset.seconds, 3),
        "ratio_import_preset_to_insert_only": round(insert_only_s / preset.seconds, 3),
        "targets": {
            "import_rows_per_s": 150_000,
            "ratio_to_plain_append": 0.3,
            "track_events_per_s": 2_000,
        },
    }
    if postgres is not None:
        result["postgres"] = postgres
    print(json.dumps(result))


if __name__ == "__main__":
    main()
