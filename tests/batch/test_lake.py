"""The event export: partitioned Parquet, incremental by seq, atomic, from both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from omotenashi import Omotenashi
from omotenashi.batch import _lake, committed_files, read_events, read_identities, read_manifest


def _events(day: str, n: int, prefix: str) -> list[dict]:
    return [
        {
            "event_id": f"{prefix}{i}",
            "customer_id": f"c{i % 3}" if i % 4 else None,
            "anonymous_id": f"a{i % 2}",
            "type": "purchase" if i % 2 else "view",
            "item_id": f"i{i % 5}",
            "order_id": f"o{prefix}{i // 2}" if i % 2 else None,
            "value": 2.5 * i if i % 2 else None,
            "timestamp": f"{day}T{(i * 5) % 24:02d}:30:00Z",
        }
        for i in range(n)
    ]


def _store_frame(om: Omotenashi) -> pd.DataFrame:
    """The store's events, read through the analytics frame (an independent path)."""
    frame = om.events_frame()
    return frame.set_index("event_id").sort_index()


def test_export_is_partitioned_incremental_and_complete(om: Omotenashi, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    om.track_many(_events("2025-03-01", 12, "a") + _events("2025-03-02", 9, "b"))
    first = om.scale.export_events(out, page_rows=5)  # several pages per export
    assert first["rows"] == 21 and first["after_seq"] == 0
    assert first["watermark_seq"] == om.store.events.last_seq()
    assert sorted(first["partitions"]) == ["2025-03-01", "2025-03-02"]

    # new events, one of them on an old day; an export adds only those
    om.track_many(_events("2025-03-02", 3, "c") + _events("2025-02-27", 2, "d"))
    om.merge("c1", "c2")
    second = om.scale.export_events(out)
    assert second["rows"] == 5 and second["after_seq"] == first["watermark_seq"]
    assert sorted(second["partitions"]) == ["2025-02-27", "2025-03-02"]
    third = om.scale.export_events(out)
    assert third["rows"] == 0 and third["files"] == []

    table = read_events(out).to_pandas().set_index("event_id").sort_index()
    store = _store_frame(om)
    assert list(table.index) == list(store.index)  # each event once, none missing
    assert (table["ts"] == store["timestamp"]).all()
    assert (
        table["value"].equals(store["value"])
        or (table["value"].fillna(-1) == store["value"].fillna(-1)).all()
    )
    for column in ("customer_id", "anonymous_id", "type", "item_id", "order_id"):
        assert table[column].fillna("").tolist() == store[column].fillna("").tolist(), column
    # the partition of each event is the UTC day of its time
    assert (table["dt"] == table["ts"].dt.strftime("%Y-%m-%d")).all()

    # a hive-partitioned reader sees the same rows as the manifest lists
    dataset = ds.dataset(out / "events", format="parquet", partitioning="hive")
    assert dataset.count_rows() == 26
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["watermark_seq"] == om.store.events.last_seq()
    assert sum(f["rows"] for f in manifest["files"]) == manifest["rows"] == 26
    assert [e["rows"] for e in manifest["exports"]] == [21, 5, 0]
    links = read_identities(out).to_pylist()
    assert {"kind": "customer", "value": "c2", "customer_id": "c1"} in links


def test_a_crash_before_the_manifest_leaves_nothing_half_visible(
    om: Omotenashi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "lake"
    om.track_many(_events("2025-03-01", 6, "a"))
    om.scale.export_events(out)
    before = read_manifest(out)
    om.track_many(_events("2025-03-01", 4, "b") + _events("2025-03-03", 4, "c"))

    def crash(path: Path, data: dict) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(_lake, "_write_json", crash)
    with pytest.raises(OSError):
        om.scale.export_events(out)
    monkeypatch.undo()
    # the interrupted export's files exist, but the manifest (the commit point) is unchanged
    assert read_manifest(out) == before
    assert len(list((out / "events").rglob("*.parquet"))) > len(committed_files(out))
    assert len(read_events(out)) == 6

    again = om.scale.export_events(out)
    assert again["rows"] == 8 and again["removed_leftovers"] == 2
    assert sorted(read_events(out).column("event_id").to_pylist()) == sorted(_store_frame(om).index)
    assert ds.dataset(out / "events", format="parquet", partitioning="hive").count_rows() == 14


def test_a_folder_of_another_store_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    with Omotenashi(tmp_path / "big.db") as big:
        big.track_many(_events("2025-03-01", 8, "a"))
        big.scale.export_events(out)
    with Omotenashi(tmp_path / "small.db") as small:
        small.track_many(_events("2025-03-01", 2, "z"))
        with pytest.raises(Exception, match="watermark"):
            small.scale.export_events(out)
