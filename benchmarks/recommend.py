"""Benchmark of the recommenders against their peers, side by side in one run; prints JSON lines.

Protocol P1 (top-N, per-user temporal split) on ml-100k and ml-latest-small (the targets) and on
Online Retail purchases (data none of our defaults were chosen on), also through the product path
(``train`` with automatic model choice, then the all-customers CSV); protocol S1 (next click) on
the diginetica sample (session-rec split) and on Online Retail invoices; then speed: one customer
on a 10,000-item catalogue, and train + all customers for 6,000 customers × 3,700 items.

Run from the repository root:  python benchmarks/recommend.py [--only p1|store|s1|speed]
Every line is one JSON object; the last line (``"summary": true``) compares our best with the
best peer per dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from omotenashi.evaluation import (
    TUNE_GRIDS,
    evaluate_sessions,
    evaluate_topn,
    load_diginetica,
    read_interactions,
    session_peers,
    split_p1,
    split_sessions_last,
    topn_peers,
    tune,
)
from omotenashi.recommend import Rules, make_model

DATA = Path(__file__).resolve().parents[1] / "../shared/datasets"
PEERS_P1 = {"popularity", "ease", "als", "itemknn_bm25"}


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def movielens_items(name: str) -> pd.DataFrame:
    if name == "ml-100k":
        genres = [g.split("|")[0] for g in (DATA / "ml-100k/u.genre").read_text().split("\n") if g]
        raw = pd.read_csv(DATA / "ml-100k/u.item", sep="|", header=None, encoding="latin-1")
        flags = raw.iloc[:, 5:24].to_numpy()
        cats = [[genres[j] for j in np.flatnonzero(row)] for row in flags]
        return pd.DataFrame({"item_id": raw[0].astype(str), "title": raw[1], "categories": cats})
    movies = pd.read_csv(DATA / "ml-latest-small/movies.csv")
    tags = pd.read_csv(DATA / "ml-latest-small/tags.csv")
    tag_lists = tags.groupby("movieId")["tag"].agg(lambda t: sorted(set(map(str, t))))
    return pd.DataFrame(
        {
            "item_id": movies["movieId"].astype(str),
            "title": movies["title"],
            "categories": movies["genres"]
            .str.split("|")
            .map(lambda g: [x for x in g if x != "(no genres listed)"]),
            "tags": movies["movieId"]
            .map(tag_lists)
            .map(lambda t: t if isinstance(t, list) else []),
        }
    )


def retail() -> pd.DataFrame:
    df = pd.read_parquet(DATA / "online-retail/Online Retail.parquet")
    df = df[(df["Quantity"] > 0) & ~df["InvoiceNo"].str.startswith("C")]
    return df[df["StockCode"].str.match(r"^\d{5}")]


def p1_datasets():
    yield (
        "ml-100k",
        read_interactions(DATA / "ml-100k/u.data", "user=0,item=1,rating=2,time=3"),
        4.0,
        movielens_items("ml-100k"),
    )
    yield (
        "ml-latest-small",
        read_interactions(
            DATA / "ml-latest-small/ratings.csv",
            "user=userId,item=movieId,rating=rating,time=timestamp",
        ),
        4.0,
        movielens_items("ml-latest-small"),
    )
    df = retail().dropna(subset=["CustomerID"])
    frame = pd.DataFrame(
        {
            "user_id": df["CustomerID"].astype(int).astype(str),
            "item_id": df["StockCode"],
            "timestamp": df["InvoiceDate"],
        }
    )
    yield "online-retail", frame, None, None


def run_p1(summary: dict) -> None:
    for name, frame, min_rating, items in p1_datasets():
        split = split_p1(frame, min_rating=min_rating)
        ours = [("recent_ease", make_model("recent_ease"))]
        start = time.perf_counter()
        best, _ = tune("recent_ease", split.train, TUNE_GRIDS["recent_ease"])
        tune_s = time.perf_counter() - start
        ours.append(("recent_ease+tuned", make_model("recent_ease", **best)))
        if items is not None:
            ours += [("content", make_model("content")), ("hybrid", make_model("hybrid"))]
        rows = []

        def show(row, name=name, rows=rows, tune_s=tune_s):
            row = {"protocol": "P1", "dataset": name, **row}
            if row["model"] == "recent_ease+tuned":
                row["tune_s"] = round(tune_s, 2)
            rows.append(row)
            emit(row)

        evaluate_topn(split, topn_peers() + ours, items=items, on_result=show)
        peers = [r for r in rows if r["model"] in PEERS_P1]
        best_peer = max(peers, key=lambda r: r["ndcg@10"])
        mine = [r for r in rows if r["model"] not in PEERS_P1]
        default = next(r for r in mine if r["model"] == "recent_ease")
        best_ours = max(mine, key=lambda r: r["ndcg@10"])
        summary[f"P1/{name}"] = {
            "best_peer": [best_peer["model"], best_peer["params"].get("l2"), best_peer["ndcg@10"]],
            "default_ndcg@10": default["ndcg@10"],
            "default_gain": default["ndcg@10"] / best_peer["ndcg@10"] - 1,
            "best_ours": [best_ours["model"], best_ours["ndcg@10"]],
            "best_gain": best_ours["ndcg@10"] / best_peer["ndcg@10"] - 1,
            "default_fit_s": default["fit_s"],
        }


class FrameStore:
    """The store contract of the recommendation use cases, over DataFrames (as the CLI sees it)."""

    def __init__(self, events: pd.DataFrame, items: pd.DataFrame | None, root: Path) -> None:
        self._events, self._items, self.root = events, items, root

    def events_frame(self) -> pd.DataFrame:
        return self._events

    def items_frame(self) -> pd.DataFrame:
        return self._items if self._items is not None else pd.DataFrame({"item_id": []})


def run_p1_store(summary: dict) -> None:
    """P1 through the product path: ``train`` (automatic model choice) + all-customers CSV."""
    import tempfile

    from omotenashi.evaluation import ndcg_at_k, recall_at_k
    from omotenashi.services import recommend_all_customers
    from omotenashi.services import train as train_store

    for name, frame, min_rating, items in list(p1_datasets())[:2]:
        split = split_p1(frame, min_rating=min_rating)
        ratings = frame.assign(
            user_id=frame["user_id"].astype(str), item_id=frame["item_id"].astype(str)
        )
        train = split.train.merge(ratings[["user_id", "item_id", "rating"]], how="left")
        events = pd.DataFrame(
            {
                "person_id": train["user_id"],
                "customer_id": train["user_id"],
                "type": "rating",
                "item_id": train["item_id"],
                "rating": train["rating"],
                "timestamp": train["timestamp"],
            }
        )
        with tempfile.TemporaryDirectory() as root:
            om = FrameStore(events, items, Path(root))
            start = time.perf_counter()
            info = train_store(om, session_model=False)
            train_s = time.perf_counter() - start
            start = time.perf_counter()
            out = Path(root) / "recs.csv"
            recommend_all_customers(om, 20).to_csv(out, index=False)
            batch_s = time.perf_counter() - start
            recs = pd.read_csv(out, dtype={"customer_id": str, "item_id": str})
        test = split.test.groupby("user_id")["item_id"].agg(set)
        lists = (
            recs.sort_values(["customer_id", "rank"]).groupby("customer_id")["item_id"].agg(list)
        )
        users = test.index
        hits = np.array(
            [[i in test[u] for i in (lists.get(u, []) + [""] * 20)[:20]] for u in users]
        )
        n_rel = test.map(len).to_numpy()
        row = {
            "protocol": "P1-through-train-and-csv",
            "dataset": name,
            "chosen_model": info["model"],
            "selection": info["selection"],
            "ndcg@10": float(ndcg_at_k(hits, n_rel, 10).mean()),
            "recall@20": float(recall_at_k(hits, n_rel, 20).mean()),
            "fit_s": info["fit_s"],
            "train_s_with_selection": round(train_s, 2),
            "all_customers_csv_s": round(batch_s, 2),
        }
        emit(row)
        summary[f"P1-store/{name}"] = {k: row[k] for k in ("chosen_model", "ndcg@10", "fit_s")}


def s1_datasets():
    frame = load_diginetica(DATA / "diginetica-sample/sample_train-item-views.csv")
    yield "diginetica", split_sessions_last(frame, order_by="date"), None
    df = retail()
    df = df.assign(line=np.arange(len(df)))
    sessions = pd.DataFrame(
        {
            "session_id": df["InvoiceNo"].astype(int),
            "item_id": df["StockCode"],
            # invoice lines share one time: keep their order with a millisecond per line
            "timestamp": df["InvoiceDate"].dt.tz_localize("UTC")
            + pd.to_timedelta(df["line"] % 1000, unit="ms"),
            "date": df["InvoiceDate"].dt.floor("D").dt.tz_localize("UTC"),
        }
    )
    sessions = sessions.drop_duplicates(["session_id", "item_id"])
    split = split_sessions_last(sessions, order_by="date")
    # a seeded sample of 200 test invoices keeps the run short (full test: about 4,000)
    rng = np.random.default_rng(0)
    ids = split.test["session_id"].unique()
    keep = rng.choice(ids, size=min(200, len(ids)), replace=False)
    test = split.test[split.test["session_id"].isin(keep)]
    test = test.groupby("session_id").head(10)  # first 10 lines of each invoice
    yield "online-retail-invoices", type(split)(train=split.train, test=test), 200


def run_s1(summary: dict) -> None:
    for name, split, sampled in s1_datasets():
        rows = []

        def show(row, name=name, rows=rows, sampled=sampled):
            row = {"protocol": "S1", "dataset": name, "test_sessions_sampled": sampled, **row}
            rows.append(row)
            emit(row)

        ours = [("sknn", make_model("sknn")), ("sr", make_model("sr"))]
        evaluate_sessions(split, session_peers() + ours, on_result=show)
        peers = [r for r in rows if r["model"] not in ("sknn", "sr")]
        mine = next(r for r in rows if r["model"] == "sknn")
        summary[f"S1/{name}"] = {
            "sknn": [mine["hr@20"], mine["mrr@20"]],
            "best_peer_hr": max(r["hr@20"] for r in peers),
            "best_peer_mrr": max(r["mrr@20"] for r in peers),
            "published_session_rec": {
                "STAN": [0.5792, 0.3198],
                "VSTAN": [0.5750, 0.3101],
                "SKNN": [0.5708, 0.2505],
                "V-SKNN": [0.5417, 0.2485],
            }
            if name == "diginetica"
            else None,
        }


def synthetic(n_users: int, n_items: int, per_user: int, seed: int = 0) -> pd.DataFrame:
    """Power-law item popularity, users with 2 taste clusters each, times in order."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    clusters = rng.integers(0, 20, size=n_items)
    rows_u, rows_i = [], []
    for u in range(n_users):
        liked = rng.choice(20, size=2, replace=False)
        p = pop * np.where(np.isin(clusters, liked), 8.0, 1.0)
        p /= p.sum()
        k = max(5, int(rng.poisson(per_user)))
        items = rng.choice(n_items, size=min(k, n_items), replace=False, p=p)
        rows_u.append(np.full(len(items), u))
        rows_i.append(items)
    u = np.concatenate(rows_u)
    i = np.concatenate(rows_i)
    return pd.DataFrame(
        {"user_id": u.astype(str), "item_id": i.astype(str), "timestamp": np.arange(len(u))}
    )


def run_speed(summary: dict) -> None:
    # one known customer, 10,000-item catalogue, in-process
    data = synthetic(3000, 10_000, 60)
    start = time.perf_counter()
    model = make_model("recent_ease").fit(data)
    fit_s = time.perf_counter() - start
    users = data["user_id"].unique()[:300]
    for u in users[:20]:
        model.recommend(u, 10)  # warm-up
    times = []
    for u in users:
        t = time.perf_counter()
        model.recommend(u, 10)
        times.append(time.perf_counter() - t)
    times_ex = []
    for u in users:
        t = time.perf_counter()
        model.recommend(u, 10, rules=Rules(exclude_categories=()), explain=False)
        times_ex.append(time.perf_counter() - t)
    row = {
        "speed": "one_customer",
        "catalogue": 10_000,
        "model": "recent_ease",
        "fit_s": round(fit_s, 2),
        "median_ms_with_reasons": round(1e3 * float(np.median(times)), 3),
        "median_ms_no_reasons": round(1e3 * float(np.median(times_ex)), 3),
        "p95_ms_with_reasons": round(1e3 * float(np.percentile(times, 95)), 3),
    }
    emit(row)
    summary["speed/one_customer"] = row
    # train + all customers: 6,000 × 3,700 (MovieLens-1M scale, about 1M interactions)
    data = synthetic(6000, 3700, 165, seed=1)
    start = time.perf_counter()
    model = make_model("recent_ease").fit(data)
    fit_s = time.perf_counter() - start
    _, ids, _ = model.recommend_batch(None, 20)
    frame = pd.DataFrame(
        {
            "customer_id": np.repeat(model.user_ids_, 20),
            "rank": np.tile(np.arange(1, 21), len(model.user_ids_)),
            "item_id": ids.ravel(),
        }
    )
    frame.to_csv("/dev/null", index=False)
    total = time.perf_counter() - start
    row = {
        "speed": "all_customers",
        "customers": int(len(model.user_ids_)),
        "items": int(len(model.item_ids_)),
        "interactions": int(len(data)),
        "fit_s": round(fit_s, 2),
        "total_s_including_training": round(total, 2),
    }
    emit(row)
    summary["speed/all_customers"] = row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["p1", "store", "s1", "speed"], action="append")
    args = parser.parse_args()
    parts = args.only or ["p1", "store", "s1", "speed"]
    summary: dict = {}
    steps = (("p1", run_p1), ("store", run_p1_store), ("s1", run_s1), ("speed", run_speed))
    for part, fn in steps:
        if part in parts:
            fn(summary)
    emit({"summary": True, **summary})


if __name__ == "__main__":
    main()
