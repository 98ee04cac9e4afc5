"""Fuzzing: schemathesis generates requests from /openapi.json against the real server.

Valid and invalid requests (positive and negative generation) for every operation, with a key
that has every scope; the server must never answer 5xx (503 "model not ready" cannot happen:
the store is trained before the server starts).
"""

from __future__ import annotations

import httpx
import pytest
import requests
import schemathesis  # a dev dependency (pyproject [dev]): missing means a failure, not a skip
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from .conftest import create_key

MIN_REQUESTS = 1000


@pytest.mark.slow
def test_no_server_error_over_generated_requests(make_server, store_copy):
    key = create_key(store_copy, "default", "read", "ingest", "admin")
    server = make_server(store_copy, "--retrain-after", "0", "--no-train-on-start")
    spec = httpx.get(server.url + "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [op.ok() for op in schema.get_all_operations()]
    operations = [op for op in operations if op.path != "/v1/admin/retrain"]  # slow, not fuzz
    per_operation = MIN_REQUESTS // (2 * len(operations)) + 10
    session = requests.Session()
    sent: list[tuple[str, int]] = []
    failures: list[str] = []

    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(
                max_examples=per_operation,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def exercise(case) -> None:
                response = case.call(
                    base_url=server.url, session=session, headers={"X-API-Key": key}, timeout=10
                )
                sent.append((case.operation.label, response.status_code))
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:200]}"
                    )

            try:
                exercise()
            except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
                assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label

    assert len(sent) >= MIN_REQUESTS, len(sent)
    assert failures == []
    # the fuzzing reached real answers too, not only validation errors
    assert sum(200 <= status < 300 for _, status in sent) > 100
    assert sum(400 <= status < 500 for _, status in sent) > 100
