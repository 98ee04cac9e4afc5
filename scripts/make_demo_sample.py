"""Rebuild the demo sample shipped in src/omotenashi/data from the UCI Online Retail file.

The sample keeps every line of 400 customers drawn at random (seed 7) plus customer 12347 and of
150 guest invoices, so that profiles, returns and guest checkouts all appear. Run from the repo
root: python scripts/make_demo_sample.py ../shared/datasets/online-retail/Online\\ Retail.parquet
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def main(source: str) -> None:
    frame = pd.read_parquet(source)
    rng = np.random.default_rng(7)
    customers = frame["CustomerID"].dropna().unique()
    chosen = set(rng.choice(customers, size=400, replace=False).tolist()) | {12347.0}
    guests = frame.loc[frame["CustomerID"].isna(), "InvoiceNo"].unique()
    chosen_guests = set(rng.choice(guests, size=150, replace=False).tolist())
    sample = frame[frame["CustomerID"].isin(chosen) | frame["InvoiceNo"].isin(chosen_guests)]
    sample = sample.assign(
        CustomerID=sample["CustomerID"].map(lambda v: "" if pd.isna(v) else str(int(v))),
        InvoiceDate=sample["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M"),
    )
    target = Path("src/omotenashi/data/online_retail_sample.csv.gz")
    sample.to_csv(target, index=False, compression={"method": "gzip", "mtime": 0})
    print(
        f"{len(sample):,} lines, {sample['CustomerID'].replace('', np.nan).nunique()} "
        f"customers -> {target} ({target.stat().st_size:,} bytes)"
    )


if __name__ == "__main__":
    main(sys.argv[1])
