"""Protocols P1 and S1 on hand-made data, and the published diginetica split sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError
from omotenashi.evaluation import (
    load_diginetica,
    prepare_s1,
    read_interactions,
    read_sessions,
    split_p1,
    split_sessions_last,
)

DATASETS = Path(__file__).resolve().parents[2] / "../shared/datasets"


def test_p1_temporal_split_with_ties_negatives_and_small_users():
    rows = []
    # user a: 10 positives at times 0..9 (listed in reverse), plus one negative
    rows += [("a", f"i{t}", 5, t) for t in reversed(range(10))]
    rows += [("a", "neg", 2, 100)]
    # user b: 5 positives, two tied in time at the end: ties broken by item id (numbers: 10 < 9?)
    rows += [
        ("b", "i1", 4, 1),
        ("b", "i2", 4, 2),
        ("b", "i3", 4, 3),
        ("b", "z", 4, 9),
        ("b", "y", 4, 9),
    ]
    # user c: only 4 positives → dropped
    rows += [("c", f"i{t}", 5, t) for t in range(4)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    split = split_p1(frame, min_rating=4, ties="item_id")
    train = split.train.groupby("user_id")["item_id"].apply(list).to_dict()
    test = split.test.groupby("user_id")["item_id"].apply(set).to_dict()
    assert train["a"] == [f"i{t}" for t in range(8)]  # floor(0.8 * 10) = 8, by time
    assert test["a"] == {"i8", "i9"}
    assert train["b"] == ["i1", "i2", "i3", "y"]  # floor(0.8 * 5) = 4; tie y < z
    assert test["b"] == {"z"}
    assert "c" not in train and "c" not in test
    assert "neg" not in set(split.train["item_id"]) | set(split.test["item_id"])
    # the default breaks the tie by a hash of the pair: the same by time, y or z held out
    hashed = split_p1(frame, min_rating=4)
    train = hashed.train.groupby("user_id")["item_id"].apply(list).to_dict()
    test = hashed.test.groupby("user_id")["item_id"].apply(set).to_dict()
    assert train["a"] == [f"i{t}" for t in range(8)] and test["a"] == {"i8", "i9"}
    assert train["b"][:3] == ["i1", "i2", "i3"] and {train["b"][3]} | test["b"] == {"y", "z"}


def test_p1_without_time_is_a_seeded_random_split():
    frame = pd.DataFrame({"user_id": ["u"] * 10, "item_id": [str(i) for i in range(10)]})
    a = split_p1(frame, random_state=1)
    b = split_p1(frame, random_state=1)
    assert len(a.train) == 8 and len(a.test) == 2
    assert a.test.equals(b.test)
    seeds = {frozenset(split_p1(frame, random_state=s).test["item_id"]) for s in range(6)}
    assert len(seeds) > 1  # the seed matters


def test_p1_errors():
    with pytest.raises(DataError, match="item_id"):
        split_p1(pd.DataFrame({"user_id": [1]}))
    with pytest.raises(DataError, match="test_fraction"):
        split_p1(pd.DataFrame({"user_id": [1], "item_id": [1]}), test_fraction=1.0)
    with pytest.raises(DataError, match="5 or more"):
        split_p1(pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2]}))


def test_s1_drops_unseen_items_then_short_sessions():
    train = pd.DataFrame(
        {"session_id": [1, 1, 2, 2], "item_id": ["a", "b", "b", "c"], "timestamp": [1, 2, 3, 4]}
    )
    test = pd.DataFrame(
        {
            "session_id": [3, 3, 3, 4, 4, 5],
            "item_id": ["a", "x", "c", "x", "b", "a"],
            "timestamp": [5, 6, 7, 8, 9, 10],
        }
    )
    split = prepare_s1(train, test)
    assert split.test.groupby("session_id")["item_id"].apply(list).to_dict() == {3: ["a", "c"]}
    assert split.n_predictions == 1


def test_session_split_orders_by_last_day_then_id():
    day = pd.Timestamp("2020-01-01", tz="UTC")
    rows = []
    for sid, d in [(1, 0), (2, 3), (3, 1), (4, 3), (5, 2)]:
        for j, item in enumerate(["a", "b"]):
            rows.append(
                (sid, item, day + pd.Timedelta(days=d, seconds=j), day + pd.Timedelta(days=d))
            )
    rows.append((6, "a", day, day))  # length 1: dropped before splitting
    frame = pd.DataFrame(rows, columns=["session_id", "item_id", "timestamp", "date"])
    split = split_sessions_last(frame, test_fraction=0.4, order_by="date")
    assert sorted(split.test["session_id"].unique()) == [2, 4]  # last two: day 3, ids 2 < 4
    assert 6 not in set(split.train["session_id"])


@pytest.mark.dataset
def test_diginetica_split_matches_the_session_rec_protocol():
    frame = load_diginetica(DATASETS / "diginetica-sample/sample_train-item-views.csv")
    split = split_sessions_last(frame, order_by="date")
    assert split.train["session_id"].nunique() == 1642
    assert split.test["session_id"].nunique() == 179
    assert split.n_predictions == 480
    # same split through the generic file reader and --map keys
    again = read_sessions(
        DATASETS / "diginetica-sample/sample_train-item-views.csv",
        "session=session_id,item=item_id,time=eventdate,offset_ms=timeframe",
    )
    assert split_sessions_last(again, order_by="date").n_predictions == 480


@pytest.mark.dataset
def test_read_interactions_positional_map_ml100k():
    frame = read_interactions(DATASETS / "ml-100k/u.data", "user=0,item=1,rating=2,time=3")
    assert len(frame) == 100_000
    assert frame["timestamp"].min() == pd.Timestamp(874724710, unit="s", tz="UTC")
    assert np.isclose(frame["rating"].mean(), 3.52986)


def test_a_map_by_position_reads_past_a_header_of_words(tmp_path):
    """``--map user=0,...`` on a file with a header of words (MovieLens' ``ratings.csv``, CDNOW's
    master file): the header is not read as a customer's rating (the import does the same,
    ``files.header_and_map``); a first line of numbers stays a row."""
    headed = tmp_path / "ratings.csv"
    headed.write_text(
        "userId,movieId,rating,timestamp\n1,10,4.0,964982703\n1,20,3.5,964981247\n"
        "2,10,5.0,964982224\n"
    )
    frame = read_interactions(headed, "user=0,item=1,rating=2,time=3")
    assert frame["user_id"].astype(str).tolist() == ["1", "1", "2"]
    assert frame["rating"].tolist() == [4.0, 3.5, 5.0]
    assert frame["timestamp"].iloc[0] == pd.Timestamp(964982703, unit="s", tz="UTC")
    bare = tmp_path / "bare.csv"
    bare.write_text("1,10,4.0,964982703\n2,10,5.0,964982224\n")
    frame = read_interactions(bare, "user=0,item=1,rating=2,time=3")
    assert frame["user_id"].astype(str).tolist() == ["1", "2"]
    clicks = tmp_path / "clicks.csv"
    clicks.write_text("session item when\n7 a 1400000000\n7 b 1400000060\n")
    sessions = read_sessions(clicks, "session=0,item=1,time=2")
    assert sessions["item_id"].tolist() == ["a", "b"]


def test_reader_errors(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("u,i,r\n1,2,5\n")
    with pytest.raises(DataError, match="names no column"):
        read_interactions(path, "user=u,item=item")
    with pytest.raises(DataError, match="lacks"):
        read_interactions(path, "user=u")
    with pytest.raises(DataError, match="not key=column"):
        read_interactions(path, "user")
    with pytest.raises(DataError, match="not found"):
        read_interactions(tmp_path / "missing.csv", "user=u,item=i")
