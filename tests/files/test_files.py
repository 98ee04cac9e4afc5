"""One column-map parser and one reader per format, shared by imports and analyst commands."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from omotenashi.errors import DataError
from omotenashi.evaluation import read_interactions
from omotenashi.files import (
    MAP_KINDS,
    CsvOptions,
    column_map_from_header,
    parse_column_map,
    read_chunks,
    read_header,
    read_table,
)
from omotenashi.value import read_transactions


def test_each_kind_reads_its_keys_and_synonyms() -> None:
    assert parse_column_map("customer_id=CustomerID,timestamp=When", "events") == {
        "customer": "CustomerID",
        "time": "When",
    }
    # the README's evaluate example writes customer= for the user column
    assert parse_column_map("customer=userId,item=movieId", "interactions") == {
        "user": "userId",
        "item": "movieId",
    }
    assert parse_column_map("customer=id,time=day,value=Qty*Price", "transactions") == {
        "customer": "id",
        "time": "day",
        "value": "Qty*Price",
    }
    assert parse_column_map(
        "action=item_id;reward=click;pscore=p;context=user_feature_*,position", "logs"
    ) == {
        "action": "item_id",
        "reward": "click",
        "pscore": "p",
        "context": "user_feature_*,position",
    }
    assert parse_column_map({"item": "sku", "attr.brand": "Brand"}, "items") == {
        "item": "sku",
        "attr.brand": "Brand",
    }
    assert parse_column_map("view=1,purchase=5") == {"view": "1", "purchase": "5"}


@pytest.mark.parametrize("kind", sorted(MAP_KINDS))
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nonsense", "is not key=column"),
        ("colour=c", "unknown key 'colour'"),
        ("=c", "no key given"),
    ],
)
def test_every_kind_fails_the_same_way(kind: str, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as error:
        parse_column_map(text, kind)
    assert error.value.field == "map"


def test_required_keys_and_repeats() -> None:
    with pytest.raises(DataError, match="lacks time: time=COLUMN is required"):
        parse_column_map("customer=a", "transactions")
    with pytest.raises(DataError, match="given twice"):
        parse_column_map("customer=a,customer_id=b", "events")


def test_one_reader_for_imports_and_analyst_commands(tmp_path: Path) -> None:
    path = tmp_path / "orders.txt"
    path.write_text("id day amount\n007 2024-01-02 5.5\n008 2024-01-03 4\n", encoding="utf-8")
    # runs of spaces are sniffed by both ways of reading
    whole = read_table(path)
    chunks = pd.concat([c.frame for c in read_chunks(path)], ignore_index=True)
    pd.testing.assert_frame_equal(whole, chunks)
    assert whole["id"].tolist() == ["007", "008"]  # text keeps the zeros
    typed = read_table(path, CsvOptions(text=False, dtypes=(("id", "str"),)))
    assert typed["amount"].tolist() == pytest.approx([5.5, 4.0])
    tx = read_transactions(path, "customer=id,time=day,value=amount", sep="whitespace")
    assert tx["person_id"].tolist() == ["007", "008"]


def test_missing_files_are_named_the_same_way(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    for read in (
        lambda: read_table(missing),
        lambda: list(read_chunks(missing)),
        lambda: read_interactions(missing, "user=u,item=i"),
    ):
        with pytest.raises(DataError, match="no such file"):
            read()


def test_attributes_are_read_by_the_same_reader(tmp_path: Path) -> None:
    from omotenashi.value import read_attributes

    path = tmp_path / "customers.csv"
    path.write_text("customer_id,country,age\n007,Japan,41\n", encoding="utf-8")
    frame = read_attributes(path)
    assert frame["customer_id"].tolist() == ["007"]
    assert frame["age"].tolist() == [41]
    with pytest.raises(DataError, match="no such file") as error:
        read_attributes(tmp_path / "nope.csv")
    assert error.value.field == "attributes"


def test_empty_and_header_only_files_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"^file .*empty\.csv is empty$"):
        read_table(empty, field="data")
    with pytest.raises(DataError, match=r"^file .*empty\.csv is empty$"):
        list(read_chunks(empty))
    header = tmp_path / "header.csv"
    header.write_text("user,item,rating\n")
    with pytest.raises(DataError, match=r"^file .*header\.csv has a header but no rows$"):
        read_table(header, field="data")  # an analysis of nothing: say so
    # an import of nothing: 0 rows, with the columns (so a map naming a missing one still fails)
    (chunk,) = read_chunks(header)
    assert chunk.frame.empty and list(chunk.frame.columns) == ["user", "item", "rating"]


def test_encoding_and_decimal_options(tmp_path: Path) -> None:
    path = tmp_path / "preise.csv"
    path.write_bytes("name;preis\nKäse;3,50\nBrötchen;1.234,50\nWasser;-0,25\n".encode("cp1252"))
    with pytest.raises(
        DataError, match=r"preise\.csv: not valid utf-8 text at line 2 .*--encoding"
    ):
        read_table(path)
    text = read_table(path, CsvOptions(encoding="cp1252", decimal=",", numbers=("preis",)))
    assert text["name"].tolist() == ["Käse", "Brötchen", "Wasser"]
    assert text["preis"].tolist() == ["3.50", "1234.50", "-0.25"]  # text, with a decimal point
    typed = read_table(path, CsvOptions(encoding="cp1252", decimal=",", text=False))
    assert typed["preis"].tolist() == [3.5, 1234.5, -0.25]
    chunks = list(read_chunks(path, CsvOptions(encoding="cp1252", decimal=",", numbers=("preis",))))
    assert chunks[0].frame["preis"].tolist() == ["3.50", "1234.50", "-0.25"]
    with pytest.raises(DataError, match="unknown encoding"):
        CsvOptions(encoding="utf-9")


def test_transactions_read_with_encoding_and_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "umsatz.csv"
    path.write_bytes(
        "kunde;datum;betrag\nJosé;2024-03-01;3,50\nJosé;2024-03-02;1.234,50\nZoë;2024-03-03;0,75\n"
        .encode("cp1252")
    )  # fmt: skip
    mapping = "customer=kunde,time=datum,value=betrag"
    with pytest.raises(DataError, match="--encoding"):
        read_transactions(path, mapping, sep=";")
    tx = read_transactions(path, mapping, sep=";", encoding="cp1252", decimal=",")
    assert tx.groupby("person_id")["value"].sum().to_dict() == {"José": 1238.0, "Zoë": 0.75}


def test_a_header_spells_its_own_map() -> None:
    """Keys and synonyms match without case, spaces, dashes, dots or underscores; columns that
    say nothing known are left out; two columns saying one key are refused."""
    assert column_map_from_header(
        ["CustomerID", "Colour", "item-id", "Time Stamp", "Country", "qty"], "events"
    ) == {"customer": "CustomerID", "item": "item-id", "time": "Time Stamp", "quantity": "qty"}
    # the items of public interaction files: MovieLens, Online Retail, Amazon reviews
    assert column_map_from_header(["userId", "movieId", "rating", "timestamp"], "events") == {
        "customer": "userId",
        "item": "movieId",
        "rating": "rating",
        "time": "timestamp",
    }
    retail = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice"]
    assert column_map_from_header([*retail, "CustomerID", "Country"], "events") == {
        "order": "InvoiceNo",
        "item": "StockCode",
        "quantity": "Quantity",
        "time": "InvoiceDate",
        "price": "UnitPrice",
        "customer": "CustomerID",
    }
    assert column_map_from_header(["reviewerID", "asin", "overall"], "interactions") == {
        "item": "asin"
    }
    assert column_map_from_header(["id", "age"], "customers") == {"customer": "id"}
    assert column_map_from_header(["a", "b"], "events") == {}
    with pytest.raises(DataError, match="'user' and 'customer_id' both look like 'customer'"):
        column_map_from_header(["user", "customer_id"], "events")


def test_the_header_of_each_format(tmp_path: Path) -> None:
    (tmp_path / "semi.csv").write_text("customer_id; item_id ;ts\n1;a;2024\n", encoding="utf-8")
    assert read_header(tmp_path / "semi.csv") == ["customer_id", "item_id", "ts"]
    frame = pd.DataFrame({"customer_id": ["1"], "ts": pd.to_datetime(["2024-01-01"])})
    frame.to_parquet(tmp_path / "e.parquet")
    assert read_header(tmp_path / "e.parquet") == ["customer_id", "ts"]
    (tmp_path / "e.jsonl").write_text('{"u": 1, "t": "2024"}\n{"u": 2, "t": "2025"}\n')
    assert read_header(tmp_path / "e.jsonl") == ["u", "t"]
    with pytest.raises(DataError, match="no such file"):
        read_header(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_header(tmp_path / "empty.csv")


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """A workbook written cell by cell (openpyxl), blank rows where a row is empty."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row, start=1):
                sheet.cell(row=number, column=column, value=value)
    book.save(path)
    return path


def test_a_workbook_is_read_in_chunks_each_row_numbered_in_its_sheet(tmp_path: Path) -> None:
    """Chunks hold at most ``chunk_rows`` consecutive rows of one sheet; their first row is
    the sheet's own row number (the header is 1, a blank row is skipped and ends a chunk);
    the sheet is named when there are several; joined, they are what ``read_table`` reads."""
    from datetime import datetime

    header = ["Customer ID", "StockCode", "InvoiceDate", "Quantity"]
    first = [[f"c{k}", 71053, datetime(2010, 12, 1, 8, k), 2.0] for k in range(5)]
    second = [[f"d{k}", "85123A", datetime(2011, 1, 2), 6] for k in range(3)]
    book = _workbook(
        tmp_path / "two.xlsx",
        {"2010": [header, *first], "2011": [header, *second[:1], [], *second[1:], [], []]},
    )
    chunks = list(read_chunks(book, CsvOptions(), chunk_rows=2))
    got = [(c.sheet, c.first_line, len(c.frame)) for c in chunks]
    assert got == [("2010", 2, 2), ("2010", 4, 2), ("2010", 6, 1), ("2011", 2, 1), ("2011", 4, 2)]
    whole = read_table(book)
    assert pd.concat([c.frame for c in chunks], ignore_index=True).equals(whole)
    assert list(whole.columns) == header
    # text as a CSV's: whole numbers without ".0", dates as ISO text
    assert whole["StockCode"].tolist() == ["71053"] * 5 + ["85123A"] * 3
    assert whole["Quantity"].tolist() == ["2"] * 5 + ["6"] * 3
    assert whole["InvoiceDate"].iloc[0] == "2010-12-01T08:00:00"
    # one sheet: not named; numbers and times as values when text is off
    one = _workbook(tmp_path / "one.xlsx", {"orders": [header, *first]})
    (chunk,) = read_chunks(one, CsvOptions())
    assert chunk.sheet is None and chunk.first_line == 2
    values = read_table(one, CsvOptions(text=False))
    assert values["Quantity"].dtype.kind == "i" and values["StockCode"].dtype.kind == "i"
    assert values["InvoiceDate"].iloc[4] == pd.Timestamp("2010-12-01 08:04")
    with pytest.raises(DataError, match="no sheet named 'x' \\(it has orders\\)"):
        read_table(one, CsvOptions(sheet="x"))


def test_a_bad_row_of_a_workbook_is_named_by_its_sheet_and_row(tmp_path: Path) -> None:
    from omotenashi import ImportRowError, Omotenashi

    header = ["customer", "item", "time"]
    book = _workbook(
        tmp_path / "log.xlsx",
        {
            "May": [header, ["c1", "i1", "2024-05-01"]],
            "June": [header, ["c2", "i2", "2024-06-01"], [], ["c3", "i3", "soon"]],
        },
    )
    with Omotenashi(str(tmp_path / "store.db")) as om:
        with pytest.raises(ImportRowError, match="log.xlsx, sheet 'June', row 4, field 'time'"):
            om.import_events(book)
        assert om.stats()["events"] == 0  # nothing of the other rows was written
        om.import_events(book, skip_bad_rows=True)
        assert om.stats()["events"] == 2
    rejects = pd.read_csv(tmp_path / "log.xlsx.rejected.csv", dtype=str)
    assert rejects[["row", "file"]].values.tolist() == [["4", f"{book}, sheet 'June'"]]


def test_a_bad_row_of_a_catalogue_workbook_is_named_by_its_sheet_and_row(tmp_path: Path) -> None:
    """Items and customers from a workbook: a bad row is a sheet's *row*, not a line."""
    from omotenashi import ImportRowError, Omotenashi

    items = _workbook(
        tmp_path / "items.xlsx",
        {
            "A": [["sku", "price"], ["m1", "9.99"]],
            "B": [["sku", "price"], ["m2", "7.5"], ["m3", "cheap"]],
        },
    )
    people = _workbook(
        tmp_path / "people.xlsx", {"all": [["id", "plan"], ["c1", "gold"], [None, "x"]]}
    )
    with Omotenashi(str(tmp_path / "store.db")) as om:
        with pytest.raises(
            ImportRowError, match="items.xlsx, sheet 'B', row 3, field 'price': 'cheap' is not"
        ):
            om.import_items(items, mapping="item=sku,price=price")
        with pytest.raises(ImportRowError, match="people.xlsx, row 3, field 'id': no customer id"):
            om.import_customers(people, mapping="customer=id")
        assert om.stats()["items"] == 0 and om.stats()["customers"] == 0


def test_double_colon_files_are_read_by_their_separator(tmp_path: Path) -> None:
    """MovieLens 1M and 10M write ``::`` between fields; their titles hold commas and their
    genres ``|``, which must stay inside the fields."""
    movies = tmp_path / "movies.dat"
    movies.write_text(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "11::American President, The (1995)::Comedy|Drama|Romance\n",
        encoding="utf-8",
    )
    frame = read_table(movies, CsvOptions(header=False))
    assert frame.shape == (2, 3)
    assert frame.iloc[1].tolist() == [
        "11",
        "American President, The (1995)",
        "Comedy|Drama|Romance",
    ]
    chunks = list(read_chunks(movies, CsvOptions(header=False), chunk_rows=1))
    assert [len(c.frame.columns) for c in chunks] == [3, 3]


def test_json_files_are_read_as_lines_or_as_one_array(tmp_path: Path) -> None:
    """Yelp's and Amazon's review dumps are JSON lines named ``.json``; a ``.json`` array is
    one document. Both are read, their header spells Yelp's map."""
    records = [
        {"user_id": "u1", "business_id": "b1", "stars": 4.0, "date": "2016-03-09 00:00:00"},
        {"user_id": "u2", "business_id": "b1", "stars": 2.0, "date": "2016-03-10 01:00:00"},
    ]
    lines = tmp_path / "review.json"
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    array = tmp_path / "reviews.json"
    array.write_text("  \n" + json.dumps(records), encoding="utf-8")
    for path in (lines, array):
        frame = read_table(path)
        assert frame["business_id"].tolist() == ["b1", "b1"], path.name
        assert read_header(path) == ["user_id", "business_id", "stars", "date"], path.name
        chunks = list(read_chunks(path, chunk_rows=1))
        assert [len(c.frame) for c in chunks] == [1, 1] and chunks[1].first_line == 2
    assert column_map_from_header(read_header(lines), "events") == {
        "customer": "user_id",
        "item": "business_id",
        "rating": "stars",
        "time": "date",
    }


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_read_by_its_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    """Excel's "Unicode text" export is UTF-16 with a byte-order mark and tabs: read without
    --encoding (it had been refused as bad UTF-8, with latin-1 suggested)."""
    path = tmp_path / "export.txt"
    text = "customer\titem\ttime\r\nc1\tcafé\t2024-01-01\r\nc2\tthé\t2024-01-02\r\n"
    path.write_bytes("\ufeff".encode(encoding) + text.encode(encoding))
    frame = read_table(path)
    assert list(frame.columns) == ["customer", "item", "time"]
    assert frame["item"].tolist() == ["café", "thé"]
    assert read_header(path) == ["customer", "item", "time"]
    assert [len(c.frame) for c in read_chunks(path, chunk_rows=1)] == [1, 1]
