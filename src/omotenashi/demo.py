"""The main job of a fresh install: import a real sample and show what the engine knows.

Later capabilities (recommendations, decisions, value) add their part to ``run_demo``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from omotenashi.events import from_micros
from omotenashi.services import Omotenashi, make_rules, message_dict

DEMO_SOURCE = "demo:online-retail-sample"
DEVICE = "demo-app-device-1"


def sample_path() -> Path:
    """The bundled Online Retail sample (CC BY 4.0, see omotenashi/data/README.md)."""
    return Path(str(resources.files("omotenashi.data") / "online_retail_sample.csv.gz"))


def run_demo(
    om: Omotenashi,
    progress: Callable[[int], None] | None = None,
    phase: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Import the sample into ``om`` and gather what the demo shows (JSON-ready); ``progress``
    gets the rows read, ``phase`` each later step."""
    report = om.ingest.import_preset(
        "online-retail", sample_path(), name=DEMO_SOURCE, progress=progress, phase=phase
    )
    top = om.top_customers(10, "monetary")
    best = str(top.iloc[0]["customer_id"])
    before = om.profile(best)

    # an anonymous app session of the best customer, then a login: the history joins the profile
    latest = om.profiles.latest_timestamp() or 0
    items = om.items_frame()
    liked = before.top_categories[0].category if before.top_categories else None
    candidates = items[items["categories"].map(lambda c: liked in c)] if liked else items
    viewed = candidates["item_id"].head(3).tolist()
    start = from_micros(latest)
    events: list[dict[str, Any]] = [
        {
            "event_id": f"demo-view-{n}",
            "anonymous_id": DEVICE,
            "type": "view",
            "item_id": item,
            "channel": "app",
            "timestamp": start.timestamp() + 60 * (n + 1),
            "context": {"screen": "product", "device": "phone"},
        }
        for n, item in enumerate(viewed)
    ]
    events.append(
        {
            "event_id": "demo-login",
            "customer_id": best,
            "anonymous_id": DEVICE,
            "type": "identify",
            "channel": "app",
            "timestamp": start.timestamp() + 240,
            "context": {"email": f"customer{best}@example.com"},
        }
    )
    om.track_many(events)
    after = om.profile(best)
    recent = om.timeline(best, limit=6)

    # recommendations with their reasons: for the best customer, and for a visitor's session
    recommendations = om.recommendations.demo(best, n=5, model="recent_ease")
    titles = dict(zip(items["item_id"], items["title"], strict=True))
    session = [
        {
            "rank": r.rank,
            "item_id": r.item_id,
            "title": titles.get(r.item_id) or r.item_id,
            "reasons": [reason.text for reason in r.reasons],
        }
        # a showcase of what to show next: the items just viewed are left out
        for r in om.recommendations.for_session(viewed, 5, rules=make_rules())
    ]
    # composed for the best customer: a message from parts and a gift box from their history
    composed = om.compose.message(
        best, "a gift box for the season", offer="free gift wrapping", seed=0
    )
    gift = om.compose.bundle(best, "sample:gift", top=1)
    return {
        "store": om.url,
        "import": report.as_dict(),
        "stats": om.stats(),
        "top_customers": json.loads(top.to_json(orient="records", date_format="iso")),
        "profile": after.model_dump(),
        "recent": recent.model_dump(),
        "stitching": {
            "anonymous_id": DEVICE,
            "customer_id": best,
            "anonymous_views": len(viewed),
            "views_before": before.events_by_type.get("view", 0),
            "views_after": after.events_by_type.get("view", 0),
            "channels_after": list(after.events_by_channel),
        },
        "recommendations": recommendations,
        "session": {
            "viewed": [{"item_id": i, "title": titles.get(i) or i} for i in viewed],
            "recommendations": session,
        },
        "compose": {"message": message_dict(composed), "bundle": gift},
    }


def is_demo_store(om: Omotenashi) -> bool:
    """True when every import into the store was the demo's (safe to rebuild)."""
    sources = om.ingest.import_sources()
    return all(s == DEMO_SOURCE for s in sources)


__all__ = ["DEMO_SOURCE", "is_demo_store", "run_demo", "sample_path"]
