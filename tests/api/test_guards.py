"""``POST /v1/events`` refuses what the one ingest rule refuses, with a 422 naming the field,
and reads of a customer by a padded id find the same person."""

from __future__ import annotations

import pytest

EVENT = {
    "customer_id": "c1",
    "type": "view",
    "item_id": "games-1",
    "timestamp": "2025-02-01T00:00:00Z",
}


def _deep(levels: int) -> dict:
    value: object = 1
    for _ in range(levels - 1):
        value = {"k": value}
    return {"k": value}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timestamp": "9999-12-31T23:59:59Z"}, "timestamp"),
        ({"timestamp": "1066-10-14T09:00:00Z"}, "timestamp"),
        ({"customer_id": "c\u00001"}, "customer_id"),
        ({"item_id": "games\n1"}, "item_id"),
        ({"context": _deep(40)}, "context"),
    ],
)
def test_implausible_events_are_422_with_the_field(client, change: dict, field: str) -> None:
    before = client.get("/v1/customers/c1").json()
    answer = client.post("/v1/events", json={"events": [EVENT, {**EVENT, **change}]})
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["field"] == f"events[1].{field}", body
    assert client.get("/v1/customers/c1").json() == before  # nothing of the batch stored


def test_a_padded_id_reads_the_same_person(client) -> None:
    assert client.post("/v1/events", json={**EVENT, "customer_id": " c1 "}).status_code == 200
    plain = client.get("/v1/customers/c1")
    padded = client.get("/v1/customers/%20c1%20")
    assert plain.status_code == padded.status_code == 200
    assert padded.json()["customer_id"] == "c1"
