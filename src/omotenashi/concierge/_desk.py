"""Concierge: who needs a named person, which agent takes them, and the brief for the call.

Selection is a set of named rules in the safe rule language (``value.parse_rule``) over one row
per customer (``monetary``, ``frequency``, ``recency_days``, ``lapse_risk``, ``open_recalls``,
``goal_misses``, ``contacts_90d``, ``repeat_contacts_90d``, ``last_csat`` and the customer's
attributes); a customer matching any rule is picked, and the names of the rules matched are the
reason.
Assignment keeps each customer with their agent while that agent is in the pool (continuity),
then fills the agents with the most spare capacity, highest need first.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from omotenashi.errors import DataError
from omotenashi.value import parse_named_rule, parse_rule

DEFAULT_SELECTION: dict[str, str] = {
    "high value": "monetary >= 5000",
    "high need": "open_recalls >= 3 or repeat_contacts_90d >= 2 or goal_misses >= 3",
    "high risk": "lapse_risk >= 0.7 and frequency >= 3",
}


def parse_selection(texts: Sequence[str] | None) -> dict[str, str]:
    """``NAME: RULE`` texts as a selection (default :data:`DEFAULT_SELECTION`); each rule is
    parsed, so a bad one is refused before anything runs."""
    if not texts:
        return dict(DEFAULT_SELECTION)
    rules = dict(parse_named_rule(t) for t in texts)
    for rule in rules.values():
        parse_rule(rule)
    return rules


def select(features: pd.DataFrame, rules: Mapping[str, str]) -> pd.DataFrame:
    """Customers matching any rule: ``customer_id``, ``reasons`` (rule names), ``need`` (rules
    matched plus lapse risk: the order of assignment). ``features`` has one row per customer."""
    if "customer_id" not in features:
        raise DataError("features need a customer_id column", field="features")
    matched = pd.DataFrame(index=features.index)
    for name, text in rules.items():
        rule = parse_rule(text)
        missing = sorted(rule.columns - set(features.columns))
        if missing:
            raise DataError(
                f"selection rule {name!r} reads unknown column(s) {', '.join(missing)}; known: "
                f"{', '.join(sorted(features.columns))}",
                field="rule",
            )
        matched[name] = rule.evaluate(features).fillna(False).to_numpy(dtype=bool)
    hit = matched.any(axis=1) if len(matched.columns) else pd.Series(False, index=features.index)
    chosen = features[hit]
    reasons = matched[hit].apply(lambda row: [n for n, ok in row.items() if ok], axis=1)
    risk = chosen["lapse_risk"].fillna(0.0) if "lapse_risk" in chosen else 0.0
    out = pd.DataFrame(
        {
            "customer_id": chosen["customer_id"].astype(str),
            "reasons": list(reasons) if len(chosen) else [],
            "need": (matched[hit].sum(axis=1) + risk).round(4) if len(chosen) else [],
        }
    )
    return out.sort_values(["need", "customer_id"], ascending=[False, True]).reset_index(drop=True)


@dataclass(frozen=True)
class Assignment:
    customer_id: str
    agent: str | None
    kept: bool
    reason: str


def assign(
    chosen: pd.DataFrame, agents: Mapping[str, int], current: Mapping[str, str]
) -> list[Assignment]:
    """Assign chosen customers (highest ``need`` first) to agents with capacities.

    A customer whose current agent is still in the pool keeps them (continuity; it counts
    against that agent's capacity even beyond it, as a relationship is never broken for
    room). Others go to the agent with the most spare capacity (ties: name order); when no
    capacity is left the customer waits (``agent`` None).
    """
    for name, capacity in agents.items():
        if not isinstance(capacity, int) or capacity < 0:
            raise DataError(f"agent {name!r}: capacity must be a whole number >= 0", field="agents")
    load = dict.fromkeys(agents, 0)
    out: dict[str, Assignment] = {}
    for cid in chosen["customer_id"]:
        agent = current.get(cid)
        if agent in agents:
            load[agent] += 1
            out[cid] = Assignment(cid, agent, True, f"stays with {agent} (continuity)")
    for cid, reasons in zip(chosen["customer_id"], chosen["reasons"], strict=True):
        if cid in out:
            continue
        spare = sorted(((agents[a] - load[a], a) for a in agents), key=lambda t: (-t[0], t[1]))
        why = ", ".join(reasons)
        if not spare or spare[0][0] <= 0:
            out[cid] = Assignment(cid, None, False, f"{why}; no agent has capacity left")
            continue
        agent = spare[0][1]
        load[agent] += 1
        out[cid] = Assignment(cid, agent, False, f"{why}; {agent} had the most room")
    return [out[c] for c in chosen["customer_id"]]


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5cm;color:#222;
font-size:11pt;max-width:19cm}
h1{font-size:16pt;margin:0 0 .2em}h2{font-size:12pt;border-bottom:1px solid #999;
margin:1em 0 .3em}
table{border-collapse:collapse;width:100%;font-size:9.5pt}td,th{border:1px solid #ccc;
padding:2px 4px;text-align:left;vertical-align:top}
.muted{color:#666}ul{margin:.2em 0 .2em 1.2em;padding:0}
@media print{body{margin:0}a{color:inherit}}
"""


def _text(value: Any) -> str:
    """A value as a reader wants it: nothing for a missing one (None, NaN: a visit has no
    item), ``app 3, web 2`` for a mapping, else its text."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _list(items: Sequence[str]) -> str:
    if not items:
        return '<p class="muted">none</p>'
    return "<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ul>"


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def brief_html(brief: Mapping[str, Any]) -> str:
    """A printable one-page HTML brief (plain HTML and CSS, nothing fetched from elsewhere)."""
    profile = brief.get("profile", {})
    facts = [f"{k}: {_text(v)}" for k, v in profile.items() if _text(v) not in ("", "[]")]
    title = html.escape(str(brief["customer_id"]))
    agent = html.escape(str(brief.get("agent") or "not assigned"))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Brief {title}</title><style>{_CSS}</style></head><body>"
        f'<h1>Customer {title}</h1><p class="muted">agent: {agent} · as of '
        f"{html.escape(str(brief.get('as_of', '')))}</p>"
        f"<h2>Profile</h2>{_list(facts)}"
        f"<h2>Why a named person</h2>{_list(brief.get('reasons', []))}"
        f"<h2>Open needs and recalls</h2>"
        f"{_table(brief.get('needs', []), ['topic', 'rule', 'due', 'reason'])}"
        f"<h2>Talking points</h2>{_list(brief.get('talking_points', []))}"
        f"<h2>Recommended actions</h2>{_list(brief.get('actions', []))}"
        f"<h2>Recent events</h2>"
        f"{_table(brief.get('recent', []), ['time', 'channel', 'type', 'item_id', 'detail'])}"
        "</body></html>"
    )
