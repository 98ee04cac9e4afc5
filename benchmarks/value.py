"""Customer-value benchmark: omotenashi.value side by side with `lifetimes` (archived) as a peer.

Prints one JSON object. Datasets are read from ../shared/datasets relative to the repository.

* CDNOW sample (2,357 customers, weeks; calibration 1997-01-01..1997-09-30, holdout to
  1998-06-30): BG/NBD / Pareto/NBD / Gamma-Gamma parameters vs the published ones, holdout
  per-customer MAE, RMSE, correlation, totals.
* CDNOW master (23,570 customers): fit time.
* Online Retail (calibration to 2011-08-31, holdout to 2011-12-09): holdout purchases and spend,
  non-finite predictions.

`lifetimes` runs in a separate throw-away virtual environment, never in the project's: set
OMOTENASHI_LIFETIMES_PYTHON to its interpreter, or pass --install-lifetimes to create one in
the system temporary directory. When it is unavailable the JSON says so.

Usage: python benchmarks/value.py [--install-lifetimes] [--skip-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from omotenashi.value import (
    BGNBD,
    GammaGamma,
    ParetoNBD,
    calibration_holdout_split,
    holdout_metrics,
    rfm_summary,
    transactions_from_frame,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "../shared/datasets"

PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
    "pareto": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669, "log_likelihood": -9595.0},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}

PEER_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
from lifetimes import BetaGeoFitter, ParetoNBDFitter, GammaGammaFitter
job = json.load(open(sys.argv[1]))
out = {}
for case in job["cases"]:
    s = pd.read_csv(case["summary"])
    res = {}
    for name, cls in (("bgnbd", BetaGeoFitter), ("pareto", ParetoNBDFitter)):
        if name not in case["models"]:
            continue
        t0 = time.perf_counter()
        try:
            m = cls().fit(s["frequency"], s["recency"], s["T"])
        except Exception as exc:
            res[name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            continue
        fit_s = time.perf_counter() - t0
        r = {"params": {k: float(v) for k, v in m.params_.items()}, "fit_s": fit_s}
        if "holdout_purchases" in s:
            p = np.asarray(m.conditional_expected_number_of_purchases_up_to_time(
                case["holdout_length"], s["frequency"], s["recency"], s["T"]), dtype=float)
            finite = np.isfinite(p)
            r["non_finite_predictions"] = int((~finite).sum())
            a = s["holdout_purchases"].to_numpy()
            if finite.any():
                r["mae_finite_only"] = float(np.abs(p[finite] - a[finite]).mean())
                r["predicted_total_finite_only"] = float(p[finite].sum())
        res[name] = r
    if case.get("gamma_gamma"):
        rep = s[(s["frequency"] > 0) & (s["monetary"] > 0)]
        try:
            g = GammaGammaFitter().fit(rep["frequency"], rep["monetary"])
            res["gamma_gamma"] = {"params": {k: float(v) for k, v in g.params_.items()}}
        except Exception as exc:
            res["gamma_gamma"] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    out[case["name"]] = res
print(json.dumps(out))
"""


def _peer_python(install: bool) -> tuple[str | None, str]:
    env = os.environ.get("OMOTENASHI_LIFETIMES_PYTHON")
    if env:
        return env, "OMOTENASHI_LIFETIMES_PYTHON"
    venv = Path(tempfile.gettempdir()) / "lt"
    python = venv / "bin" / "python"
    if not python.exists() and install:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "lifetimes"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            return None, f"pip install lifetimes failed: {done.stderr[-300:]}"
    if python.exists():
        return str(python), "throw-away venv in the temporary directory"
    return None, "lifetimes not installed (pass --install-lifetimes)"


def _cdnow_sample() -> pd.DataFrame:
    raw = pd.read_csv(
        DATA / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "sample_id", "date", "cds", "value"],
        dtype={"sample_id": str},
    )
    return transactions_from_frame(raw, customer="sample_id", time="date", value="value")


def _cdnow_master() -> pd.DataFrame:
    raw = pd.read_csv(DATA / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str})
    return transactions_from_frame(raw, customer="customer_id", time="date", value="dollar_value")


def _online_retail() -> pd.DataFrame:
    raw = pd.read_parquet(DATA / "online-retail" / "Online Retail.parquet")
    # Invoices starting with C are cancellations; they and other negative lines are dropped.
    raw = raw[~raw["InvoiceNo"].astype(str).str.startswith("C")]
    return transactions_from_frame(
        raw,
        customer="CustomerID",
        time="InvoiceDate",
        value="Quantity*UnitPrice",
        order="InvoiceNo",
        negative="drop",
    )


def _fit(model_cls, summary: pd.DataFrame) -> tuple[object, float]:
    t0 = time.perf_counter()
    model = model_cls().fit(summary)
    return model, time.perf_counter() - t0


def _ours_on_split(split, with_spend: bool) -> dict[str, object]:
    s = split.calibration
    out: dict[str, object] = {
        "customers": len(s),
        "repeat_customers": int((s["frequency"] > 0).sum()),
        "holdout_length": split.holdout_length,
    }
    for name, cls in (("bgnbd", BGNBD), ("pareto", ParetoNBD)):
        model, fit_s = _fit(cls, s)
        predicted = model.expected_purchases(s, split.holdout_length)
        out[name] = {
            "params": model.params_,
            "log_likelihood": model.log_likelihood_,
            "converged": model.converged_,
            "fit_s": round(fit_s, 4),
            "non_finite_predictions": int((~np.isfinite(predicted)).sum()),
            "holdout": holdout_metrics(predicted, split.holdout_purchases.to_numpy()),
        }
        if with_spend and name == "bgnbd":
            gg = GammaGamma().fit(s)
            buyers = split.holdout_purchases.to_numpy() > 0
            spend = gg.expected_average_spend(s)
            actual_mean = (
                split.holdout_value.to_numpy()[buyers] / split.holdout_purchases.to_numpy()[buyers]
            )
            out["gamma_gamma"] = {
                "params": gg.params_,
                "holdout_buyers": int(buyers.sum()),
                "predicted_mean_spend_of_buyers": float(spend[buyers].mean()),
                "actual_mean_spend_of_buyers": float(actual_mean.mean()),
                "spend_mae_of_buyers": float(np.abs(spend[buyers] - actual_mean).mean()),
                "predicted_holdout_value": float((predicted * spend).sum()),
                "actual_holdout_value": float(split.holdout_value.sum()),
            }
    return out


def _rel_errors(params: dict[str, float], published: dict[str, float]) -> dict[str, float]:
    return {k: round(abs(params[k] - v) / v, 5) for k, v in published.items() if k in params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install-lifetimes", action="store_true")
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {"published": PUBLISHED}
    work = Path(tempfile.mkdtemp(prefix="value-bench-"))
    cases = []

    # CDNOW sample
    t0 = time.perf_counter()
    split = calibration_holdout_split(_cdnow_sample(), "1997-09-30", "1998-06-30", freq="W")
    prep_s = time.perf_counter() - t0
    ours = _ours_on_split(split, with_spend=True)
    ours["summary_s"] = round(prep_s, 4)
    ours["relative_error_vs_published"] = {
        "bgnbd": _rel_errors(ours["bgnbd"]["params"], PUBLISHED["bgnbd"]),
        "pareto": _rel_errors(ours["pareto"]["params"], PUBLISHED["pareto"]),
        "gamma_gamma": _rel_errors(ours["gamma_gamma"]["params"], PUBLISHED["gamma_gamma"]),
    }
    result["cdnow_sample"] = {"omotenashi": ours}
    path = work / "cdnow_sample.csv"
    split.calibration.assign(holdout_purchases=split.holdout_purchases).to_csv(path)
    cases.append(
        {
            "name": "cdnow_sample",
            "summary": str(path),
            "models": ["bgnbd", "pareto"],
            "holdout_length": split.holdout_length,
            "gamma_gamma": True,
        }
    )

    # CDNOW master: fit time
    t0 = time.perf_counter()
    master = rfm_summary(_cdnow_master(), "1997-09-30", freq="W")
    summary_s = time.perf_counter() - t0
    timings = []
    for _ in range(3):
        model, fit_s = _fit(BGNBD, master)
        timings.append(fit_s)
    result["cdnow_master"] = {
        "omotenashi": {
            "customers": len(master),
            "summary_s": round(summary_s, 3),
            "bgnbd_fit_s_best_of_3": round(min(timings), 4),
            "params": model.params_,
            "pareto_fit_s": round(_fit(ParetoNBD, master)[1], 4),
        }
    }
    path = work / "cdnow_master.csv"
    master.to_csv(path)
    cases.append({"name": "cdnow_master", "summary": str(path), "models": ["bgnbd"]})

    # Online Retail
    split = calibration_holdout_split(_online_retail(), "2011-08-31", "2011-12-09", freq="W")
    result["online_retail"] = {"omotenashi": _ours_on_split(split, with_spend=True)}
    path = work / "online_retail.csv"
    split.calibration.assign(holdout_purchases=split.holdout_purchases).to_csv(path)
    cases.append(
        {
            "name": "online_retail",
            "summary": str(path),
            "models": ["bgnbd", "pareto"],
            "holdout_length": split.holdout_length,
            "gamma_gamma": True,
        }
    )

    # Peer
    if args.skip_peer:
        result["lifetimes"] = {"status": "skipped"}
    else:
        python, how = _peer_python(args.install_lifetimes)
        if python is None:
            result["lifetimes"] = {"status": how}
        else:
            job = work / "job.json"
            job.write_text(json.dumps({"cases": cases}))
            script = work / "peer.py"
            script.write_text(PEER_SCRIPT)
            done = subprocess.run(
                [python, str(script), str(job)], capture_output=True, text=True, timeout=1800
            )
            if done.returncode != 0:
                result["lifetimes"] = {"status": f"peer failed: {done.stderr[-500:]}"}
            else:
                peer = json.loads(done.stdout.strip().splitlines()[-1])  # it prints too
                result["lifetimes"] = {"status": f"ran ({how})"}
                for name, res in peer.items():
                    result.setdefault(name, {})["lifetimes"] = res  # type: ignore[union-attr]
    print(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
