"""Care benchmark: clinic recall time as the clinic grows. Not a test.

The Synthea export (59 patients) is copied under new patient ids ``copies`` times (same records,
distinct people), and the recall rules run over the whole frame; the same run over one copy is
the peer, so the figure to read is the ratio (time per patient should stay flat).

    python benchmarks/care.py [--copies 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from omotenashi.care import clinic_recalls
from omotenashi.services import Omotenashi

DATA = Path(__file__).resolve().parents[1] / "../shared/datasets/synthea"


def _copies(
    events: pd.DataFrame, patients: pd.DataFrame, n: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ev, pt = [], []
    for k in range(n):
        ev.append(events.assign(person_id=events["person_id"] + f"#{k}"))
        pt.append(patients.assign(customer_id=patients["customer_id"] + f"#{k}"))
    return pd.concat(ev, ignore_index=True), pd.concat(pt, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with Omotenashi(Path(folder) / "clinic.db") as om:
            om.ingest.import_preset("synthea", DATA)
            events = om.store.reads.events_frame()
            patients = om.store.catalog.customers_frame()
    runs = []
    for n in (1, args.copies):
        ev, pt = _copies(events, patients, n)
        started = time.perf_counter()
        found = clinic_recalls(ev, pt, "2022-02-27")
        seconds = time.perf_counter() - started
        runs.append(
            {
                "patients": len(pt),
                "events": len(ev),
                "recalls": len(found),
                "seconds": round(seconds, 3),
                "ms_per_patient": round(1000 * seconds / len(pt), 4),
            }
        )
    print(json.dumps({"benchmark": "clinic_recalls", "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
