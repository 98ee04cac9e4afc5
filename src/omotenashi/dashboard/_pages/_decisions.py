"""Decisions and experiments: per decision point and variant, traffic, reward rate with its
interval, the share the policy gives it now, off-policy estimates and the A/B comparison."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from omotenashi.dashboard._charts import interval_chart
from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._registry import Page, register_page
from omotenashi.dashboard._web import page, viewer
from omotenashi.services import points

PAGE = register_page(Page("decisions", "Decisions and experiments", "/decisions", 40))
router = APIRouter()


def _finite(x: float | None) -> float:
    return x if x is not None and math.isfinite(x) else math.nan


@router.get("/decisions", response_class=HTMLResponse, include_in_schema=False)
@guarded
def decisions(request: Request) -> HTMLResponse:
    who = viewer(request)
    declared = {p.name: p for p in points(who.workspace)}
    kinds = {name: p.reward.kind for name, p in declared.items()}
    summary = who.workspace.om.insights.decisions(reward_kinds=kinds)
    for point in summary:
        variants = point["variants"]
        point["chart"] = interval_chart(
            [v["variant"] for v in variants],
            [_finite(v["reward_rate"]) for v in variants],
            [_finite(v["ci_low"]) for v in variants],
            [_finite(v["ci_high"]) for v in variants],
            title=f"Reward rate per variant at {point['point']}, with 95 % intervals",
            x_label="reward per decision",
        )
        found = declared.get(point["point"])
        point["policy"] = found.policy.kind if found is not None else None
    unused = [name for name in declared if name not in {p["point"] for p in summary}]
    return page(request, who, "decisions.html", active=PAGE.key, points=summary, unused=unused)


__all__ = ["PAGE", "router"]
