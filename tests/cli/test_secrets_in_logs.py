"""No personal value and no API key secret in the command line's logs: commands run with
``OMOTENASHI_LOG_LEVEL=DEBUG`` on personal data, and everything they logged is scanned (the
server's side: tests/api/test_secrets_in_logs.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Ran, run_cli

EMAIL = "hanako.yamada@example.org"
PHONE = "+81-90-5555-0199"
NAME = "Hanako Yamada"
NOTE = "allergic to buckwheat"
PERSONAL = (EMAIL, PHONE, NAME, NOTE)
KEY = "bG9nLXRlc3QtbG9nLXRlc3QtbG9nLXRlc3QtbG9nLTE="  # a Fernet key for the test only


@pytest.fixture
def debug_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Commands log at DEBUG (``OMOTENASHI_LOG_LEVEL``); the root logger is restored after."""
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    monkeypatch.setenv("OMOTENASHI_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("OMOTENASHI_ENCRYPTION_KEYS", KEY)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]


def test_the_command_line_at_debug_logs_no_personal_value_or_token(
    tmp_path: Path, debug_logs: None
) -> None:
    db = str(tmp_path / "shop.db")
    people = tmp_path / "people.csv"
    people.write_text(f'id,email,phone,name,notes\nc1,{EMAIL},{PHONE},{NAME},"{NOTE}"\n')

    def cli(*args: str) -> Ran:
        done = run_cli(*args, "--db", db)
        assert done.code == 0, done.output
        return done

    created = cli("keys", "create", "--workspace", "default", "--scope", "read", "--json")
    token = json.loads(created.stdout)["token"]
    quiet = [  # commands whose output is not the personal data itself
        cli("import-customers", str(people), "--map", "customer=id"),
        cli("track", '{"customer_id": "c1", "type": "view", "item_id": "i1", '
            f'"timestamp": "2025-01-01T00:00:00Z", "context": {{"note": "{NOTE}"}}}}'),
        cli("encryption", "rotate"),
        cli("encryption", "status", "--json"),
        cli("access-log", "--json"),
        cli("keys", "list"),
    ]  # fmt: skip
    shown = cli("profile", "c1", "--json")  # the owner asked: the values are the answer
    assert json.loads(shown.stdout)["attributes"]["email"] == EMAIL
    logs = created.stderr + shown.stderr + "".join(done.stderr for done in quiet)
    assert "DEBUG omotenashi: opened store" in logs and "entries written" in logs, logs
    for value in PERSONAL:
        assert value not in logs, f"{value!r} in the command line's log"
        assert not any(value in done.stdout for done in quiet), value
    assert token.split("_", 2)[2] not in logs
