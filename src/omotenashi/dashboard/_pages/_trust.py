"""Trust and data quality: the last audit of the recommendations (exposure, coverage, groups),
running a new audit (admin), and the import history with its rejected rows."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from omotenashi.dashboard._charts import bar_chart, hbar_chart
from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._registry import Page, register_page
from omotenashi.dashboard._web import check_csrf, form, page, record_access, viewer
from omotenashi.services import refresh_audit

PAGE = register_page(Page("trust", "Trust and data quality", "/trust", 60))
router = APIRouter()


def _numbers(data: dict) -> dict[str, float]:
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float)
            and not isinstance(v, bool)}  # fmt: skip


@router.get("/trust", response_class=HTMLResponse, include_in_schema=False)
@guarded
def trust(request: Request) -> HTMLResponse:
    who = viewer(request)
    insights = who.workspace.om.insights
    audit = insights.saved_audit()
    imports = insights.imports(20)
    charts = {}
    overall = _numbers((audit or {}).get("overall") or {})
    if overall:
        shares = {k: v for k, v in overall.items() if 0.0 <= v <= 1.0}
        charts["overall"] = hbar_chart(  # across: each figure's name is written in full
            list(shares), list(shares.values()),
            title="Audit figures between 0 and 1 (coverage, concentration, novelty ...)",
            x_label="value", fmt=lambda x: f"{x:.2f}",
        )  # fmt: skip
    trajectory = ((audit or {}).get("overall") or {}).get("trajectory") or []
    if trajectory and all(isinstance(x, int | float) for x in trajectory):
        labels = [f"window {i + 1}" for i in range(len(trajectory) - 1)] + ["now"]
        charts["trajectory"] = bar_chart(
            labels, [float(x) for x in trajectory],
            title="Diversity of what people did, oldest window to their recommendations now",
            x_label="window", y_label="diversity", tick_every=1, fmt=lambda x: f"{x:.3f}",
        )  # fmt: skip
    groups = []
    for attribute, data in ((audit or {}).get("by") or {}).items():
        found = (data or {}).get("groups") or {}
        shown = {str(label): f for label, f in found.items() if isinstance(f, dict)}
        if shown:
            groups.append((attribute, bar_chart(
                list(shown), [float(f.get("coverage") or 0.0) for f in shown.values()],
                title=f"Catalogue coverage of the recommendations by {attribute}",
                x_label=attribute, y_label="coverage", tick_every=1, fmt=lambda x: f"{x:.3f}",
            ), shown, data))  # fmt: skip
    if imports:
        charts["imports"] = bar_chart(
            [_file_name(i["source"]) for i in reversed(imports)],
            [float(i["rejected"]) for i in reversed(imports)],
            title="Rejected rows per import (oldest to newest)",
            x_label="import", y_label="rejected rows", tick_every=1,
        )  # fmt: skip
    return page(request, who, "trust.html", active=PAGE.key, audit=audit, overall=overall,
                groups=groups, imports=imports, charts=charts)  # fmt: skip


@router.post("/trust/audit", include_in_schema=False)
@guarded
async def run_audit(request: Request) -> RedirectResponse:
    """Audit the default model's recommendations now (admin); the page shows the result."""
    fields = await form(request)
    who = viewer(request, scope="admin")
    check_csrf(who, fields)
    await run_in_threadpool(refresh_audit, who.workspace)
    record_access(who, "run.audit", None)
    return RedirectResponse("/trust", status_code=303)


__all__ = ["PAGE", "router"]


def _file_name(source: str, room: int = 16) -> str:
    """An import's file name without its folders, shortened in the middle to fit under a bar
    (the table below the chart has the whole path)."""
    name = str(source).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or str(source)
    if len(name) <= room:
        return name
    keep = room - 1
    return name[: keep - keep // 2] + "…" + name[-(keep // 2) :]
