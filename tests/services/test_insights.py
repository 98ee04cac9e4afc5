"""Dashboard figures (``om.insights``) against the same figures computed another way: pandas
over every event, score and decision of the store, on each backend."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pandas as pd
import pytest

from omotenashi import Omotenashi
from omotenashi.services import Signer
from omotenashi.storage import DecisionRecord

DAY = 86_400


def _events(n: int, seed: int, start: int = 1_735_689_600) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = str(rng.choice(["view", "purchase", "return"], p=[0.6, 0.3, 0.1]))
        out.append({
            "event_id": f"e{seed}-{i}", "customer_id": f"c{int(rng.integers(25))}",
            "type": kind, "item_id": f"i{int(rng.integers(8))}",
            "value": float(rng.integers(1, 50)) if kind != "view" else None,
            "order_id": f"o{seed}-{i}" if kind == "purchase" else None,
            "channel": str(rng.choice(["web", "app"])) if i % 5 else None,
            "timestamp": start + int(rng.integers(0, 60)) * DAY + i,
        })  # fmt: skip
    return out


@pytest.fixture
def om(db_url: str):
    with Omotenashi(db_url) as engine:
        yield engine


def _expected_days(om: Omotenashi, days: int) -> tuple[dict, float, int]:
    frame = om.events_frame()
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    frame["day"] = stamps.dt.strftime("%Y-%m-%d")
    value = frame["value"].fillna(0.0)
    frame["signed"] = np.where(frame["type"] == "purchase", value,
                               np.where(frame["type"] == "return", -value, 0.0))  # fmt: skip
    last = stamps.max().normalize()
    window = frame[stamps >= last - pd.Timedelta(days=days - 1)]
    per_day = {
        day: (len(g), float(g["signed"].sum()), int((g["type"] == "purchase").sum()))
        for day, g in window.groupby("day")
    }
    cutoff = stamps.max() - pd.Timedelta(days=30)
    active = frame.loc[stamps > cutoff, "customer_id"].dropna().nunique()
    return per_day, float(frame["signed"].sum()), int(active)


def test_activity_revenue_and_active_customers_follow_new_events(om: Omotenashi) -> None:
    om.track_many(_events(400, seed=1))
    insights = om.insights
    for round_ in (1, 2):
        got = insights.activity(days=90)
        per_day, revenue, active = _expected_days(om, 90)
        shown = {d["day"]: (d["events"], d["revenue"], d["purchases"]) for d in got["days"]
                 if d["events"]}  # fmt: skip
        assert shown.keys() == per_day.keys()
        for day, (n, money, bought) in per_day.items():
            assert shown[day][0] == n and shown[day][2] == bought
            assert shown[day][1] == pytest.approx(money)
        assert got["events"] == len(om.events_frame())
        assert got["revenue"] == pytest.approx(revenue)
        assert insights.active_customers(30) == active
        if round_ == 1:  # later events are added to the running totals
            seq = insights.refresh_activity()
            om.track_many(_events(150, seed=2, start=1_735_689_600 + 50 * DAY))
            assert insights.refresh_activity() > seq
    assert insights.customers() == om.stats()["customers"]
    totals = insights.activity(days=90)["events"]
    insights.forget(activity=True)  # e.g. after an erasure: read again from the start
    assert insights.activity(days=90)["events"] == totals


def _figures(om: Omotenashi) -> tuple[dict, float, int, int]:
    got = om.insights.activity(days=90)
    shown = {d["day"]: (d["events"], d["revenue"], d["purchases"]) for d in got["days"]
             if d["events"]}  # fmt: skip
    return shown, got["revenue"], got["events"], om.insights.active_customers(30)


def _same_as_computed(om: Omotenashi) -> None:
    shown, revenue, events, active = _figures(om)
    per_day, want_revenue, want_active = _expected_days(om, 90)
    assert {d: (n, b) for d, (n, _, b) in shown.items()} == {
        d: (n, b) for d, (n, _, b) in per_day.items()
    }
    assert revenue == pytest.approx(want_revenue) and active == want_active
    assert events == len(om.events_frame())


def test_a_restart_reads_only_the_events_stored_since_the_totals_were_saved(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omotenashi.services._insights import ACTIVITY_FILE

    with Omotenashi(db_url) as om:
        om.track_many(_events(300, seed=5))
        counted = om.insights.customers()
        _same_as_computed(om)
        top = om.store.events.last_seq()
        saved = om.store.artefacts.path(ACTIVITY_FILE)
        text = saved.read_text()
        assert f'"seq": {top}' in text
        assert '"c1"' not in text and '"c12"' not in text  # customer ids only hashed
        om.track_many(_events(120, seed=6, start=1_735_689_600 + 40 * DAY))
    read: list[tuple[int, int]] = []

    def spy_on(om: Omotenashi) -> None:
        """Note each range of the log the totals read."""
        summaries = om.insights._store.summaries
        activity = summaries.activity

        def spy(after_seq: int, up_to_seq: int):
            read.append((after_seq, up_to_seq))
            return activity(after_seq, up_to_seq)

        monkeypatch.setattr(summaries, "activity", spy)

    with Omotenashi(db_url) as om:  # a restart: the saved totals, then only the new events
        spy_on(om)
        slow = threading.Event()

        def count_later() -> int:
            slow.wait(10)
            return 999

        monkeypatch.setattr(om.insights._store.reads, "count_customers", count_later)
        assert om.insights.customers() == counted  # the saved count at once, counted behind
        slow.set()
        deadline = time.monotonic() + 10
        while om.insights.customers() != 999:
            assert time.monotonic() < deadline, "the customers were never counted again"
            time.sleep(0.02)
        _same_as_computed(om)
        assert read and read[0][0] == top and read[-1][1] == om.store.events.last_seq()
        # an erasure anywhere: every process reads the log again, the file is gone
        om.rights.erase("c3", retrain=False)
        assert not om.store.artefacts.path(ACTIVITY_FILE).exists()
        read.clear()
        _same_as_computed(om)
        assert read[0][0] == 0
        assert om.store.artefacts.path(ACTIVITY_FILE).exists()
    with Omotenashi(db_url) as om:  # saved totals from before an erasure are not used
        om.store.erasures.record("r-test", 1, "salt", ["x"], {"receipt_id": "r-test"})
        read.clear()
        spy_on(om)
        _same_as_computed(om)
        assert read[0][0] == 0


def test_value_figures_match_the_scores(om: Omotenashi) -> None:
    rng = np.random.default_rng(4)
    ids = [f"k{i:03d}" for i in range(120)]
    scores = pd.DataFrame(
        {
            "segment": rng.choice(["loyal", "new", "at risk"], size=120),
            "rfm": [f"{rng.integers(1, 6)}{rng.integers(1, 6)}{rng.integers(1, 6)}" for _ in ids],
            "clv": rng.gamma(2.0, 30.0, size=120),
            "p_alive": rng.random(120),
            "expected_purchases": rng.random(120) * 3,
        },
        index=pd.Index(ids, name="customer_id"),
    )
    om.save_scores("value", scores)
    v = om.insights.value(bins=10)
    by_segment = scores.groupby("segment")["clv"].agg(["size", "sum"])
    assert {s["segment"]: s["customers"] for s in v["segments"]} == by_segment["size"].to_dict()
    for s in v["segments"]:
        assert s["clv_total"] == pytest.approx(by_segment.loc[s["segment"], "sum"])
    assert sum(h["customers"] for h in v["clv_histogram"]) == 120
    top = np.sort(scores["clv"].to_numpy())[int(0.99 * 119)]
    assert v["clv_histogram"][-1]["low"] == pytest.approx(top * 9 / 10)
    scores["r"], scores["f"] = scores["rfm"].str[0].astype(int), scores["rfm"].str[1].astype(int)
    grid = scores.groupby(["r", "f"])["p_alive"].agg(["size", "mean"])
    assert len(v["rfm_grid"]) == len(grid)
    for cell in v["rfm_grid"]:
        n, mean = grid.loc[(cell["r"], cell["f"])]
        assert cell["customers"] == n and cell["p_alive"] == pytest.approx(mean)
    members = om.insights.segment_members("loyal", limit=7)
    assert [m["customer_id"] for m in members] == sorted(
        scores.index[scores["segment"] == "loyal"]
    )[:7]
    assert members[0]["clv"] == pytest.approx(scores.loc[members[0]["customer_id"], "clv"])
    rows = list(om.insights.segment_rows(None, page=16))
    assert rows[0][0] == "customer_id" and len(rows) == 121
    assert sorted(r[0] for r in rows[1:]) == ids


def test_decision_figures_match_the_log(om: Omotenashi) -> None:
    rng = np.random.default_rng(7)
    log = om.store.decisions
    for i in range(240):
        p_a = 0.8 if i < 120 else 0.3  # the policy moved traffic toward b
        variant = "a" if rng.random() < p_a else "b"
        p = p_a if variant == "a" else 1 - p_a
        log.append(DecisionRecord(f"d{i}", "banner", f"c{i}", 100.0 + i, variant, p,
                                  {"a": p_a, "b": 1 - p_a}, policy="epsilon-greedy"))  # fmt: skip
        if rng.random() < (0.3 if variant == "a" else 0.5):
            log.add_reward(f"d{i}", 1.0, 500.0 + i)
    frame = log.to_frame()
    frame["r"] = frame["reward"].fillna(0.0)
    [point] = om.insights.decisions(recent=100)
    assert point["point"] == "banner" and point["decisions"] == 240 and point["binary"]
    for v in point["variants"]:
        rows = frame[frame["variant"] == v["variant"]]
        chosen = frame["variant"] == v["variant"]
        assert v["decisions"] == len(rows)
        assert v["reward_rate"] == pytest.approx(rows["r"].mean())
        assert v["ci_low"] < v["reward_rate"] < v["ci_high"]
        ips = (frame["r"] * chosen / frame["propensity"]).mean()
        snips = (frame["r"] * chosen / frame["propensity"]).sum() / (
            chosen / frame["propensity"]
        ).sum()
        assert v["ips"] == pytest.approx(ips) and v["snips"] == pytest.approx(snips)
        assert v["learner_share"] == pytest.approx(0.3 if v["variant"] == "a" else 0.7)
    b = next(v for v in point["variants"] if v["variant"] == "b")
    assert b["lift"] == pytest.approx(b["reward_rate"] - point["variants"][0]["reward_rate"])
    assert not math.isnan(b["p_value"])


def test_search_imports_and_freshness(om: Omotenashi) -> None:
    om.track_many(_events(50, seed=3))
    om.identify("c3", "device-9", email="Mei@Example.com")
    om.upsert_customers([{"customer_id": "c4", "attributes": {"city": "Sapporo"}}])
    found = {r["customer_id"]: r["matched"] for r in om.insights.search("mei@example.com")}
    assert found == {"c3": "email mei@example.com"}
    assert [r["customer_id"] for r in om.insights.search("device-9")] == ["c3"]
    assert [r["customer_id"] for r in om.insights.search("c4")][0] == "c4"
    assert [r["customer_id"] for r in om.insights.search("sapporo")] == ["c4"]
    assert om.insights.search("nobody-at-all") == []
    fresh = om.insights.freshness()
    assert fresh["newest_event"] and fresh["last_import"] is None


def test_signed_tokens(tmp_path) -> None:
    with Omotenashi(tmp_path / "a.db") as a, Omotenashi(tmp_path / "b.db") as b:
        signer = Signer(a.store.artefacts)
        token = signer.sign({"c": "c1"}, 60)
        assert signer.verify(token)["c"] == "c1"
        assert Signer(a.store.artefacts).verify(token)["c"] == "c1"  # the same secret again
        assert Signer(b.store.artefacts).verify(token) is None  # another store's secret
        body, mac = token.split(".")
        assert signer.verify(body[:-2] + "xx." + mac) is None
        assert signer.verify(signer.sign({"c": "c1"}, -1)) is None  # expired
        assert signer.verify("") is None and signer.verify("a.b.c") is None
        mode = a.store.artefacts.path("signing.key").stat().st_mode & 0o777
        assert mode == 0o600


def test_warming_a_customer_writes_nothing(om: Omotenashi) -> None:
    assert om.insights.warm_customer() is None  # no event yet
    om.track_many(_events(40, seed=7))
    om.access.flush()
    before = om.store.access.entries()
    assert before  # the events' own entries: the log is written at all
    customer = om.insights.warm_customer()
    assert customer is not None and om.identities.person(customer) == customer
    om.access.flush()
    assert om.store.access.entries() == before
