"""What a customer did since the model was trained, in their next answer: the product's answer
(``for_customer``: the events since training as history, the items turned down left out)
against the trained model's answer alone (what every face gave before), side by side on the
same customers; prints JSON lines.

Online Retail's purchases (customers with an id; the benchmark's own filter of the top-N runs):
the store holds the purchases before ``cut`` (``--days-fresh`` + ``--days-test`` before the
last invoice) and ``train`` fits on them (the automatic choice, ``--budget`` seconds; no tuning
was done for this benchmark, which has no setting of its own but how many events since the
training an answer reads: the newest 1,000, the newest 200 liked ones as its context).
Then the purchases of the next ``--days-fresh`` days are imported (the "since training"
events), and the answers are scored on the purchases of the last ``--days-test`` days: items the
customer had not bought before (a repeat is not something to recommend).

Rows: ``known`` customers (in the model, with purchases since training and in the test days)
and ``new`` ones (first purchase since training). Per group: how many answers offer back an
item bought since training, HR@10 / Recall@10 / NDCG@10 on the test purchases, each answer's
time; and the product minus the model alone, per customer, with a 95 % half-width. A third
answer, ``unweighted``, is the product's reading before the events since training were weighed
as a training weighs them: each item bought since once, as a view, in the order first bought
(the model's own ``recommend`` with that context); ``product_minus_unweighted`` pairs it with
the product's.

Run from the repository root:  python benchmarks/fresh_events.py [--budget 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recommend as bench  # noqa: E402  (the top-N benchmark's Online Retail filter, emit)
from omotenashi import Omotenashi  # noqa: E402
from omotenashi.recommend import Rules  # noqa: E402
from omotenashi.services._recommendations import UNLEARNT_CONTEXT as CONTEXT  # noqa: E402

N = 10
emit = bench.emit


def purchases() -> pd.DataFrame:
    df = bench.retail().dropna(subset=["CustomerID"])
    return pd.DataFrame(
        {
            "customer": df["CustomerID"].astype(int).astype(str),
            "item": df["StockCode"].astype(str),
            "order": df["InvoiceNo"].astype(str),
            "time": pd.to_datetime(df["InvoiceDate"]),
        }
    )


def scores(answer: list[str], relevant: set[str]) -> tuple[float, float, float]:
    hits = [i in relevant for i in answer[:N]]
    gain = sum(1 / np.log2(k + 2) for k, hit in enumerate(hits) if hit)
    ideal = sum(1 / np.log2(k + 2) for k in range(min(len(relevant), N)))
    return float(any(hits)), sum(hits) / len(relevant), gain / ideal


def summary(rows: list[dict], group: str) -> dict:
    frame = pd.DataFrame(rows)
    out: dict = {"group": group, "customers": len(frame)}
    if frame.empty:
        return out
    for who in ("model", "product", "unweighted"):
        out[who] = {
            "offers_back_an_item_bought_since_training": float(frame[f"{who}_back"].mean()),
            "hr@10": float(frame[f"{who}_hr"].mean()),
            "recall@10": float(frame[f"{who}_recall"].mean()),
            "ndcg@10": float(frame[f"{who}_ndcg"].mean()),
            "answer_ms_median": float(frame[f"{who}_ms"].median()),
        }
    for other in ("model", "unweighted"):
        for metric in ("hr", "recall", "ndcg"):
            diff = frame[f"product_{metric}"] - frame[f"{other}_{metric}"]
            half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
            out[f"product_minus_{other}_{metric}@10"] = [float(diff.mean()), float(half)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--days-fresh", type=int, default=30)
    parser.add_argument("--days-test", type=int, default=30)
    args = parser.parse_args()
    data = purchases()
    end = data["time"].max()
    cut_test = end - pd.Timedelta(days=args.days_test)
    cut = cut_test - pd.Timedelta(days=args.days_fresh)
    before = data[data["time"] < cut]
    fresh = data[(data["time"] >= cut) & (data["time"] < cut_test)]
    test = data[data["time"] >= cut_test]
    mapping = "customer=customer,item=item,order=order,time=time"
    with tempfile.TemporaryDirectory() as root:
        db = str(Path(root) / "shop.db")
        with Omotenashi(db) as om:
            path = Path(root) / "before.csv"
            before.to_csv(path, index=False)
            om.import_events(path, mapping=mapping, type="purchase")
            start = time.perf_counter()
            info = om.training.train(budget=args.budget, session_model=False)
            train_s = time.perf_counter() - start
            path = Path(root) / "fresh.csv"
            fresh.to_csv(path, index=False)
            om.import_events(path, mapping=mapping, type="purchase")
            model, _ = om.recommendations.model()
            known = set(model.user_ids_.tolist())
            had = data[data["time"] < cut_test].groupby("customer")["item"].agg(set)
            since = fresh.groupby("customer")["item"].agg(set)
            order = fresh.sort_values("time", kind="stable").groupby("customer")["item"].agg(list)
            wanted = test.groupby("customer")["item"].agg(set)
            rows: dict[str, list[dict]] = {"known": [], "new": []}
            for customer in sorted(set(since.index) & set(wanted.index)):
                relevant = wanted[customer] - had.get(customer, set())
                if not relevant:
                    continue
                t0 = time.perf_counter()
                alone = [r.item_id for r in model.recommend(customer, N, rules=Rules())]
                t1 = time.perf_counter()
                served = [r.item_id for r in om.recommendations.for_customer(customer, N)]
                t2 = time.perf_counter()
                bought = list(dict.fromkeys(order.get(customer, [])))
                older, newest = bought[:-CONTEXT], bought[-CONTEXT:]
                rules = Rules(exclude_items=tuple(older))
                flat = [
                    r.item_id for r in model.recommend(customer, N, context=newest, rules=rules)
                ]
                t3 = time.perf_counter()
                row = {"customer": customer}
                answers = (
                    ("model", alone, t1 - t0),
                    ("product", served, t2 - t1),
                    ("unweighted", flat, t3 - t2),
                )
                for who, answer, seconds in answers:
                    hr, recall, ndcg = scores(answer, relevant)
                    row.update(
                        {
                            f"{who}_back": float(bool(set(answer) & since[customer])),
                            f"{who}_hr": hr,
                            f"{who}_recall": recall,
                            f"{who}_ndcg": ndcg,
                            f"{who}_ms": 1000 * seconds,
                        }
                    )
                rows["known" if customer in known else "new"].append(row)
    base = {
        "benchmark": "fresh_events",
        "dataset": "online-retail",
        "trained": info["model"],
        "train_s": round(train_s, 1),
        "cut": str(cut),
        "cut_test": str(cut_test),
        "events_before": len(before),
        "events_since_training": len(fresh),
        "test_events": len(test),
    }
    for group, found in rows.items():
        emit({**base, **summary(found, group)})


if __name__ == "__main__":
    main()
