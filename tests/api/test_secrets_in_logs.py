"""No personal value and no API key secret in the logs: the real server and the command line,
logging at DEBUG, are fed personal data and tokens, and everything they wrote is scanned."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .conftest import create_key, free_port

EMAIL = "hanako.yamada@example.org"
PHONE = "+81-90-5555-0199"
NAME = "Hanako Yamada"
NOTE = "allergic to buckwheat"
PERSONAL = (EMAIL, PHONE, NAME, NOTE)
KEY = "bG9nLXRlc3QtbG9nLXRlc3QtbG9nLXRlc3QtbG9nLTE="  # a Fernet key for the test only


def _secret(token: str) -> str:
    return token.split("_", 2)[2]


def test_the_real_server_at_debug_logs_no_personal_value_or_token(
    trained_store: Path, tmp_path: Path
) -> None:
    db = tmp_path / "shop.db"
    shutil.copy(trained_store, db)
    shutil.copytree(trained_store.parent / "shop.artefacts", tmp_path / "shop.artefacts")
    token = create_key(db, "default", "read", "ingest", "admin")
    port = free_port()
    log_file = tmp_path / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMOTENASHI_ENCRYPTION_KEYS": KEY}
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "omotenashi", "serve", "--db", str(db), "--port", str(port),
             "--no-train-on-start", "--log-level", "debug"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log_file.read_text()
                    time.sleep(0.1)
            with httpx.Client(base_url=url, headers={"X-API-Key": token}, timeout=30) as http:
                attributes = {"email": EMAIL, "phone": PHONE, "name": NAME, "notes": NOTE}
                assert http.put("/v1/customers/c1", json={"attributes": attributes}).is_success
                profile = http.get("/v1/customers/c1").json()
                assert profile["attributes"]["email"] == EMAIL  # the owner's reads see it
                ident = {"customer_id": "c1", "identities": {"email": EMAIL, "phone": PHONE}}
                assert http.post("/v1/identify", json=ident).is_success
                event = {"customer_id": "c1", "type": "view", "item_id": "tea-1",
                         "timestamp": "2025-02-01T10:00", "context": {"note": NOTE}}  # fmt: skip
                assert http.post("/v1/events", json=event).is_success
                # refused requests carrying personal values and tokens are logged as refused only
                bad = {"customer_id": "c1", "type": "view", "timestamp": EMAIL}
                assert http.post("/v1/events", json=bad).status_code == 422
                assert http.put("/v1/customers/c1", content=f'{{"attributes": "{PHONE}"').is_error
                wrong = token[:-4] + "AAAA"
                assert httpx.get(url + "/v1/customers/c1", headers={"X-API-Key": wrong},
                                 timeout=10).status_code == 401  # fmt: skip
                bearer = {"Authorization": f"Bearer {token}"}
                assert httpx.get(url + "/v1/customers/c1/timeline", headers=bearer,
                                 timeout=10).is_success  # fmt: skip
                http.get("/v1/access-log")
        finally:
            proc.terminate()
            proc.wait(20)
    logged = log_file.read_text(encoding="utf-8", errors="replace")
    assert "DEBUG" in logged and "/v1/customers/{customer_id} -> 200" in logged, logged
    for value in PERSONAL:
        assert value not in logged, f"{value!r} in the server log"
    assert _secret(token) not in logged and _secret(wrong) not in logged
