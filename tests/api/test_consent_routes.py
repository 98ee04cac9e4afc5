"""Consent and preferences over HTTP, on the real server process (store file and PostgreSQL):
scopes, history with the key that sent it, the next answer obeying a change (cached answers
dropped), plain-words why, decisions, bulk records and workspace isolation."""

from __future__ import annotations

import time

import httpx
import pytest

from .conftest import create_key

POINT = {
    "variants": [{"id": "warm", "features": {"tone": "warm"}}, {"id": "brief", "features": {}}],
    "reward": {"name": "click", "kind": "binary", "ttl_seconds": 3600},
    "policy": {"kind": "linucb", "params": {"alpha": 0.2}},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _key_id(db, token: str) -> str:
    from omotenashi.api import KeyStore, ServiceSettings

    store = KeyStore(ServiceSettings(db=str(db)).keys_path())
    try:
        info = store.authenticate(token)
        assert info is not None
        return info.key_id
    finally:
        store.close()


def test_consent_and_preferences_over_http(make_server, store_copy) -> None:
    read = {"X-API-Key": create_key(store_copy, "default", "read")}
    ingest_token = create_key(store_copy, "default", "read", "ingest")
    ingest = {"X-API-Key": ingest_token}
    admin = {"X-API-Key": create_key(store_copy, "default", "admin")}
    other = {"X-API-Key": create_key(store_copy, "other", "read", "ingest")}
    server = make_server(store_copy)
    neighbour = make_server(store_copy)  # another process on the same store
    c6 = "/v1/customers/c6/recommendations?n=3"
    assert httpx.get(neighbour.url + c6, headers=read).json()["personalized"] is True  # cached
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # reading: defaults (opt-out), nothing answered
        got = http.get("/v1/customers/c1/consent", headers=read).json()
        assert got["model"] == "opt-out" and got["history"] == []
        assert all(p["granted"] and not p["answered"] for p in got["purposes"].values())
        # recommendations with reasons: personalized, a plain-words why per item
        path = "/v1/customers/c1/recommendations?n=5&explain=true"
        before = http.get(path, headers=read).json()
        assert before["personalized"] is True
        assert before["personalization"] == {"mode": "full", "reason": None}
        assert all(r["why"].startswith("Recommended: ") for r in before["recommendations"])
        for row in before["recommendations"]:
            assert row["reasons"][0]["text"] in row["why"]
        # changing needs ingest (or admin)
        change = {"purposes": {"personalization": False}, "source": "web-form"}
        assert http.put("/v1/customers/c1/consent", json=change, headers=read).status_code == 403
        changed = http.put("/v1/customers/c1/consent", json=change, headers=ingest)
        assert changed.status_code == 200, changed.text
        (row,) = changed.json()["history"]
        assert row["purpose"] == "personalization" and row["granted"] is False
        assert row["source"] == "web-form" and row["key_id"] == _key_id(store_copy, ingest_token)
        bad = http.put(
            "/v1/customers/c1/consent", json={"purposes": {"telepathy": True}}, headers=ingest
        )
        assert bad.status_code == 422 and "telepathy" in bad.text
        # the next answer obeys at once (the cached one was dropped), and says why
        after = http.get(path, headers=read).json()
        assert after["personalized"] is False
        assert after["personalization"]["reason"] == (
            "the customer withdrew consent to personalization"
        )
        assert all("Not personalized" in r["why"] for r in after["recommendations"])
        assert all(r["reasons"][0]["kind"] == "popular" for r in after["recommendations"])
        http.put("/v1/customers/c2/consent", json=change, headers=ingest)
        c2 = http.get(path.replace("c1", "c2"), headers=read).json()
        assert c2["recommendations"] == after["recommendations"]  # the history plays no part
        # decisions: no profile, and why says so
        assert http.put("/v1/decision-points/tone", json=POINT, headers=admin).status_code == 201
        decided = http.post(
            "/v1/decisions/tone", json={"customer_id": "c1", "context": {}}, headers=ingest
        ).json()
        assert decided["personalized"] is False and decided["known_customer"] is False
        assert "Not personalized: the customer withdrew" in decided["why"]
        known = http.post(
            "/v1/decisions/tone", json={"customer_id": "c3", "context": {}}, headers=ingest
        ).json()
        assert known["personalized"] is True and known["known_customer"] is True
        # a dislike removes the item from the next answer (the cached one is dropped)
        recs = "/v1/customers/c3/recommendations?n=5"
        first = [r["item_id"] for r in http.get(recs, headers=read).json()["recommendations"]]
        assert http.get(recs, headers=read).json()["recommendations"][0]["item_id"] == first[0]
        patch = {"add": {"dislikes": {"items": [first[0]]}}, "quiet_hours": [22, 7]}
        patched = http.patch("/v1/customers/c3/preferences", json=patch, headers=ingest)
        assert patched.status_code == 200, patched.text
        assert patched.json()["dislikes"] == {"items": [first[0]], "categories": []}
        assert patched.json()["quiet_hours"] == [22, 7]
        second = [r["item_id"] for r in http.get(recs, headers=read).json()["recommendations"]]
        assert first[0] not in second and second[:4] == first[1:]
        prefs = http.get("/v1/customers/c3/preferences", headers=read).json()
        assert prefs["level"] == "full" and prefs["dislikes"]["items"] == [first[0]]
        bad = http.patch(
            "/v1/customers/c3/preferences", json={"time_zone": "Mars/Olympus"}, headers=ingest
        )
        assert bad.status_code == 422 and "time_zone" in bad.text
        put = http.put(
            "/v1/customers/c3/preferences", json={"level": "light"}, headers=ingest
        ).json()
        assert (
            put["level"] == "light"
            and put["dislikes"]["items"] == []
            and put["quiet_hours"] is None
        )
        light = http.get(recs, headers=read).json()
        assert light["personalized"] is True and light["personalization"]["mode"] == "light"
        # bulk: all or nothing, the bad record named
        records = [
            {"customer_id": "c4", "purpose": "marketing", "granted": False},
            {"customer_id": "c5", "purpose": "spam", "granted": True},
        ]
        refused = http.post("/v1/consent", json={"records": records}, headers=ingest)
        assert refused.status_code == 422 and "records[1].purpose" in refused.text
        assert http.get("/v1/customers/c4/consent", headers=read).json()["history"] == []
        records[1]["purpose"] = "analytics"
        done = http.post("/v1/consent", json={"records": records}, headers=ingest).json()
        assert done == {"rows": 2, "customers": 2}
        # the consent model is the admin's
        opt_in = {"model": "opt-in", "purposes": {"newsletter": {"description": "weekly"}}}
        assert http.put("/v1/admin/consent", json=opt_in, headers=ingest).status_code == 403
        settings = http.put("/v1/admin/consent", json=opt_in, headers=admin).json()
        assert settings["model"] == "opt-in"
        assert settings["purposes"]["newsletter"] == {
            "description": "weekly",
            "granted_by_default": False,
            "built_in": False,
        }
        c9 = http.get("/v1/customers/c9/recommendations?n=3", headers=read).json()
        assert c9["personalized"] is False and "opt-in" in c9["personalization"]["reason"]
        # the other process drops its cached answer within a follow period
        http.put("/v1/customers/c6/consent", json=change, headers=ingest)
        deadline = time.monotonic() + 15
        while httpx.get(neighbour.url + c6, headers=read).json()["personalized"]:
            assert time.monotonic() < deadline, "the second server kept its cached answer"
            time.sleep(0.2)
        # another workspace's key never sees or changes these answers
        theirs = http.get("/v1/customers/c1/consent", headers=other).json()
        assert theirs["history"] == [] and theirs["model"] == "opt-out"
        http.put(
            "/v1/customers/c1/consent", json={"purposes": {"personalization": True}}, headers=other
        )
        ours = http.get("/v1/customers/c1/consent", headers=read).json()
        assert [h["granted"] for h in ours["history"]] == [False]
