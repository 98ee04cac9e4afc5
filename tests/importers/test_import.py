"""Importers: column maps, defaults, returns, bad rows, idempotence, file formats."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from omotenashi import DataError, ImportRowError, Omotenashi

from ..conftest import write_csv

RETAIL_MAP = (
    "customer=CustomerID,item=StockCode,time=InvoiceDate,order=InvoiceNo,quantity=Quantity,"
    "price=UnitPrice,context.country=Country"
)
RETAIL_CSV = """
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26,3.39,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26,3.39,17850,United Kingdom
C536379,D,Discount,-1,2010-12-01 09:41,27.50,17850,United Kingdom
536380,22961,JAM MAKING SET PRINTED,24,2010-12-01 09:41,1.45,17809,United Kingdom
536381,22139,RETROSPOT TEA SET,-2,2010-12-02 10:00,4.95,17809,United Kingdom
"""


def counts(om: Omotenashi) -> dict[str, object]:
    stats = om.stats()
    return {
        k: stats[k]
        for k in (
            "events",
            "items",
            "customer_records",
            "identity_links",
            "purchase_value",
            "return_value",
        )
    }


def test_generic_map_prices_returns_and_context(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "retail.csv", RETAIL_CSV)
    report = om.import_events(path, mapping=RETAIL_MAP, cancel_prefix="C")
    assert (report.rows_read, report.events_written, report.rejected) == (6, 6, 0)
    events = om.events_frame().sort_values("seq" if "seq" in om.events_frame() else "timestamp")
    frame = om.events_frame()
    assert frame["type"].value_counts().to_dict() == {"purchase": 4, "return": 2}
    # value = price x quantity; returns store positive amounts
    ret = frame[frame["order_id"] == "C536379"].iloc[0]
    assert ret["type"] == "return"
    assert (ret["quantity"], ret["value"]) == pytest.approx((1.0, 27.5))
    neg = frame[frame["order_id"] == "536381"].iloc[0]
    assert (neg["type"], neg["value"]) == ("return", pytest.approx(9.9))
    assert frame.iloc[0]["context"] == {"country": "United Kingdom"}
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert len(events) == 6
    profile = om.profile("17850")
    assert profile.rfm.frequency == 1  # two invoices, one of them a cancellation
    assert profile.rfm.monetary == pytest.approx(6 * 2.55 + 2 * 6 * 3.39 - 27.5)


def test_importing_the_same_file_twice_changes_nothing(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "retail.csv", RETAIL_CSV)
    first = om.import_events(path, mapping=RETAIL_MAP)
    before = counts(om)
    second = om.import_events(path, mapping=RETAIL_MAP)
    assert counts(om) == before
    assert first.events_written == 6  # the two identical lines stay two events
    assert (second.events_written, second.duplicates) == (0, 6)


def test_bad_row_stops_the_import_and_writes_nothing(om: Omotenashi, tmp_path: Path) -> None:
    lines = RETAIL_CSV.strip().splitlines()
    lines.insert(4, "536366,22633,HAND WARMER,six,2010-12-01 08:28,1.85,17850,United Kingdom")
    path = write_csv(tmp_path / "bad.csv", "\n".join(lines))
    with pytest.raises(ImportRowError) as info:
        om.import_events(path, mapping=RETAIL_MAP)
    message = str(info.value)
    assert "bad.csv, line 5" in message and "'Quantity'" in message and "'six'" in message
    assert info.value.line == 5
    assert om.stats()["events"] == 0


def test_bad_time_is_named(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "user,item,when\nu1,a,2024-01-01\nu2,b,31/31/2024x\n")
    with pytest.raises(ImportRowError, match=r"t\.csv, line 3, field 'when'.*31/31/2024x"):
        om.import_events(path, mapping="customer=user,item=item,time=when")
    assert om.stats()["events"] == 0


def test_skip_bad_rows_writes_a_side_file(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mixed.csv",
        """
user,item,when,stars
u1,a,2024-01-01,4
,b,2024-01-02,5
u3,c,not-a-date,3
u4,d,2024-01-04,lots
u5,e,2024-01-05,2
""",
    )
    report = om.import_events(
        path, mapping="customer=user,item=item,time=when,rating=stars", skip_bad_rows=True
    )
    assert (report.events_written, report.rejected) == (2, 3)
    side = pd.read_csv(report.rejects_file)
    assert side["line"].tolist() == [3, 4, 5]
    assert side["field"].tolist() == ["user", "when", "stars"]
    assert "no customer id" in side["reason"].iloc[0]
    assert om.events_frame()["type"].unique().tolist() == ["rating"]


# A shop file with bad rows at known lines (line 1 is the header): guest checkouts without a
# customer id on lines 3, 6, 8 (also a bad type) and 12 (also no invoice), a bad quantity on 4,
# a bad date on 5, a bad type on 7 and a bad price on 11; lines 2, 9, 10 and 13 are good.
SHOP_CSV = """
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,Kind
536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26,2.55,17850,United Kingdom,purchase
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26,3.39,,United Kingdom,purchase
536366,22633,HAND WARMER,six,2010-12-01 08:28,1.85,17850,United Kingdom,purchase
536367,84879,ASSORTED BIRD,32,not a date,1.69,13047,United Kingdom,purchase
536367,22745,POPPY'S PLAYHOUSE,6,2010-12-01 08:34,2.10,,France,purchase
536368,22960,JAM MAKING SET,6,2010-12-01 08:34,4.25,13047,United Kingdom,bad type!
536368,22913,RED COAT RACK,3,2010-12-01 08:34,4.95,,United Kingdom,bad type!
536369,21756,BATH BUILDING,3,2010-12-01 08:35,5.95,13047,United Kingdom,purchase
536370,22728,ALARM CLOCK,24,2010-12-01 08:45,3.75,12583,France,purchase
536370,22727,ALARM CLOCK RED,24,2010-12-01 08:45,three,12583,France,purchase
,22726,ALARM CLOCK GREEN,12,2010-12-01 08:45,3.75,,France,purchase
536371,22086,PAPER CHAIN KIT,80,2010-12-01 09:00,2.55,13748,United Kingdom,purchase
"""
SHOP_MAP = (
    "customer=CustomerID,item=StockCode,time=InvoiceDate,order=InvoiceNo,quantity=Quantity,"
    "price=UnitPrice,type=Kind"
)
_NO_ONE = "no customer id and no anonymous id"
_BAD_TYPE = (
    "'bad type!' is not an event type name "
    "(give the type it is with --type-map, e.g. --type-map 'SPELLING=purchase')"
)
# (line, field, reason) of the side file, in the order the checks run within each block of rows:
# ids first, then time, numbers, type; a row is reported once, under the first check it fails
SHOP_REJECTS = {
    "one block": [
        (3, "CustomerID", _NO_ONE),
        (6, "CustomerID", _NO_ONE),
        (8, "CustomerID", _NO_ONE),
        (12, "CustomerID", _NO_ONE),
        (5, "InvoiceDate", "cannot read 'not a date' as a date/time"),
        (4, "Quantity", "'six' is not a number"),
        (11, "UnitPrice", "'three' is not a number"),
        (7, "Kind", _BAD_TYPE),
    ],
    "blocks of 4 rows": [  # lines 2-5, 6-9, 10-13
        (3, "CustomerID", _NO_ONE),
        (5, "InvoiceDate", "cannot read 'not a date' as a date/time"),
        (4, "Quantity", "'six' is not a number"),
        (6, "CustomerID", _NO_ONE),
        (8, "CustomerID", _NO_ONE),
        (7, "Kind", _BAD_TYPE),
        (12, "CustomerID", _NO_ONE),
        (11, "UnitPrice", "'three' is not a number"),
    ],
}


@pytest.mark.parametrize("blocks", sorted(SHOP_REJECTS))
def test_skipped_rows_are_reported_with_file_line_field_and_the_row(
    om: Omotenashi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocks: str
) -> None:
    import functools

    import omotenashi.importers._run as run
    from omotenashi.files import read_chunks

    if blocks == "blocks of 4 rows":
        monkeypatch.setattr(run, "read_chunks", functools.partial(read_chunks, chunk_rows=4))
    path = write_csv(tmp_path / "shop.csv", SHOP_CSV)
    report = om.import_events(path, mapping=SHOP_MAP, skip_bad_rows=True)
    assert (report.rows_read, report.events_written, report.rejected) == (12, 4, 8)
    text = Path(report.rejects_file).read_bytes().decode("utf-8")
    rows = text.split("\r\n")
    assert rows[0] == (
        "line,field,reason,file,InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
        "CustomerID,Country,Kind"
    )
    side = pd.read_csv(report.rejects_file, dtype=str, keep_default_na=False)
    expected = SHOP_REJECTS[blocks]
    assert list(zip(side["line"].astype(int), side["field"], side["reason"], strict=True)) == (
        expected
    )
    assert set(side["file"]) == {str(path)}
    # each rejected row as it was in the file (empty stays empty)
    lines = SHOP_CSV.strip().splitlines()
    for k, (line, *_rest) in enumerate(expected):
        assert ",".join(side.iloc[k, 4:]) == lines[line - 1]
    stored = om.events_frame()
    assert sorted(stored["item_id"]) == ["21756", "22086", "22728", "85123A"]


@pytest.mark.parametrize("blocks", sorted(SHOP_REJECTS))
def test_without_skip_bad_rows_a_bad_row_still_stops_everything(
    om: Omotenashi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocks: str
) -> None:
    import functools

    import omotenashi.importers._run as run
    from omotenashi.files import read_chunks

    if blocks == "blocks of 4 rows":
        monkeypatch.setattr(run, "read_chunks", functools.partial(read_chunks, chunk_rows=4))
    path = write_csv(tmp_path / "shop.csv", SHOP_CSV)
    with pytest.raises(ImportRowError) as info:
        om.import_events(path, mapping=SHOP_MAP)
    bad_in_block = 8 if blocks == "one block" else 3
    assert (info.value.line, info.value.field) == (3, "CustomerID")
    assert f"{_NO_ONE} ({bad_in_block} bad rows in this block); nothing was imported" in str(
        info.value
    )
    assert om.stats()["events"] == 0
    assert not (tmp_path / "shop.csv.rejected.csv").exists()


def test_a_file_column_named_like_a_report_column_does_not_hide_it(
    om: Omotenashi, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "lines.csv",
        """
user,item,when,line,reason
u1,a,2024-01-01,1,gift
,b,2024-01-02,2,guest
""",
    )
    report = om.import_events(path, mapping="customer=user,item=item,time=when", skip_bad_rows=True)
    side = pd.read_csv(report.rejects_file, dtype=str, keep_default_na=False)
    assert side.to_dict("records") == [
        {
            "line": "3",
            "field": "user",
            "reason": _NO_ONE,
            "file": str(path),
            "user": "",
            "item": "b",
            "when": "2024-01-02",
            "line (file)": "2",
            "reason (file)": "guest",
        }
    ]


def test_skipped_rows_of_a_typed_file_keep_missing_values_empty(
    om: Omotenashi, tmp_path: Path
) -> None:
    frame = pd.read_csv(write_csv(tmp_path / "shop.csv", SHOP_CSV))
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"], errors="coerce")
    frame.to_parquet(tmp_path / "shop.parquet")
    report = om.import_events(tmp_path / "shop.parquet", mapping=SHOP_MAP, skip_bad_rows=True)
    assert (report.events_written, report.rejected) == (4, 8)
    side = pd.read_csv(report.rejects_file, dtype=str, keep_default_na=False)
    assert side["row"].astype(int).tolist() == [line - 1 for line, *_ in SHOP_REJECTS["one block"]]
    guests = side[side["reason"] == _NO_ONE]
    assert (guests["CustomerID"] == "").all()  # missing, not 'nan'
    assert side.loc[side["field"] == "InvoiceDate", "InvoiceDate"].tolist() == [""]


def test_default_types(om: Omotenashi, tmp_path: Path) -> None:
    views = write_csv(tmp_path / "v.csv", "cookie,page_item,t\nk1,a,2024-01-01\n")
    om.import_events(views, mapping="anonymous=cookie,item=page_item,time=t", channel="Web")
    calls = write_csv(tmp_path / "c.csv", "cid,t\nc9,2024-01-02T10:00:00+09:00\n")
    om.import_events(calls, mapping="customer=cid,time=t", type="call", channel="call_center")
    frame = om.events_frame()
    assert frame["type"].tolist() == ["view", "call"]
    assert frame["channel"].tolist() == ["web", "call_center"]
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2024-01-02T01:00:00Z")


def test_type_and_channel_columns(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mixed.csv",
        """
who,what,where,when,amount
p1,visit,clinic,2024-01-01,
p1,Message Open,EMAIL,2024-01-02,
p1,purchase,store,2024-01-03,12.5
""",
    )
    om.import_events(path, mapping="customer=who,type=what,channel=where,time=when,value=amount")
    profile = om.profile("p1")
    assert profile.events_by_type == {"message_open": 1, "purchase": 1, "visit": 1}
    assert set(profile.events_by_channel) == {"clinic", "email", "store"}
    assert profile.rfm.monetary == pytest.approx(12.5)


def test_parquet_and_json_lines(om: Omotenashi, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer": [1.0, 2.0, None],
            "session": [None, None, "s-1"],
            "item": ["a", "b", "c"],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "q": [1, 2, 3],
            "price": [1.5, 2.0, 3.0],
        }
    )
    frame.to_parquet(tmp_path / "e.parquet")
    report = om.import_events(
        tmp_path / "e.parquet",
        mapping="customer=customer,anonymous=session,item=item,time=ts,quantity=q,price=price",
    )
    assert report.events_written == 3
    assert om.profile("1").rfm.monetary == pytest.approx(1.5)  # a float id 1.0 is customer "1"
    lines = [json.dumps({"u": "j1", "i": "x", "t": "2024-02-01T00:00:00Z", "r": 4.5})]
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n")
    om.import_events(tmp_path / "e.jsonl", mapping="customer=u,item=i,time=t,rating=r")
    assert om.events_frame(types=["rating"])["rating"].tolist() == [4.5]


def test_map_errors_are_clear(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", "a,b\n1,2024-01-01\n")
    with pytest.raises(DataError, match="unknown key 'colour'"):
        om.import_events(path, mapping="customer=a,time=b,colour=a")
    with pytest.raises(DataError, match="'nope' not in the file; it has: a, b"):
        om.import_events(path, mapping="customer=nope,time=b")
    with pytest.raises(DataError, match="time column"):
        om.import_events(path, mapping="customer=a")
    with pytest.raises(DataError, match="no such file"):
        om.import_events(tmp_path / "missing.csv", mapping="customer=a,time=b")


def test_items_and_customers_import(om: Omotenashi, tmp_path: Path) -> None:
    items = write_csv(
        tmp_path / "items.csv",
        """
sku,name,genres,cost,brand
m1,Spirited Away,Animation|Fantasy,9.99,Ghibli
m2,Heat,Crime|Thriller,7.5,
""",
    )
    report = om.import_items(
        items, mapping="item=sku,title=name,categories=genres,price=cost,attr.brand=brand"
    )
    assert report.items_written == 2
    assert (
        om.import_items(
            items, mapping="item=sku,title=name,categories=genres,price=cost,attr.brand=brand"
        ).items_written
        == 0
    )
    catalogue = om.items_frame().set_index("item_id")
    assert catalogue.loc["m1", "categories"] == ["Animation", "Fantasy"]
    assert catalogue.loc["m1", "attributes"] == {"brand": "Ghibli"}
    people = write_csv(tmp_path / "people.csv", "id,age,plan\nc1,34,gold\nc2,,basic\n")
    assert om.import_customers(people, mapping="customer=id").customers_written == 2
    frame = om.customers_frame().set_index("customer_id")
    assert frame.loc["c1", "plan"] == "gold" and pd.isna(frame.loc["c2", "age"])
    om.track({"customer_id": "c1", "type": "view", "item_id": "m1", "timestamp": 0})
    profile = om.profile("c1")
    assert profile.attributes == {"age": "34", "plan": "gold"}
    assert [c.category for c in profile.top_categories] == ["Animation", "Fantasy"]


def _big_file(path: Path, start: int, stop: int) -> Path:
    """Events with explicit ids, large enough (over 50,000 rows) for the bulk path."""
    ids = range(start, stop)
    pd.DataFrame(
        {
            "id": [f"e{i}" for i in ids],
            "user": [f"u{i % 997}" for i in ids],
            "item": [f"i{i % 101}" for i in ids],
            "when": pd.to_datetime(1_600_000_000 + pd.Series(list(ids)) * 60, unit="s"),
            "price": 1.5,
            "qty": 2,
        }
    ).to_parquet(path)
    return path


BIG_MAP = "event_id=id,customer=user,item=item,time=when,price=price,quantity=qty"


@pytest.mark.slow
def test_bulk_loads_skip_known_ids_and_keep_indexes(om: Omotenashi, tmp_path: Path) -> None:
    first = om.import_events(_big_file(tmp_path / "a.parquet", 0, 60_000), mapping=BIG_MAP)
    assert first.events_written == 60_000
    # overlaps the first file on 30,000 ids; big enough to be a bulk load again
    second = om.import_events(_big_file(tmp_path / "b.parquet", 30_000, 130_000), mapping=BIG_MAP)
    assert (second.events_written, second.duplicates) == (70_000, 30_000)
    frame = om.events_frame()
    assert len(frame) == 130_000 and frame["event_id"].is_unique
    if om.url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(om.url) as conn:
            rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'events'")
            indexes = {r[0] for r in rows}
    else:
        indexes = {
            r[0]
            for r in om.store._db.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"
            )
        }
    assert {"events_by_id", "events_by_customer", "events_by_anonymous"} <= indexes
    assert om.profile("u5").rfm.frequency > 0
    assert not list(tmp_path.glob(".omotenashi-stage-*"))  # staging files are removed
    assert om.store.events.latest_timestamp() == (1_600_000_000 + 129_999 * 60) * 1_000_000


def test_repeated_ids_within_a_file_count_once(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "dups.csv",
        """
id,user,when
a,u1,2024-01-01
b,u1,2024-01-02
a,u1,2024-01-01
""",
    )
    report = om.import_events(path, mapping="event_id=id,customer=user,time=when")
    assert (report.events_written, report.duplicates) == (2, 1)


@pytest.mark.slow
def test_failed_bulk_load_changes_nothing(om: Omotenashi, tmp_path: Path) -> None:
    om.track({"customer_id": "keep", "type": "view", "timestamp": 0})
    path = _big_file(tmp_path / "c.parquet", 0, 120_000)
    frame = pd.read_parquet(path)
    frame["qty"] = frame["qty"].astype(str)
    frame.loc[110_000, "qty"] = "many"  # a bad row in the second chunk
    frame.to_parquet(path)
    with pytest.raises(ImportRowError, match="row 110001, field 'qty'"):
        om.import_events(path, mapping=BIG_MAP)
    assert om.stats()["events"] == 1
    if om.url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(om.url) as conn:
            rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'events'")
            indexes = {r[0] for r in rows}
    else:
        indexes = {
            r[0]
            for r in om.store._db.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"
            )
        }
    assert {"events_by_id", "events_by_customer", "events_by_anonymous"} <= indexes
    assert not list(tmp_path.glob(".omotenashi-stage-*"))


def test_retail_fees_are_never_recommended(om: Omotenashi, tmp_path: Path) -> None:
    from omotenashi.demo import sample_path
    from omotenashi.services import recommend_for_customer, train

    om.import_events(sample_path(), preset="online-retail")
    items = om.items_frame().set_index("item_id")
    assert items.loc["POST", "attributes"] == {"is_product": False, "recommendable": False}
    assert "Fees & adjustments" in items.loc["POST", "categories"]
    train(om, "recent_ease")
    fees = {"POST", "D", "M", "C2", "DOT", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}
    top = om.top_customers(30)["customer_id"]
    for customer in top:
        recs = recommend_for_customer(om, customer, 20)
        assert not {r.item_id for r in recs} & fees


@pytest.mark.parametrize("option", [{"type": "Lab Result!"}, {"channel": "Web Shop?"}])
def test_bad_default_type_or_channel_is_refused(
    om: Omotenashi, tmp_path: Path, option: dict[str, str]
) -> None:
    path = write_csv(tmp_path / "x.csv", "u,t\na,2024-01-01\n")
    (name,) = option
    with pytest.raises(DataError, match=f"--{name}: {name} must be"):
        om.import_events(path, mapping="customer=u,time=t", **option)
    assert om.stats()["events"] == 0


# -- encodings, decimal commas and empty files (issue 12) ---------------------------------------

LATIN1_CUSTOMERS = "id;name;city\nc1;José Müller;Zürich\nc2;Françoise Øster;Besançon\n"
SJIS_ITEMS = "sku,title,price\nj1,抹茶ラテ,450\nj2,和風ハンバーグ弁当,980\n"
# hand-computed: 2 x 3,50 + 1 x 1.234,50 (a return) ... see the assertions
EURO_EVENTS = (
    "kunde;artikel;datum;menge;preis\n"
    "k1;a;2024-03-01;2;3,50\n"
    "k1;b;2024-03-02;1;1.234,50\n"
    "k2;a;2024-03-03;3;0,25\n"
)
EURO_MAP = "customer=kunde,item=artikel,time=datum,quantity=menge,price=preis"


def test_latin1_customers_need_their_encoding(om: Omotenashi, tmp_path: Path) -> None:
    path = tmp_path / "kunden.csv"
    path.write_bytes(LATIN1_CUSTOMERS.encode("latin-1"))
    with pytest.raises(DataError) as refused:
        om.import_customers(path, mapping="customer=id")
    message = str(refused.value)
    assert "kunden.csv" in message and "line 2" in message and "--encoding" in message
    assert om.stats()["customer_records"] == 0
    report = om.import_customers(path, mapping="customer=id", encoding="latin-1")
    assert report.customers_written == 2
    frame = om.customers_frame().set_index("customer_id")
    assert frame.loc["c1", "name"] == "José Müller"
    assert frame.loc["c2", "city"] == "Besançon"


def test_shift_jis_items_need_their_encoding(om: Omotenashi, tmp_path: Path) -> None:
    path = tmp_path / "shouhin.csv"
    path.write_bytes(SJIS_ITEMS.encode("shift_jis"))
    with pytest.raises(DataError, match=r"shouhin\.csv.*--encoding"):
        om.import_items(path, mapping="item=sku,title=title,price=price")
    report = om.import_items(path, mapping="item=sku,title=title,price=price", encoding="shift_jis")
    assert report.items_written == 2
    catalogue = om.items_frame().set_index("item_id")
    assert catalogue.loc["j1", "title"] == "抹茶ラテ"
    assert catalogue.loc["j2", "title"] == "和風ハンバーグ弁当"
    assert catalogue.loc["j2", "price"] == 980.0


def test_unknown_encoding_or_decimal_mark_is_refused(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", "user,when\nu1,2024-01-01\n")
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        om.import_events(path, mapping="customer=user,time=when", encoding="klingon")
    with pytest.raises(DataError, match="decimal mark"):
        om.import_events(path, mapping="customer=user,time=when", decimal=";")


def test_decimal_commas_give_the_right_money(om: Omotenashi, tmp_path: Path) -> None:
    path = tmp_path / "umsatz.csv"
    path.write_text(EURO_EVENTS, encoding="utf-8")
    # without --decimal the price "3,50" is not a number: refused with its line and field
    with pytest.raises(ImportRowError, match=r"line 2, field 'preis'.*'3,50' is not a number"):
        om.import_events(path, mapping=EURO_MAP)
    report = om.import_events(path, mapping=EURO_MAP, decimal=",")
    assert report.events_written == 3
    # 2 x 3.50 + 1 x 1234.50 + 3 x 0.25 = 7.00 + 1234.50 + 0.75 = 1242.25
    assert om.stats()["purchase_value"] == pytest.approx(1242.25)
    assert om.profile("k1").rfm.monetary == pytest.approx(1241.50)
    assert om.profile("k2").rfm.monetary == pytest.approx(0.75)


def test_empty_files_are_one_clear_error(om: Omotenashi, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"^file .*empty\.csv is empty$"):
        om.import_events(empty, mapping="customer=user,time=when")
    with pytest.raises(DataError, match=r"^file .*empty\.csv is empty$"):
        om.import_items(empty, mapping="item=sku")
    # a header and no rows is an export with nothing in it: 0 rows, nothing written
    header = write_csv(tmp_path / "header.csv", "user,item,when")
    report = om.import_events(header, mapping="customer=user,item=item,time=when")
    assert (report.rows_read, report.events_written) == (0, 0)
    assert om.stats()["events"] == 0


def test_content_ids_do_not_depend_on_the_chunk_size(
    om: Omotenashi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows without an id get one from their content, the k-th identical row of the file
    ``.k``: the same ids whether the file is read in one chunk or in many (the hashes seen
    are kept in sorted runs that merge as they grow)."""
    import numpy as np

    rng = np.random.default_rng(3)
    n = 3_000
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, 40, n).astype(str),
            "item": rng.integers(0, 30, n).astype(str),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 5, n), unit="D"),
        }
    )  # few distinct rows: many repeats within and across chunks
    path = tmp_path / "no-ids.csv"
    frame.to_csv(path, index=False)
    one = om.import_events(path, mapping="customer=user,item=item,time=when")
    ids_one = sorted(om.events_frame()["event_id"])
    assert one.events_written == n and len(set(ids_one)) == n
    from omotenashi.files import read_chunks

    def small_chunks(path: Path, options: object = None) -> object:
        return read_chunks(path, options, 97)

    monkeypatch.setattr("omotenashi.importers._run.read_chunks", small_chunks)
    with Omotenashi(tmp_path / "chunked.db") as other:
        many = other.import_events(path, mapping="customer=user,item=item,time=when")
        assert many.events_written == n
        assert sorted(other.events_frame()["event_id"]) == ids_one


def test_only_rows_without_an_id_get_a_content_id(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mixed.csv",
        """
id,user,item,when
,u1,a,2024-01-01
x1,u1,a,2024-01-01
,u1,a,2024-01-01
x2,u2,b,2024-01-02
""",
    )
    first = om.import_events(path, mapping="event_id=id,customer=user,item=item,time=when")
    ids = list(om.events_frame()["event_id"])  # in arrival order
    assert first.events_written == 4
    assert ids[1] == "x1" and ids[3] == "x2"
    assert ids[2] == ids[0] + ".1"  # the second id-less copy; the named row does not count
    again = om.import_events(path, mapping="event_id=id,customer=user,item=item,time=when")
    assert (again.events_written, again.duplicates) == (0, 4)


# -- files in omotenashi's own terms: the header is the map ------------------------------------
OWN_TERMS_CSV = """
customer_id,Anonymous ID,item_id,timestamp,event_type,Quantity,price,order_id,Country
c1,,i1,2024-03-01T10:00:00Z,purchase,2,3.50,o1,JP
c1,,i2,2024-03-01T10:00:00Z,purchase,1,10.00,o1,JP
,dev-9,i3,2024-03-02T08:00:00Z,view,,,,FR
c2,,i1,2024-03-03T12:30:00Z,purchase,1,3.50,o2,JP
"""
OWN_TERMS_MAP = (
    "customer=customer_id,anonymous=Anonymous ID,item=item_id,time=timestamp,type=event_type,"
    "quantity=Quantity,price=price,order=order_id"
)


def _events(om: Omotenashi) -> pd.DataFrame:
    columns = ["customer_id", "anonymous_id", "type", "item_id", "order_id", "quantity", "value"]
    frame = om.events_frame()
    ordered = frame.sort_values(["timestamp", "item_id"]).reset_index(drop=True)
    return ordered[[*columns, "timestamp"]]


def test_a_file_in_omotenashis_terms_needs_no_map(om: Omotenashi, tmp_path: Path) -> None:
    """A header that names its columns by the map's keys or synonyms (any case, spaces or
    underscores) is its own map: the same events as with the map written out, and the report
    says which columns it read. Columns it does not know (Country) are left out."""
    path = write_csv(tmp_path / "events.csv", OWN_TERMS_CSV)
    report = om.import_events(path)
    assert report.events_written == 4
    assert report.columns_from_header == {
        "customer": "customer_id",
        "anonymous": "Anonymous ID",
        "item": "item_id",
        "time": "timestamp",
        "type": "event_type",
        "quantity": "Quantity",
        "price": "price",
        "order": "order_id",
    }
    with Omotenashi(tmp_path / "mapped.db") as written:
        mapped = written.import_events(path, mapping=OWN_TERMS_MAP)
        assert mapped.columns_from_header is None
        pd.testing.assert_frame_equal(_events(om), _events(written))
    assert om.profile("c1").rfm.monetary == pytest.approx(2 * 3.5 + 10.0)


def test_exported_events_read_back_without_a_map(om: Omotenashi, tmp_path: Path) -> None:
    """``export-events`` writes Parquet in the store's own column names (``ts`` for the time):
    importing a partition into another store needs no map and gives the same events."""
    path = write_csv(tmp_path / "events.csv", OWN_TERMS_CSV)
    om.import_events(path, mapping=OWN_TERMS_MAP)
    om.scale.export_events(tmp_path / "lake")
    parts = sorted((tmp_path / "lake" / "events").rglob("*.parquet"))  # one per day
    with Omotenashi(tmp_path / "copy.db") as copy:
        reports = [copy.import_events(part) for part in parts]
        assert all(r.columns_from_header["time"] == "ts" for r in reports)  # type: ignore[index]
        assert sum(r.events_written for r in reports) == 4
        pd.testing.assert_frame_equal(_events(om), _events(copy))
        assert copy.import_events(parts[0]).events_written == 0  # by event id: read twice, once


def test_a_header_that_names_too_little_says_what_it_saw(om: Omotenashi, tmp_path: Path) -> None:
    no_time = write_csv(tmp_path / "no_time.csv", "CustomerID,StockCode\n1,a\n")
    with pytest.raises(DataError) as caught:
        om.import_events(no_time)
    message = str(caught.value)
    assert "header (CustomerID, StockCode) names no time column" in message
    assert "recognised: customer=CustomerID" in message and "--map" in message
    nobody = write_csv(tmp_path / "nobody.csv", "when,sku\n2024-01-01,a\n")
    with pytest.raises(DataError, match="names no customer or anonymous and no time column"):
        om.import_events(nobody)
    both = write_csv(tmp_path / "both.csv", "customer,date,timestamp\n1,2024-01-01,2024-01-02\n")
    with pytest.raises(DataError, match="'date' and 'timestamp' both look like 'time'"):
        om.import_events(both)
    with pytest.raises(DataError, match="a dataset folder needs --preset"):
        om.import_events(tmp_path)
    assert om.stats()["events"] == 0


def test_items_and_customers_read_their_header_too(om: Omotenashi, tmp_path: Path) -> None:
    items = write_csv(
        tmp_path / "items.csv",
        "item_id,title,categories,price\nm1,Spirited Away,Animation|Fantasy,9.99\n",
    )
    report = om.import_items(items)
    assert report.items_written == 1
    assert report.columns_from_header == {
        "item": "item_id",
        "title": "title",
        "categories": "categories",
        "price": "price",
    }
    catalogue = om.items_frame().set_index("item_id")
    assert catalogue.loc["m1", "categories"] == ["Animation", "Fantasy"]
    assert catalogue.loc["m1", "price"] == pytest.approx(9.99)
    people = write_csv(tmp_path / "people.csv", "Customer ID,age,plan\nc1,34,gold\n")
    assert om.import_customers(people).customers_written == 1
    om.track({"customer_id": "c1", "type": "view", "item_id": "m1", "timestamp": 0})
    assert om.profile("c1").attributes == {"age": "34", "plan": "gold"}
    shop = write_csv(tmp_path / "shop.csv", "sku,name\nm2,Heat\n")
    assert om.import_items(shop).columns_from_header == {"item": "sku", "title": "name"}
    nameless = write_csv(tmp_path / "nameless.csv", "code,name\nm3,Ran\n")
    with pytest.raises(DataError, match=r"names no item column .*--map item=sku,title=name"):
        om.import_items(nameless)


RATINGS_WITHOUT_TIMES = "user,item,rating\nu1,i1,5\nu1,i2,3\nu2,i1,4\nu2,i1,4\n"
RATINGS_MAP = "customer=user,item=item,rating=rating"


def test_a_file_without_times_needs_and_takes_one_default_time(
    om: Omotenashi, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "ratings.csv", RATINGS_WITHOUT_TIMES)
    with pytest.raises(DataError, match="--default-time") as refused:
        om.import_events(path, mapping=RATINGS_MAP)
    assert refused.value.field == "map"
    assert om.stats()["events"] == 0
    report = om.import_events(path, mapping=RATINGS_MAP, default_time="2024-05-01 12:00")
    assert (report.rows_read, report.events_written, report.rejected) == (4, 4, 0)
    frame = om.events_frame()
    # one time for every row: the file's order is not made into a time order
    assert set(frame["timestamp"]) == {pd.Timestamp("2024-05-01 12:00", tz="UTC")}
    assert sorted(frame["rating"]) == [3.0, 4.0, 4.0, 5.0] and set(frame["type"]) == {"rating"}
    # the same time written otherwise (ISO with a zone, Unix seconds, a datetime): nothing new
    when = pd.Timestamp("2024-05-01 12:00", tz="UTC")
    for same in ("2024-05-01T14:00:00+02:00", int(when.timestamp()), when.to_pydatetime()):
        again = om.import_events(path, mapping=RATINGS_MAP, default_time=same)
        assert (again.events_written, again.duplicates) == (0, 4), same
    later = om.import_events(path, mapping=RATINGS_MAP, default_time="2024-06-01")
    assert later.events_written == 4  # another time is another event
    assert om.stats()["events"] == 8


def test_a_bad_default_time_is_refused_before_anything_is_written(
    om: Omotenashi, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "ratings.csv", RATINGS_WITHOUT_TIMES)
    for bad in ("soon", True, "2999-01-01", "1800-01-01"):
        with pytest.raises(DataError, match="--default-time") as refused:
            om.import_events(path, mapping=RATINGS_MAP, default_time=bad)
        assert refused.value.field == "default_time", bad
    timed = write_csv(tmp_path / "timed.csv", "user,item,when\nu1,i1,2024-01-02\n")
    with pytest.raises(DataError, match="time=when") as both:
        om.import_events(timed, mapping="customer=user,item=item,time=when", default_time=0)
    assert both.value.field == "default_time"
    assert om.stats()["events"] == 0


def test_a_header_without_a_time_column_imports_with_a_default_time(
    om: Omotenashi, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "events.csv", "customer_id,item_id,event_type\nc1,i1,view\n")
    with pytest.raises(DataError, match="names no time column"):
        om.import_events(path)
    report = om.import_events(path, default_time="2024-03-01")
    assert report.events_written == 1 and "time" not in report.columns_from_header
    assert om.events_frame()["timestamp"].iloc[0] == pd.Timestamp("2024-03-01", tz="UTC")


def test_public_event_logs_import_as_they_are_written(om: Omotenashi, tmp_path: Path) -> None:
    """A Retailrocket-shaped log (times in Unix milliseconds, ``transaction`` and ``addtocart``
    for purchases and carts), compact ``YYYYMMDD`` dates, and a headerless file named by
    position: each imports with the right times and types, and none as something else."""
    log = write_csv(
        tmp_path / "events.csv",
        "timestamp,visitorid,event,itemid,transactionid\n"
        "1433221332117,257597,view,355908,\n"
        "1433224214164,992329,addtocart,248676,\n"
        "1433221999827,111016,transaction,318965,4000\n",
    )
    report = om.import_events(
        log, mapping="customer=visitorid,type=event,item=itemid,order=transactionid,time=timestamp"
    )
    assert report.events_written == 3
    frame = om.events_frame().sort_values("customer_id")
    assert frame["type"].tolist() == ["purchase", "view", "add_to_cart"]
    assert frame["timestamp"].min() == pd.Timestamp("2015-06-02 05:02:12.117", tz="UTC")
    assert om.stats()["orders"] == 1
    # its header spells the same map: imported again without one, every row is already stored
    again = om.import_events(log)
    assert again.columns_from_header == {
        "time": "timestamp",
        "customer": "visitorid",
        "type": "event",
        "item": "itemid",
        "order": "transactionid",
    }
    assert again.events_written == 0 and again.duplicates == 3

    dates = write_csv(tmp_path / "dates.csv", "customer,item,date\n1,a,20110315\n2,b,20111231\n")
    om.import_events(dates)
    days = om.events_frame().set_index("item_id")["timestamp"]
    assert days["a"] == pd.Timestamp("2011-03-15", tz="UTC")
    assert days["b"] == pd.Timestamp("2011-12-31", tz="UTC")

    bare = write_csv(tmp_path / "ratings.csv", "A1X,B001,5.0,1400000000\nA2X,B002,2.0,1400003600\n")
    with pytest.raises(DataError, match="without a header names its columns by position"):
        om.import_events(bare)
    om.import_events(bare, mapping="customer=0,item=1,rating=2,time=3")
    rated = om.events_frame().set_index("item_id")
    assert rated.loc["B001", "customer_id"] == "A1X" and rated.loc["B002", "rating"] == 2.0
    assert rated.loc["B001", "timestamp"] == pd.Timestamp(1400000000, unit="s", tz="UTC")
    assert rated.loc["B001", "type"] == "rating"
    # MovieLens 1M's ratings.dat: "::" between fields, and a first row holding a "1" (a
    # column's position too), which is no header for that
    dat = write_csv(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n")
    om.import_events(dat, mapping="customer=0,item=1,rating=2,time=3")
    ml = om.events_frame().set_index("item_id")
    assert ml.loc["1193", "customer_id"] == "1" and ml.loc["661", "rating"] == 3.0
    assert ml.loc["1193", "timestamp"] == pd.Timestamp(978300760, unit="s", tz="UTC")


def test_a_map_by_position_reads_past_a_header_of_words(om: Omotenashi, tmp_path: Path) -> None:
    """CDNOW's master file heads its columns with words separated by spaces; a map by position
    reads its rows, not the header as a first row (which failed: "cannot read 'date' as a
    date/time"). So does a comma-separated file with a header the map does not use."""
    cdnow = write_csv(
        tmp_path / "CDNOW_master.txt",
        " customer_id  date number_of_cds  dollar_value\n"
        " 00001 19970101  1   11.77\n"
        " 00002 19970112  2   12.00\n",
    )
    report = om.import_events(
        cdnow, mapping="customer=0,time=1,quantity=2,value=3", type="purchase"
    )
    assert report.events_written == 2
    bought = om.events_frame().set_index("customer_id")
    assert bought.loc["00002", "quantity"] == 2.0 and bought.loc["00002", "value"] == 12.0
    assert bought.loc["00001", "timestamp"] == pd.Timestamp("1997-01-01", tz="UTC")
    rated = write_csv(
        tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n"
    )
    assert om.import_events(rated, mapping="customer=0,item=1,rating=2,time=3").events_written == 1
    assert om.events_frame().set_index("item_id").loc["31", "rating"] == 2.5
    # words over words: no sign of a header, so the first line is a row, as before
    words = write_csv(tmp_path / "words.csv", "u1,i1\nu2,i2\n")
    assert (
        om.import_events(
            words, mapping="customer=0,item=1", default_time="2024-01-01"
        ).events_written
        == 2
    )


TYPED_LOG = (
    "customer_id,item_id,timestamp,event_type\n"
    "c1,i1,2024-03-01,Bought It!\n"
    "c1,i2,2024-03-02,basket\n"
    "c2,i1,2024-03-02,cart\n"
    "c2,i3,2024-03-03,wishlist\n"
    "c3,i3,2024-03-03,wishlist\n"
)


def test_a_type_map_gives_a_files_own_spellings_their_types(om: Omotenashi, tmp_path: Path):
    """``type_map`` is read before the names are checked (``Bought It!`` is no type name) and
    before the built-in synonyms (here ``cart`` is a view, not ``add_to_cart``); the types it
    leaves custom are counted in the report."""
    path = write_csv(tmp_path / "events.csv", TYPED_LOG)
    with pytest.raises(ImportRowError, match="--type-map") as caught:
        om.import_events(path)
    assert caught.value.line == 2 and om.stats()["events"] == 0
    report = om.import_events(
        path, type_map={"bought it!": "transaction", "BASKET": "add_to_cart", "cart": "view"}
    )
    assert report.events_written == 5
    assert report.custom_types == {"wishlist": 2}
    assert report.as_dict()["custom_types"] == {"wishlist": 2}
    types = om.events_frame().set_index(["customer_id", "item_id"])["type"].to_dict()
    assert types == {
        ("c1", "i1"): "purchase",  # the map's type goes through the synonyms too
        ("c1", "i2"): "add_to_cart",
        ("c2", "i1"): "view",
        ("c2", "i3"): "wishlist",
        ("c3", "i3"): "wishlist",
    }


def test_a_type_map_as_text_and_its_errors(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "events.csv", TYPED_LOG)
    for bad, says in (
        ("bought it!=purchase,basket", "'basket' is not SPELLING=TYPE"),
        ("bought it!=Pur chase!", "'bought it!'"),
        ("=purchase", "an empty spelling"),
    ):
        with pytest.raises(DataError, match="--type-map") as caught:
            om.import_events(path, type_map=bad)
        assert says in str(caught.value) and caught.value.field == "type_map"
    assert om.stats()["events"] == 0
    report = om.import_events(path, type_map="bought it!=purchase, basket=add_to_cart")
    assert report.custom_types == {"wishlist": 2}
    assert sorted(om.events_frame()["type"]) == [
        "add_to_cart",
        "add_to_cart",
        "purchase",
        "wishlist",
        "wishlist",
    ]


def test_an_id_written_as_a_float_is_the_same_id(om: Omotenashi, tmp_path: Path) -> None:
    """pandas writes an id column with gaps as floats: Online Retail saved to CSV says
    ``17850.0``, which is customer ``17850`` of the customers file and of every other import.
    Ids that are not whole numbers stay as written."""
    saved = write_csv(
        tmp_path / "saved.csv",
        "CustomerID,StockCode,InvoiceDate,InvoiceNo\n"
        "17850.0,85123A,2010-12-01 08:26,536365.0\n"
        "12,71053,2010-12-01 08:26,536366\n"
        "1.5,22752.0,2010-12-01 08:27,536367\n"
        "A7.0,22752,2010-12-01 08:28,536368\n",
    )
    om.import_events(
        saved, mapping="customer=CustomerID,item=StockCode,time=InvoiceDate,order=InvoiceNo"
    )
    people = write_csv(tmp_path / "people.csv", "customer,name\n17850,Ann\n")
    om.import_customers(people, mapping="customer=customer,attr.name=name")
    frame = om.events_frame()
    assert sorted(frame["customer_id"]) == ["1.5", "12", "17850", "A7.0"]
    assert sorted(frame["item_id"]) == ["22752", "22752", "71053", "85123A"]
    assert set(frame["order_id"]) == {"536365", "536366", "536367", "536368"}
    assert om.profile("17850").attributes["name"] == "Ann"


def test_public_ratings_headers_need_no_map(om: Omotenashi, tmp_path: Path) -> None:
    """Book-Crossing's header (``User-ID;ISBN;Book-Rating``, no time): the rating is read as
    the rating, and the missing time is asked for with ``--default-time`` named."""
    books = write_csv(tmp_path / "bx.csv", '"User-ID";"ISBN";"Book-Rating"\n"7";"0195153448";"8"\n')
    with pytest.raises(DataError, match="--default-time"):
        om.import_events(books)
    om.import_events(books, default_time="2004-09-01")
    row = om.events_frame().iloc[0]
    assert (row["customer_id"], row["item_id"], row["type"], row["rating"]) == (
        "7",
        "0195153448",
        "rating",
        8.0,
    )


def test_an_excel_workbook_imports_every_sheet_like_a_csv(om: Omotenashi, tmp_path: Path) -> None:
    """Online Retail II ships as a workbook with one year per sheet: both sheets import, with
    the header's synonyms, whole-number ids without ``.0`` and Excel's dates as times; a sheet
    with other columns is refused by name unless ``--sheet`` picks one."""
    from datetime import datetime

    def year(invoice: str, customer: float, when: datetime) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "Invoice": [invoice, invoice],
                "StockCode": ["85123A", "71053"],
                "Quantity": [6, 2],
                "InvoiceDate": [when, when],
                "Price": [2.55, 3.39],
                "Customer ID": [customer, customer],
            }
        )

    book = tmp_path / "online_retail_II.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        year("489434", 13085.0, datetime(2009, 12, 1, 7, 45)).to_excel(
            writer, sheet_name="Year 2009-2010", index=False
        )
        year("536365", 17850.0, datetime(2010, 12, 1, 8, 26)).to_excel(
            writer, sheet_name="Year 2010-2011", index=False
        )
    report = om.import_events(
        book,
        mapping="customer=Customer ID,item=StockCode,time=InvoiceDate,order=Invoice,"
        "quantity=Quantity,price=Price",
    )
    assert report.events_written == 4
    frame = om.events_frame()
    assert sorted(frame["customer_id"].unique()) == ["13085", "17850"]
    assert frame["timestamp"].min() == pd.Timestamp("2009-12-01 07:45", tz="UTC")
    assert set(frame["type"]) == {"purchase"}
    assert om.stats()["purchase_value"] == pytest.approx(2 * (6 * 2.55 + 2 * 3.39))

    mixed = tmp_path / "mixed.xlsx"
    with pd.ExcelWriter(mixed, engine="openpyxl") as writer:
        year("1", 1.0, datetime(2011, 1, 1)).to_excel(writer, sheet_name="orders", index=False)
        pd.DataFrame({"note": ["x"]}).to_excel(writer, sheet_name="notes", index=False)
    with pytest.raises(DataError, match="notes differs from orders.*--sheet"):
        om.import_events(mixed, mapping="customer=Customer ID,item=StockCode,time=InvoiceDate")
    om.import_events(
        mixed, mapping="customer=Customer ID,item=StockCode,time=InvoiceDate", sheet="orders"
    )
    assert om.stats()["events"] == 6
    old = write_csv(tmp_path / "old.xls", "a,b\n1,2\n")
    with pytest.raises(DataError, match="save it as .xlsx or CSV"):
        om.import_events(old)


def test_slashed_dates_are_read_in_the_one_order_the_file_shows(
    om: Omotenashi, tmp_path: Path
) -> None:
    """``01/12/2010`` beside ``13/12/2010``: a UK file, day first, for every row (value by
    value, the first was read as 12 January); ``12/13/2010``: month first; a file that shows
    both has its rows refused; one whose first block shows neither is read in the order the
    whole file shows."""
    header = "customer,item,date\n"
    om.import_events(
        write_csv(tmp_path / "uk.csv", header + "1,a,01/12/2010 08:26\n1,b,13/12/2010\n")
    )
    om.import_events(
        write_csv(tmp_path / "us.csv", header + "2,c,12/1/2010 8:26\n2,d,12/13/2010\n")
    )
    times = om.events_frame().set_index("item_id")["timestamp"]
    assert times["a"] == pd.Timestamp("2010-12-01 08:26", tz="UTC")
    assert times["b"] == pd.Timestamp("2010-12-13", tz="UTC")
    assert times["c"] == pd.Timestamp("2010-12-01 08:26", tz="UTC")
    assert times["d"] == pd.Timestamp("2010-12-13", tz="UTC")
    both = write_csv(tmp_path / "both.csv", "customer,item,date\n3,e,13/12/2010\n3,f,12/13/2010\n")
    with pytest.raises(ImportRowError, match="cannot read '13/12/2010' as a date/time"):
        om.import_events(both)
    # 60,000 rows: the first block of 50,000 holds only the 1st to the 5th of a month
    days = [1 + k // 10_000 if k < 50_000 else 13 + (k - 50_000) // 5_000 for k in range(60_000)]
    rows = [f"4,i{k},{day:02d}/12/2010" for k, day in enumerate(days)]
    long = write_csv(tmp_path / "long.csv", "customer,item,date\n" + "\n".join(rows) + "\n")
    om.import_events(long)
    mine = om.events_frame()
    mine = mine[mine["customer_id"] == "4"]
    assert mine["timestamp"].min() == pd.Timestamp("2010-12-01", tz="UTC")
    assert mine["timestamp"].max() == pd.Timestamp("2010-12-14", tz="UTC")
    assert mine["timestamp"].dt.month.unique().tolist() == [12]
