"""The contact policy holds whatever the schedule: caps, quiet hours, consent, cool-downs and one
open contact per topic are never broken, over random customers, preferences and run days."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omotenashi.actions import (
    ContactPolicy,
    in_quiet_hours,
    parse_actions,
    plan,
    reminders_frame,
)
from omotenashi.errors import DataError

ACTIONS = parse_actions(
    [
        {"id": "rec", "kind": "recommend", "channel": "email", "topic": "rec", "value": "aov",
         "eligible": "frequency >= 1", "send_hour": 22},
        {"id": "offer", "kind": "offer", "channel": "sms", "topic": "winback",
         "value": "value_at_risk", "response_rate": 0.5, "cost": 0.1, "send_hour": 7},
        {"id": "call", "kind": "call", "channel": "call", "topic": "care", "value": 40.0,
         "response_rate": 0.4, "cost": 1.0, "purpose": "service", "send_hour": 3},
        {"id": "remind", "kind": "reminder", "channel": "email", "send_hour": 9},
    ]
)  # fmt: skip
ZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Australia/Adelaide", None, "Not/AZone"]


@st.composite
def worlds(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    ids = [f"c{i}" for i in range(n)]
    features = pd.DataFrame(
        {
            "frequency": rng.integers(0, 5, n).astype(float),
            "aov": rng.gamma(2, 20, n),
            "value_at_risk": rng.gamma(2, 30, n),
            "p_alive": rng.random(n),
        },
        index=ids,
    )
    prefs = pd.DataFrame(
        {
            "time_zone": [ZONES[i] for i in rng.integers(0, len(ZONES), n)],
            "quiet_start": np.where(rng.random(n) < 0.7, rng.integers(0, 24, n), np.nan),
            "quiet_end": rng.integers(0, 24, n).astype(float),
            "channel:sms": rng.random(n) > 0.3,
            "cap:email": np.where(rng.random(n) < 0.5, rng.integers(0, 3, n), np.nan),
        },
        index=ids,
    )
    policy = ContactPolicy(
        caps={"email": draw(st.integers(1, 3)), "sms": draw(st.integers(0, 2)), "call": 1},
        cooldown_days=draw(st.integers(0, 4)),
        open_days=draw(st.integers(1, 10)),
        quiet_hours=(draw(st.integers(0, 23)), draw(st.integers(0, 23))),
        time_zone=draw(st.sampled_from(["UTC", "Europe/Paris"])),
        exploration=draw(st.sampled_from([0.0, 0.3, 0.9])),
    )
    no_marketing = {c for c in ids if rng.random() < 0.3}
    no_service = {c for c in ids if rng.random() < 0.3}
    days = sorted(
        {
            dt.date(2026, 3, 1) + dt.timedelta(days=int(d))
            for d in rng.integers(0, 40, draw(st.integers(1, 12)))
        }
    )
    reminders = [
        {"customer_id": ids[int(rng.integers(0, n))], "topic": str(rng.choice(["recall", "rec"])),
         "rule": "r", "due": dt.date(2026, 3, 1) + dt.timedelta(days=int(rng.integers(0, 40))),
         "reason": "due", "priority": float(rng.gamma(2, 10))}
        for _ in range(int(rng.integers(0, 2 * n)))
    ]  # fmt: skip
    outcome_rate = draw(st.sampled_from([0.0, 0.5]))
    return dict(features=features, prefs=prefs, policy=policy, no_marketing=no_marketing,
                no_service=no_service, days=days, reminders=reminders, outcome_rate=outcome_rate,
                seed=draw(st.integers(0, 1000)))  # fmt: skip


def _simulate(w: dict) -> pd.DataFrame:
    """Run the queue day after day; every proposal is approved and sent, some answered."""
    columns = ["customer_id", "action", "topic", "channel", "run_date", "status", "outcome",
               "send_at", "local_time", "time_zone"]  # fmt: skip
    history = pd.DataFrame(columns=columns)
    rng = np.random.default_rng(w["seed"])
    rem = reminders_frame(w["reminders"])
    for day in w["days"]:
        p = plan(
            w["features"], ACTIONS, day, policy=w["policy"], history=history,
            preferences=w["prefs"],
            without_consent={"marketing": w["no_marketing"], "service": w["no_service"]},
            reminders=rem, seed=w["seed"],
        )  # fmt: skip
        q = p.queue()
        assert q["customer_id"].is_unique
        assert (q["propensity"] > 0).all()
        for probs in q["probabilities"]:
            assert sum(json.loads(probs).values()) == pytest.approx(1.0, abs=1e-4)
        q = q.assign(run_date=day.isoformat(), status="sent")
        q["outcome"] = np.where(rng.random(len(q)) < w["outcome_rate"], "responded", None)
        history = pd.concat([history, q[history.columns]], ignore_index=True)
    return history


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_no_schedule_breaks_the_contact_policy(w: dict) -> None:
    sent = _simulate(w)
    if sent.empty:
        return
    policy, prefs = w["policy"], w["prefs"]
    by = {a.id: a for a in ACTIONS}
    sent["day"] = pd.to_datetime(sent["run_date"])
    # consent: nobody is contacted for a purpose they did not consent to
    purpose = sent["action"].map(lambda a: by[a].purpose)
    assert not (sent["customer_id"].isin(w["no_marketing"]) & (purpose == "marketing")).any()
    assert not (sent["customer_id"].isin(w["no_service"]) & (purpose == "service")).any()
    # channels the customer turned off are never used
    off = prefs.index[prefs["channel:sms"] == False]  # noqa: E712
    assert not ((sent["channel"] == "sms") & sent["customer_id"].isin(off)).any()
    for (cid, channel), g in sent.groupby(["customer_id", "channel"]):
        cap = policy.cap(channel)
        own = prefs.loc[cid].get(f"cap:{channel}")
        if own is not None and not pd.isna(own):
            cap = min(cap, int(own))
        days = g["day"].sort_values()
        for start in days:  # any 7-day window
            assert ((days >= start) & (days < start + pd.Timedelta(days=7))).sum() <= cap
    for _, g in sent.groupby("customer_id"):
        days = g["day"].sort_values().to_numpy()
        if policy.cooldown_days > 0 and len(days) > 1:
            gaps = np.diff(days).astype("timedelta64[D]").astype(int)
            assert (gaps >= policy.cooldown_days).all()
        # one open contact per topic: no repeat of a topic while an earlier one is unanswered
        g = g.sort_values("day")
        for _, a in g.iterrows():
            if a["outcome"] is None:
                later = g[(g["topic"] == a["topic"]) & (g["day"] > a["day"])]
                assert ((later["day"] - a["day"]).dt.days >= policy.open_days).all()
    # quiet hours in the customer's own time zone
    for r in sent.itertuples():
        zone = ZoneInfo(r.time_zone)
        local = pd.Timestamp(r.send_at).tz_convert(zone)
        assert local.strftime("%Y-%m-%d %H:%M") == r.local_time
        assert local.date().isoformat() == r.run_date
        row = prefs.loc[r.customer_id]
        qs, qe = (
            (int(row["quiet_start"]), int(row["quiet_end"]))
            if not pd.isna(row["quiet_start"])
            else policy.quiet_hours
        )
        assert not in_quiet_hours(np.array([local.hour]), np.array([qs]), np.array([qe]))[0]
        expected_zone = row["time_zone"] if row["time_zone"] in ZONES[:4] else policy.time_zone
        assert r.time_zone == expected_zone


def test_quiet_hours_wrap_past_midnight() -> None:
    hours = np.arange(24)
    night = in_quiet_hours(hours, np.full(24, 21), np.full(24, 8))
    assert hours[night].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 21, 22, 23]
    day = in_quiet_hours(hours, np.full(24, 12), np.full(24, 14))
    assert hours[day].tolist() == [12, 13]
    assert not in_quiet_hours(hours, np.full(24, 5), np.full(24, 5)).any()


def test_a_hand_worked_customer() -> None:
    """Expected value = P(response) x value - cost, by hand; reasons say why and why not."""
    features = pd.DataFrame(
        {"frequency": [3.0], "aov": [50.0], "value_at_risk": [200.0], "p_alive": [0.5]},
        index=["ann"],
    )
    history = pd.DataFrame(
        [{"customer_id": "ann", "action": "call", "topic": "care", "channel": "call",
          "run_date": "2026-03-02", "status": "sent", "outcome": "responded"}]
    )  # fmt: skip
    p = plan(features, ACTIONS, dt.date(2026, 3, 10), history=history,
             policy=ContactPolicy(exploration=0.0, caps={"email": 2, "sms": 1, "call": 1}),
             preferences=pd.DataFrame({"time_zone": ["Asia/Tokyo"]}, index=["ann"]))  # fmt: skip
    ranked = {r["action"]: r for r in p.explain("ann")}
    # rec: 0.05 x p_alive 0.5 x aov 50 - cost 0.02 = 1.23
    assert ranked["rec"]["expected_value"] == pytest.approx(0.05 * 0.5 * 50 - 0.02)
    # offer: 0.5 x p_alive 0.5 x 200 - 0.1 (offers scale by P(alive) by default)
    assert ranked["offer"]["expected_value"] == pytest.approx(0.5 * 0.5 * 200 - 0.1)
    assert ranked["offer"]["best"] and ranked["offer"]["probability"] == 1.0
    # call: the rate learned from one response: (20 x 0.4 + 1) / 21
    assert p.response[0, 2] == pytest.approx((20 * 0.4 + 1) / 21)
    assert "cap of 1 per 7 days" not in ranked["call"]["reason"]  # 8 days ago: outside the window
    assert "lower than 'offer'" in ranked["rec"]["reason"]
    assert ranked["remind"]["reason"] == "no reminder is due"
    q = p.queue()
    # 07:00 falls in the default quiet hours (21-8): moved to 08:00 Tokyo, 23:00 UTC the day before
    assert q.loc[0, "local_time"] == "2026-03-10 08:00" and q.loc[0, "time_zone"] == "Asia/Tokyo"
    assert str(q.loc[0, "send_at"]) == "2026-03-09 23:00:00+00:00"


def test_bad_declarations_name_the_field() -> None:
    cases = [
        ([{"id": "a", "kind": "teleport"}], "actions[0].kind"),
        ([{"id": "a", "kind": "offer", "eligible": "import os"}], "actions[0].eligible"),
        ([{"id": "a", "kind": "offer", "response_rate": 2}], "actions[0].response_rate"),
        ([{"id": "a", "kind": "offer"}, {"id": "a", "kind": "call"}], "actions[1].id"),
        ([{"id": "a", "kind": "offer", "send_hour": 25}], "actions[0].send_hour"),
        ([{"id": "a", "kind": "offer", "colour": "red"}], "actions[0].colour"),
    ]
    for data, field in cases:
        with pytest.raises(DataError) as err:
            parse_actions(data)
        assert err.value.field == field
    with pytest.raises(DataError, match="no customer figure 'clv'"):
        clv = parse_actions([{"id": "a", "kind": "offer", "value": "clv"}])
        plan(pd.DataFrame({"x": [1.0]}, index=["a"]), clv, dt.date(2026, 1, 1))
    with pytest.raises(DataError, match=r"reminders row 1: due"):
        reminders_frame([{"customer_id": "a", "topic": "t", "rule": "r", "due": "2026-01-01",
                          "reason": "", "priority": 1}, {"customer_id": "a", "topic": "t",
                          "rule": "r", "due": "soon", "reason": "", "priority": 1}])  # fmt: skip
