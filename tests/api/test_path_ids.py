"""Ids that any URL can carry: an id accepted on ingest can be read over HTTP, whatever it holds.

Customer and item ids come from the customer's own systems (``shop/eu/42``, ``50% off``,
``#7``, unicode ...). A client percent-encodes an id as one path segment; every route that
takes an id in its path must answer for it, and read it the way ingest stored it (trimmed;
control characters refused). Runs against the real server process (``omotenashi serve``).
"""

from __future__ import annotations

import time
from urllib.parse import quote, unquote

import httpx
import pytest

from omotenashi.api._paths import routing_path

from .conftest import create_key

CUSTOMERS = [
    "shop/eu/42",
    "a%2Fb",  # a literal %2F: not the same id as "a/b"
    "a/b",
    "50% off",
    "what?",
    "#7",
    "with space",
    "顧客/東京",
    "x/timeline",  # looks like a sub-resource once decoded
    "../c0",
    "tea ☕/1",
]
# items with the same kinds of characters, each bought with a plain item of one category
ITEMS = {"mugs/blue 1": "tea", "50%/set?": "coffee", "#box/日本": "books"}


def seg(value: str) -> str:
    """One path segment for ``value``, as a client encodes it."""
    return quote(value, safe="")


@pytest.mark.parametrize("value", [*CUSTOMERS, *ITEMS, "%", "%25", "a%2f%2Fb", "%%41", "ü/%"])
def test_the_routing_path_keeps_one_segment_per_id(value: str) -> None:
    path = routing_path(f"/v1/customers/{seg(value)}/timeline".encode())
    assert path is not None
    prefix, segment, suffix = path.split("/")[1:3], path.split("/")[3], path.split("/")[4:]
    assert prefix == ["v1", "customers"] and suffix == ["timeline"]
    assert unquote(segment) == value


def _wait_for_model(client: httpx.Client, before: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get("/v1/admin/status").json()
        if not status["training"] and status["model"] != before:
            return
        time.sleep(0.2)
    raise AssertionError(f"no new model was swapped in: {status}")


def test_ids_with_any_character_work_on_every_id_route(make_server, store_copy) -> None:
    key = create_key(store_copy, "default", "read", "ingest", "admin")
    server = make_server(store_copy)
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=30) as client:
        for item, category in ITEMS.items():
            put = client.put(
                f"/v1/items/{seg(item)}", json={"title": item, "categories": [category]}
            )
            assert put.status_code == 200, (item, put.text)
        events = []
        for n, customer in enumerate(CUSTOMERS):
            for k, (item, category) in enumerate(ITEMS.items()):
                for other in (item, f"{category}-{n % 3}"):
                    events.append(
                        {
                            "event_id": f"path-{n}-{k}-{other}",
                            "customer_id": customer,
                            "type": "purchase",
                            "item_id": other,
                            "order_id": f"order/{n}-{k}",
                            "value": 5.0,
                            "timestamp": f"2025-02-{1 + k:02d}T10:00:00Z",
                        }
                    )
        stored = client.post("/v1/events", json={"events": events})
        assert stored.status_code == 200 and stored.json()["stored"] == len(events), stored.text

        for customer in CUSTOMERS:
            profile = client.get(f"/v1/customers/{seg(customer)}")
            assert profile.status_code == 200, (customer, profile.text)
            assert profile.json()["customer_id"] == customer
            timeline = client.get(f"/v1/customers/{seg(customer)}/timeline", params={"limit": 100})
            assert timeline.status_code == 200, (customer, timeline.text)
            assert {e["item_id"] for e in timeline.json()["events"]} >= set(ITEMS)
            recs = client.get(f"/v1/customers/{seg(customer)}/recommendations", params={"n": 3})
            assert recs.status_code == 200, (customer, recs.text)
            assert recs.json()["customer_id"] == customer
            put = client.put(f"/v1/customers/{seg(customer)}", json={"attributes": {"tier": "x"}})
            assert put.status_code == 200, (customer, put.text)
            assert client.get(f"/v1/customers/{seg(customer)}").json()["attributes"] == {
                "tier": "x"
            }
        # a padded id reads the same person; an id sent unencoded is not silently another one
        padded = client.get(f"/v1/customers/{seg('  shop/eu/42 ')}")
        assert padded.status_code == 200 and padded.json()["customer_id"] == "shop/eu/42"
        assert client.get("/v1/customers/shop/eu/42").status_code == 404
        # "x/timeline" is a customer, not the timeline of "x"
        profile = client.get(f"/v1/customers/{seg('x/timeline')}").json()
        assert profile["customer_id"] == "x/timeline" and "next_cursor" not in profile
        # control characters are refused on read as on write, naming the field
        for route in ("", "/timeline", "/recommendations"):
            bad = client.get(f"/v1/customers/{seg('shop/eu' + chr(0) + '42')}{route}")
            assert bad.status_code == 422 and bad.json()["field"] == "customer_id", bad.text
        bad = client.get(f"/v1/items/{seg('mugs' + chr(10) + 'blue')}/similar")
        assert bad.status_code == 422 and bad.json()["field"] == "item_id", bad.text
        # ... and in the ids a request body reads
        for path, body, field in (
            ("/v1/identify", {"customer_id": "a/b" + chr(0)}, "customer_id"),
            ("/v1/identify", {"customer_id": "a/b", "anonymous_id": "d" + chr(7)}, "anonymous_id"),
            ("/v1/alias", {"customer_id": chr(27) + "a/b", "identity": "z"}, "customer_id"),
            ("/v1/sessions/recommendations", {"items": ["tea-1", "x" + chr(0)]}, "items[1]"),
        ):
            bad = client.post(path, json=body)
            assert bad.status_code == 422 and bad.json()["field"] == field, (path, bad.text)
        # a padded item id in a visit is the item
        visit = client.post("/v1/sessions/recommendations", json={"items": [" tea-1  "]})
        assert visit.status_code == 200 and visit.json()["context"] == ["tea-1"], visit.text

        # similar items and bought-together once a model knows the new items
        before = client.get("/v1/admin/status").json()["model"]
        assert client.post("/v1/admin/retrain").status_code == 200
        _wait_for_model(client, before)
        for item in ITEMS:
            for kind in ("similar", "bought-together"):
                answer = client.get(f"/v1/items/{seg(item)}/{kind}", params={"n": 3})
                assert answer.status_code == 200, (item, kind, answer.text)
                assert answer.json()["item_id"] == item
                assert answer.json()["recommendations"], (item, kind)
        known = client.get(f"/v1/customers/{seg('shop/eu/42')}/recommendations").json()
        assert known["customer_id"] == "shop/eu/42" and known["recommendations"]

        # merge two such customers, link an anonymous id with a slash: every id reads the person
        merged = client.post(
            "/v1/alias", json={"customer_id": "a/b", "identity": "a%2Fb", "kind": "customer"}
        )
        assert merged.status_code == 200, merged.text
        linked = client.post("/v1/identify", json={"customer_id": "a/b", "anonymous_id": "dev/1"})
        assert linked.status_code == 200, linked.text
        for other in ("a%2Fb", "dev/1"):
            answer = client.get(f"/v1/customers/{seg(other)}/recommendations")
            assert answer.status_code == 200, (other, answer.text)
            assert answer.json()["customer_id"] == "a/b"
            assert answer.json()["recommendations"]
        assert client.get(f"/v1/customers/{seg('a%2Fb')}").json()["customer_id"] == "a/b"

        # the request metrics name the route template, not the id
        metrics = client.get("/v1/metrics").text
        assert 'route="/v1/customers/{customer_id}/timeline"' in metrics
        assert "shop/eu" not in metrics


def test_openapi_documents_the_id_routes(make_server, store_copy) -> None:
    server = make_server(store_copy)
    spec = httpx.get(server.url + "/openapi.json").json()
    for path, name in (
        ("/v1/customers/{customer_id}", "customer_id"),
        ("/v1/customers/{customer_id}/timeline", "customer_id"),
        ("/v1/customers/{customer_id}/recommendations", "customer_id"),
        ("/v1/items/{item_id}/similar", "item_id"),
        ("/v1/items/{item_id}/bought-together", "item_id"),
    ):
        operation = spec["paths"][path]["get"]
        (param,) = [p for p in operation["parameters"] if p["in"] == "path"]
        assert param["name"] == name and param["required"]
        assert param["schema"]["type"] == "string" and param["schema"]["maxLength"] == 200
        assert "%2F" in param["description"]
