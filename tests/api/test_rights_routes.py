"""``GET /v1/customers/{id}/export`` and ``DELETE /v1/customers/{id}`` against a real server
with two worker processes, on both backends: the admin scope, tenant isolation, the receipt, and
after the erasure no worker answers from what it knew of the person."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from omotenashi.services import Omotenashi, receipt_matches

from .conftest import artefacts_of, create_key, synthetic_events

PHONE = "phone-of-c5-qx81"
EMAIL = "c5.mail@example.org"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """These tests run on a store file and on a PostgreSQL database (see conftest)."""
    return request.param


def _user_ids(root: Path) -> set[str]:
    """Every user id in every saved model version (the person's customer, session, order ids
    are what a model keeps of them)."""
    ids: set[str] = set()
    for arrays in root.glob("models/*/v*/arrays.npz"):
        with np.load(arrays) as npz:
            ids |= set(npz["user_ids"].astype(str))
    return ids


def test_export_and_erase_through_a_server_with_two_workers(make_server, store_copy):
    admin = {"X-API-Key": create_key(store_copy, "default", "admin", "read", "ingest")}
    reader = {"X-API-Key": create_key(store_copy, "default", "read", "ingest")}
    server = make_server(store_copy, "--workers", "2", "--log-level", "info")
    url = server.url
    event = {"customer_id": "c5", "anonymous_id": PHONE, "type": "view", "item_id": "tea-1",
             "timestamp": "2025-02-01T00:00:00Z"}  # fmt: skip
    assert httpx.post(f"{url}/v1/events", json=event, headers=reader).status_code == 200
    identify = {"customer_id": "c5", "identities": {"email": EMAIL}}
    assert httpx.post(f"{url}/v1/identify", json=identify, headers=reader).status_code == 200
    for _ in range(4):  # both workers cache answers (for c5 and others)
        for c in ("c5", "c6", "c7"):
            assert httpx.get(f"{url}/v1/customers/{c}/recommendations", headers=reader).is_success
    # the admin scope is needed for both
    assert httpx.get(f"{url}/v1/customers/c5/export", headers=reader).status_code == 403
    assert httpx.delete(f"{url}/v1/customers/c5", headers=reader).status_code == 403
    exported = httpx.get(f"{url}/v1/customers/{PHONE}/export", headers=admin)
    assert exported.status_code == 200
    doc = exported.json()
    assert doc["customer_id"] == "c5" and doc["ids"]["anonymous_ids"] == [PHONE]
    with Omotenashi(store_copy) as om:
        expected = len(om.rights.export("c5")["tables"]["events"])
        root = artefacts_of(store_copy)
    assert len(doc["tables"]["events"]) == expected >= 4
    assert {"c5", PHONE} <= _user_ids(root) | {PHONE}
    erased = httpx.delete(f"{url}/v1/customers/c5", headers=admin)
    assert erased.status_code == 200, erased.text
    receipt = erased.json()
    assert receipt_matches(receipt, "c5")
    assert receipt["rows"]["events"] == expected and receipt["rows"]["identities"] == 2
    assert PHONE not in erased.text and EMAIL not in erased.text
    assert httpx.delete(f"{url}/v1/customers/c5", headers=admin).status_code == 404
    time.sleep(1.5)  # the other worker follows the erasure record (every 0.2 s)
    with Omotenashi(store_copy) as om:  # the refitted model, read apart from the server
        fresh = {c: [r.item_id for r in om.recommendations.for_customer(c, 10, explain=False)]
                 for c in ("c6", "c7")}  # fmt: skip
        assert om.store.identities.resolve("email", EMAIL) is None
    for _ in range(4):  # whichever worker answers: the person is gone, others get new answers
        for path in ("", "/timeline", "/recommendations", "/export"):
            got = httpx.get(f"{url}/v1/customers/c5{path}", headers=admin)
            assert got.status_code == 404, (path, got.text)
        for c in ("c6", "c7"):
            got = httpx.get(f"{url}/v1/customers/{c}/recommendations", headers=reader).json()
            assert [r["item_id"] for r in got["recommendations"]] == fresh[c], got["model"]
    assert "c5" not in _user_ids(root)
    needles = [s.encode(e) for s in (PHONE, EMAIL) for e in ("utf-8", "utf-32-le")]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files and not [p for p in files if any(n in p.read_bytes() for n in needles)]
    server.stop()
    log = server.proc.stderr.read().decode()
    assert "Started server process" in log  # the log was captured ...
    assert PHONE not in log and EMAIL not in log and "/c5" not in log  # ... and names nobody


def test_a_key_reaches_only_its_own_workspace(tmp_path, backend, request):
    """An admin key of another workspace cannot export or erase this one's customers (the
    service in-process: the same routes and keys, without starting a server)."""
    from fastapi.testclient import TestClient

    from omotenashi.api import ServiceSettings, create_app

    if backend == "sqlite":
        db, other = tmp_path / "shop.db", tmp_path / "shop.workspaces" / "other.db"
        other.parent.mkdir()
    else:
        from omotenashi.storage.postgres import workspace_url

        db = request.getfixturevalue("postgres_url")
        other = workspace_url(db, "other")
    for url, prefix, seed in ((db, "alpha.", 0), (other, "beta.", 1)):
        with Omotenashi(url) as om:  # no model: an erasure then has none to refit
            om.track_many(synthetic_events(12, seed=seed, prefix=prefix))
    admin_a = {"X-API-Key": create_key(db, "default", "admin")}
    admin_b = {"X-API-Key": create_key(db, "other", "admin")}
    settings = ServiceSettings(db=str(db), train_on_start=False, warm_customers=0)
    with TestClient(create_app(settings)) as c:
        doc = c.get("/v1/customers/c3/export", headers=admin_b).json()
        assert "beta." in str(doc) and "alpha." not in str(doc)
        assert c.delete("/v1/customers/c3", headers=admin_b).status_code == 200
        assert c.get("/v1/customers/c3", headers=admin_b).status_code == 404
        # workspace A still has its own c3, untouched
        kept = c.get("/v1/customers/c3/export", headers=admin_a)
        assert kept.status_code == 200 and "alpha." in kept.text and "beta." not in kept.text
        assert c.delete("/v1/customers/c3").status_code == 401
