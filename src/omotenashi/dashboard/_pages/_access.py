"""The access log on the trust page: who read or changed whose data, newest first.

Only an admin sees it (it names which customers each key looked at); the CSV has every entry of
the last 30 days, the page the newest 50. Entries come from ``om.access`` (docs/security.md).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from omotenashi.dashboard._registry import SectionContext, page_section
from omotenashi.dashboard._web import viewer

router = APIRouter()
SHOWN = 50
COLUMNS = ("at", "key_id", "action", "customer_id", "workspace")


@page_section("trust", "access-log", "Access log", 40)
def access_log(context: SectionContext) -> Markup | None:
    if not context.admin:
        return Markup("<p>The access log is shown to keys with the admin scope.</p>")
    entries = context.workspace.om.access.entries(limit=SHOWN)[::-1]
    if not entries:
        return Markup("<p>No access recorded yet.</p>")
    head = "".join(f'<th scope="col">{escape(c.replace("_", " "))}</th>' for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_shown(e, c))}</td>" for c in COLUMNS) + "</tr>"
        for e in entries
    )
    return Markup(
        f"<p>The newest {len(entries)} entries. "
        '<a href="/trust/access-log.csv">Download the last 30 days (CSV)</a></p>'
        f'<div class="scroll"><table><caption>Who read or changed whose data</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _shown(entry: dict, column: str) -> str:
    """A cell as people read it: the time to the second in UTC (the CSV keeps microseconds)."""
    value = entry.get(column)
    if value is None:
        return ""
    if column == "at":
        return str(value)[:19].replace("T", " ") + " UTC"
    return str(value)


@router.get("/trust/access-log.csv", include_in_schema=False)
def access_log_csv(request: Request) -> Response:
    who = viewer(request, scope="admin")
    since = datetime.now(UTC) - timedelta(days=30)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(who.workspace.om.access.entries(since=since))
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="access-log.csv"'},
    )


__all__ = ["access_log", "access_log_csv", "router"]
