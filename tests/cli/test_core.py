"""The CLI as a user runs it: a real process, JSON on stdout, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ..conftest import write_csv


def cli(
    *args: str, cwd: Path, stdin: str | None = None, db: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; ``db`` becomes the default store (``$OMOTENASHI_DB``) of the command."""
    env = {**os.environ, "OMOTENASHI_DB": db} if db else None
    return subprocess.run(
        [sys.executable, "-m", "omotenashi", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
        env=env,
    )


def test_demo_json(tmp_path: Path) -> None:
    done = cli("demo", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["import"]["rows_read"] == 38584
    assert len(result["top_customers"]) == 10
    profile = result["profile"]
    assert profile["customer_id"] == result["top_customers"][0]["customer_id"]
    assert result["stitching"]["views_after"] == result["stitching"]["views_before"] + 3
    assert (tmp_path / "omotenashi-demo.db").exists()
    recs = result["recommendations"]["recommendations"]
    assert len(recs) == 5 and all(r["reasons"] for r in recs)
    bought = {
        e["item_id"]
        for e in json.loads(
            cli(
                "timeline",
                profile["customer_id"],
                "-n",
                "1000",
                "--json",
                "--db",
                "omotenashi-demo.db",
                cwd=tmp_path,
            ).stdout
        )["events"]
    }
    assert not {r["item_id"] for r in recs} & bought  # already seen items are not recommended
    session = result["session"]
    assert len(session["recommendations"]) == 5
    viewed = {v["item_id"] for v in session["viewed"]}
    assert len(viewed) == 3
    # the visitor is shown what to look at next, not the three items just viewed
    assert not {r["item_id"] for r in session["recommendations"]} & viewed
    # composed for the best customer: a message from parts and a gift box within its budget
    composed = result["compose"]
    message = composed["message"]
    assert message["customer_id"] == profile["customer_id"]
    assert [p["slot"] for p in message["parts"]] == [
        "greeting", "reason", "emphasis", "offer", "call_to_action",
    ]  # fmt: skip
    assert all(p["text"] in message["text"] for p in message["parts"])
    gift = composed["bundle"]["bundles"][0]
    assert gift["price"] <= composed["bundle"]["budget"] == 20
    assert gift["price"] == round(sum(p["price"] for p in gift["parts"]), 2)
    groups = [p["group"] for p in gift["parts"]]
    assert groups.count("centrepiece") == 1 and groups.count("wrapping") == 1
    assert all(p["reasons"] for p in gift["parts"])
    again = cli("demo", "--json", cwd=tmp_path)  # rebuilt, same figures
    assert json.loads(again.stdout)["stats"]["events"] == result["stats"]["events"]


def test_import_profile_customers_stats(tmp_path: Path, db_url: str) -> None:
    """On a store file (./omotenashi.db, the default) and on a PostgreSQL database (made the
    default store with ``$OMOTENASHI_DB``)."""
    server_db = db_url if "://" in db_url else None
    path = write_csv(
        tmp_path / "events.csv",
        """
user,item,order,qty,price,when
u1,a,o1,2,5,2024-01-01
u1,b,o2,1,10,2024-01-05
u2,a,o3,1,5,2024-01-06
""",
    )
    mapping = "customer=user,item=item,order=order,quantity=qty,price=price,time=when"
    done = cli("import", str(path), "--map", mapping, "--json", cwd=tmp_path, db=server_db)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events_written"] == 3
    profile = json.loads(cli("profile", "u1", "--json", cwd=tmp_path, db=server_db).stdout)
    assert profile["rfm"] == {
        "recency_days": 1,
        "frequency": 2,
        "monetary": 20.0,
        "as_of": "2024-01-06T00:00:00+00:00",
        "last_purchase": "2024-01-05T00:00:00+00:00",
    }
    top = json.loads(
        cli(
            "customers", "--top", "1", "--by", "frequency", "--json", cwd=tmp_path, db=server_db
        ).stdout
    )
    assert [row["customer_id"] for row in top] == ["u1"]
    stats = json.loads(cli("stats", "--json", cwd=tmp_path, db=server_db).stdout)
    assert (stats["events"], stats["customers"]) == (3, 2)
    tracked = cli(
        "track",
        "--json",
        cwd=tmp_path,
        db=server_db,
        stdin=json.dumps(
            {"anonymous_id": "d1", "type": "view", "item_id": "a", "timestamp": "2024-01-07"}
        ),
    )
    assert json.loads(tracked.stdout)[0]["stored"] is True
    linked = json.loads(
        cli("identify", "u2", "--anonymous", "d1", "--json", cwd=tmp_path, db=server_db).stdout
    )
    assert linked["linked"] == [{"kind": "anonymous", "value": "d1"}]
    timeline = json.loads(cli("timeline", "u2", "--json", cwd=tmp_path, db=server_db).stdout)
    assert [e["type"] for e in timeline["events"]] == ["view", "purchase"]


def test_value_report_puts_segment_and_clv_into_profiles(tmp_path: Path) -> None:
    assert cli("demo", "--json", cwd=tmp_path).returncode == 0
    db = str(tmp_path / "omotenashi-demo.db")
    report = cli("value", "report", "--db", db, "--json", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    customers = json.loads(report.stdout)
    assert customers["scores_saved"] > 0
    profile = json.loads(cli("profile", "12347", "--json", "--db", db, cwd=tmp_path).stdout)
    scores = profile["scores"]
    assert scores["segment"] in {
        "champions",
        "loyal",
        "potential",
        "new",
        "at risk",
        "can't lose",
        "hibernating",
        "lost",
    }
    assert scores["clv"] > 0 and 0 <= scores["p_alive"] <= 1 and len(scores["rfm"]) == 3


def test_errors_are_one_clear_line(tmp_path: Path, db_url: str) -> None:
    server_db = db_url if "://" in db_url else None
    path = write_csv(tmp_path / "bad.csv", "user,when\nu1,2024-01-01\nu2,someday\n")
    done = cli("import", str(path), "--map", "customer=user,time=when", cwd=tmp_path, db=server_db)
    assert done.returncode == 2
    assert "bad.csv, line 3, field 'when'" in done.stderr
    assert "Traceback" not in done.stderr
    missing = cli(
        "profile", "nobody", "--db", server_db or str(tmp_path / "omotenashi.db"), cwd=tmp_path
    )
    # an unknown customer is bad input, like a bad file: exit code 2
    assert missing.returncode == 2 and "unknown customer 'nobody'" in missing.stderr


@pytest.mark.slow
@pytest.mark.dataset
def test_profile_12347_from_the_full_file(retail_store: Path, tmp_path: Path) -> None:
    done = cli("profile", "12347", "--json", "--db", str(retail_store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    profile = json.loads(done.stdout)
    assert profile["customer_id"] == "12347"
    assert profile["attributes"] == {"country": "Iceland"}
    assert profile["rfm"]["frequency"] == 7 and profile["events_by_channel"] == {"web": 182}


def test_import_encodings_and_decimal_commas(tmp_path: Path) -> None:
    """A latin-1 customer file, a Shift-JIS catalogue and a ``;``/decimal-comma events file."""
    people = tmp_path / "kunden.csv"
    people.write_bytes("id;name\nc1;José Müller\nc2;Françoise\n".encode("latin-1"))
    refused = cli("import-customers", str(people), "--map", "customer=id", cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "kunden.csv" in refused.stderr and "--encoding" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    done = cli(
        "import-customers", str(people), "--map", "customer=id", "--encoding", "latin-1",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    items = tmp_path / "shouhin.csv"
    items.write_bytes("sku,title\nj1,抹茶ラテ\n".encode("shift_jis"))
    item_map = "item=sku,title=title"
    refused = cli("import-items", str(items), "--map", item_map, cwd=tmp_path)
    assert refused.returncode == 2 and "--encoding" in refused.stderr
    done = cli(
        "import-items", str(items), "--map", item_map, "--encoding", "shift_jis", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["items_written"] == 1
    sales = tmp_path / "umsatz.csv"
    sales.write_text("kunde;datum;betrag\nc1;2024-03-01;3,50\nc1;2024-03-02;1.234,50\n")
    done = cli(
        "import", str(sales), "--map", "customer=kunde,time=datum,value=betrag",
        "--decimal", ",", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    profile = json.loads(cli("profile", "c1", "--json", cwd=tmp_path).stdout)
    assert profile["rfm"]["monetary"] == 3.5 + 1234.5  # 1238.0
    assert profile["attributes"]["name"] == "José Müller"


def test_import_without_a_map_reads_the_header(tmp_path: Path) -> None:
    """A file in omotenashi's terms imports without --map; the output says which columns it
    took, and a header that names too little is one clear line, exit code 2."""
    events = write_csv(
        tmp_path / "events.csv",
        "Customer ID,item_id,timestamp,event_type\nc1,i1,2024-03-01,purchase\n",
    )
    done = cli("import", str(events), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "header: customer=Customer ID, item=item_id, time=timestamp, type=event_type" in (
        " ".join(done.stdout.split())
    )
    done = cli("import", str(events), "--json", cwd=tmp_path)
    assert json.loads(done.stdout)["columns_from_header"]["customer"] == "Customer ID"
    assert json.loads(done.stdout)["duplicates"] == 1
    bare = write_csv(tmp_path / "bare.csv", "who,what\nc1,i1\n")
    refused = cli("import", str(bare), cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "header (who, what)" in refused.stderr and "--map" in refused.stderr
    # MovieLens's ratings file as it is: its movieId is the item
    ratings = write_csv(
        tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n"
    )
    done = cli("import", str(ratings), cwd=tmp_path)
    said = " ".join(done.stdout.split())
    assert "customer=userId, item=movieId, rating=rating, time=timestamp" in said
    assert "No column of the header names the item" not in said
    # a header with no item column imports, and says so
    itemless = write_csv(tmp_path / "logins.csv", "user,when\nc1,2024-03-01\n")
    done = cli("import", str(itemless), "--map", "customer=user,time=when", cwd=tmp_path)
    assert "No column of the header" not in done.stdout  # a map given: what it says is meant
    itemless = write_csv(tmp_path / "visits.csv", "user,page,timestamp\nc1,home,2024-03-01\n")
    done = cli("import", str(itemless), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "No column of the header names the item" in " ".join(done.stdout.split())


def test_empty_file_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    done = cli("import", str(empty), "--map", "customer=user,time=when", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"error: file {empty} is empty"]
    header = write_csv(tmp_path / "header.csv", "user,when")
    done = cli("import", str(header), "--map", "customer=user,time=when", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows_read"] == 0


def test_import_a_file_without_times_with_default_time(tmp_path: Path) -> None:
    """A ratings export without a time column: refused in one line that names the way out, then
    imported with --default-time, every row at that time."""
    ratings = write_csv(tmp_path / "ratings.csv", "user,item,rating\nu1,i1,5\nu2,i1,3\n")
    refused = cli(
        "import", str(ratings), "--map", "customer=user,item=item,rating=rating", cwd=tmp_path
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "--default-time" in refused.stderr
    args = ("--map", "customer=user,item=item,rating=rating", "--default-time", "2024-05-01")
    done = cli("import", str(ratings), *args, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events_written"] == 2
    exported = tmp_path / "export"
    done = cli("export-events", str(exported), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    times = pd.read_parquet(exported / "events")["ts"]
    assert set(pd.to_datetime(times, utc=True)) == {pd.Timestamp("2024-05-01", tz="UTC")}
    bad = cli("import", str(ratings), *args[:2], "--default-time", "whenever", cwd=tmp_path)
    assert bad.returncode == 2 and "--default-time: cannot read 'whenever'" in bad.stderr


def _imported_elsewhere(store: Path, file: Path, *options: str) -> tuple[dict, pd.DataFrame]:
    """``import FILE OPTIONS --json`` into a new store in ``store``: its report, and the events
    as ``export-events`` writes them."""
    store.mkdir()
    done = cli("import", str(file), *options, "--json", cwd=store)
    assert done.returncode == 0, done.stderr
    exported = store / "export"
    assert cli("export-events", str(exported), cwd=store).returncode == 0
    return json.loads(done.stdout), pd.read_parquet(exported / "events")


def test_import_names_the_custom_types_and_maps_them_with_type_map(tmp_path: Path) -> None:
    """The report names the types the engine does not know, with the option that maps them;
    a second store imported with --type-map holds them as the known types."""
    log = write_csv(
        tmp_path / "log.csv",
        "customer_id,item_id,timestamp,event_type\n"
        "c1,i1,2024-03-01,order placed\nc1,i2,2024-03-02,order placed\nc2,i1,2024-03-02,view\n",
    )
    done = cli("import", str(log), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())
    assert "does not know: order_placed (2 rows)" in said
    assert "--type-map 'order_placed=purchase'" in said
    report, events = _imported_elsewhere(
        tmp_path / "fresh", log, "--type-map", "order placed=purchase"
    )
    assert report["events_written"] == 3 and report["custom_types"] == {}
    assert sorted(events["type"]) == ["purchase", "purchase", "view"]
    bad = cli("import", str(log), "--type-map", "order placed", cwd=tmp_path)
    assert bad.returncode == 2 and "--type-map: 'order placed' is not SPELLING=TYPE" in bad.stderr


def test_import_says_when_it_guessed_the_date_order_and_date_order_sets_it(
    tmp_path: Path,
) -> None:
    """A file whose days never pass 12 cannot show its order: it is read month first and the
    report says so, with the option; --date-order dmy reads it day first; a file that shows
    its order is read in it, with nothing said."""
    rows = "customer_id,item_id,timestamp\nc1,i1,01/12/2010 08:26\nc1,i2,03/12/2010\n"
    log = write_csv(tmp_path / "uk.csv", rows)
    done = cli("import", str(log), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())
    assert "Dates such as 01/12/2010 were read month first (12 January)" in said
    assert "--date-order dmy" in said
    report, events = _imported_elsewhere(tmp_path / "dmy", log, "--date-order", "dmy")
    assert (report["date_order"], report["date_order_source"]) == ("dmy", "given")
    times = sorted(pd.to_datetime(events["ts"], utc=True))
    assert times == [
        pd.Timestamp("2010-12-01 08:26", tz="UTC"),
        pd.Timestamp("2010-12-03", tz="UTC"),
    ]
    shown = write_csv(tmp_path / "shown.csv", rows + "c1,i3,13/12/2010\n")
    elsewhere = tmp_path / "shown"
    elsewhere.mkdir()
    done = cli("import", str(shown), "--json", cwd=elsewhere)
    report = json.loads(done.stdout)
    assert (report["date_order"], report["date_order_source"]) == ("dmy", "shown")
    plain = tmp_path / "plain"
    plain.mkdir()
    iso = write_csv(tmp_path / "iso.csv", "customer_id,item_id,timestamp\nc1,i1,2010-12-01\n")
    report = json.loads(cli("import", str(iso), "--json", cwd=plain).stdout)
    assert report["date_order"] is None and report["date_order_source"] is None
    bad = cli("import", str(log), "--date-order", "ymd", cwd=tmp_path)
    assert bad.returncode == 2 and "--date-order: 'ymd' is not one of dmy, mdy" in bad.stderr
