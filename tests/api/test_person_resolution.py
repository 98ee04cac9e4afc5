"""A recommendation request resolves the person once: any id of a person gets that person's
recommendations, over the Python API, the command line and HTTP alike.

The trained store has planted tastes: c0 likes tea, c1 coffee (``conftest.synthetic_events``).
Merging c1 into c0, or linking an anonymous id to c0, must make those ids answer with c0's items.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from omotenashi.services import Omotenashi


def _items(answer: dict) -> list[str]:
    return [r["item_id"] for r in answer["recommendations"]]


def _cli(*args: str) -> dict:
    from omotenashi.cli import _load_commands, app

    _load_commands()
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_python_api_resolves_merged_and_aliased_ids(store_copy: Path) -> None:
    with Omotenashi(store_copy) as om:
        mine = [r.item_id for r in om.recommendations.for_customer("c0", 5)]
        theirs = [r.item_id for r in om.recommendations.for_customer("c1", 5)]
        assert mine != theirs  # different tastes before the merge
        om.merge("c0", "c1")
        om.alias("c0", "phone-of-c0")
        assert om.recommendations.person("c1") == "c0"
        assert om.recommendations.person("phone-of-c0") == "c0"
        assert [r.item_id for r in om.recommendations.for_customer("c1", 5)] == mine
        assert [r.item_id for r in om.recommendations.for_customer("phone-of-c0", 5)] == mine
        assert om.recommendations.person("nobody-at-all") == "nobody-at-all"  # cold start


def test_cli_recommend_after_merge_and_alias(store_copy: Path) -> None:
    db = str(store_copy)
    mine = _items(_cli("recommend", "c0", "-n", "5", "--json", "--db", db))
    assert _items(_cli("recommend", "c1", "-n", "5", "--json", "--db", db)) != mine
    _cli("merge", "c0", "c1", "--json", "--db", db)
    assert _items(_cli("recommend", "c1", "-n", "5", "--json", "--db", db)) == mine
    _cli("alias", "c0", "web-cookie-42", "--json", "--db", db)
    assert _items(_cli("recommend", "web-cookie-42", "-n", "5", "--json", "--db", db)) == mine


def test_http_recommendations_after_merge_and_alias(client) -> None:
    mine = client.get("/v1/customers/c0/recommendations?n=5").json()
    before = client.get("/v1/customers/c1/recommendations?n=5").json()
    assert _items(before) != _items(mine)

    merged = client.post(
        "/v1/alias", json={"customer_id": "c0", "identity": "c1", "kind": "customer"}
    )
    assert merged.status_code == 200, merged.text
    after = client.get("/v1/customers/c1/recommendations?n=5")
    assert after.status_code == 200, after.text
    assert _items(after.json()) == _items(mine)
    assert after.json()["customer_id"] == "c0"  # answered for the person

    linked = client.post(
        "/v1/alias", json={"customer_id": "c0", "identity": "app-device-7", "kind": "anonymous"}
    )
    assert linked.status_code == 200, linked.text
    by_device = client.get("/v1/customers/app-device-7/recommendations?n=5")
    assert by_device.status_code == 200, by_device.text
    assert _items(by_device.json()) == _items(mine)

    # the answers are cached by the canonical person, never by the other ids
    ws = client.app.state.service.workspaces.get("default")
    owners = {key[1] for key in ws.cache._data if key[0] == "customer"}
    assert "c0" in owners and not owners & {"c1", "app-device-7"}
    assert client.get("/v1/customers/nobody/recommendations").status_code == 404


def test_http_resolves_ids_linked_before_the_server_started(store_copy: Path) -> None:
    import threading

    from fastapi.testclient import TestClient

    from omotenashi.api import ServiceSettings, create_app
    from omotenashi.services import warm

    with Omotenashi(store_copy) as om:
        om.merge("c4", "c5")  # the model, trained before, still knows c5 on its own
        om.identify("c4", "kiosk-session-1")
    settings = ServiceSettings(db=str(store_copy), warm_customers=0, auth=False)
    with TestClient(create_app(settings)) as c:
        ws = c.app.state.service.workspaces.get("default")
        assert warm(ws, threading.Event(), limit=100) > 0  # what a model swap precomputes
        owners = {key[1] for key in ws.cache._data if key[0] == "customer"}
        assert "c4" in owners and "c5" not in owners  # never an answer under a merged-away id
        mine = _items(c.get("/v1/customers/c4/recommendations?n=5").json())
        assert _items(c.get("/v1/customers/c5/recommendations?n=5").json()) == mine
        answer = c.get("/v1/customers/kiosk-session-1/recommendations?n=5").json()
        assert _items(answer) == mine


def test_uncached_answers_reuse_the_resolved_person_until_something_of_theirs_changes(
    client,
) -> None:
    """Answers no cache holds (another ``n``, a filter) reuse the person's resolved ids and
    consent gate (two store reads each); an event, a consent change or a merge drops them
    with the person's answers, so the next answer obeys at once."""
    ws = client.app.state.service.workspaces.get("default")
    reads = {"keys": 0, "gate": 0}
    identities, consent = ws.om.identities, ws.om.consent
    real_keys, real_gate = identities.require_person_keys, consent.gate

    def counted_keys(customer_id):
        reads["keys"] += 1
        return real_keys(customer_id)

    def counted_gate(keys):
        reads["gate"] += 1
        return real_gate(keys)

    identities.require_person_keys, consent.gate = counted_keys, counted_gate
    n = iter(range(3, 40))

    def ask(customer: str) -> dict:  # a new n each time: never an answer from the cache
        answer = client.get(f"/v1/customers/{customer}/recommendations?n={next(n)}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    first = ask("c0")
    assert reads == {"keys": 1, "gate": 1}
    ask("c0")
    assert reads == {"keys": 1, "gate": 1}  # resolved once
    assert first["personalized"] is True

    # an event of the person: resolved again
    event = {"customer_id": "c0", "type": "view", "item_id": "tea-1"}
    posted = client.post("/v1/events", json=event | {"timestamp": "2025-02-01T10:00:00Z"})
    assert posted.status_code == 200, posted.text
    ask("c0")
    assert reads == {"keys": 2, "gate": 2}

    # a consent change: the next answer obeys without waiting for anything else
    change = {"purposes": {"personalization": False}, "source": "web-form"}
    assert client.put("/v1/customers/c0/consent", json=change).status_code == 200
    assert ask("c0")["personalized"] is False
    assert reads == {"keys": 3, "gate": 3}

    # c1 resolved as itself, then merged into c0: the next answer is c0's
    assert ask("c1")["customer_id"] == "c1"
    merged = client.post(
        "/v1/alias", json={"customer_id": "c0", "identity": "c1", "kind": "customer"}
    )
    assert merged.status_code == 200, merged.text
    assert ask("c1")["customer_id"] == "c0"
    # an unknown id is never remembered as a person
    assert client.get("/v1/customers/nobody/recommendations?n=4").status_code == 404
    assert client.get("/v1/customers/nobody/recommendations?n=4").status_code == 404
