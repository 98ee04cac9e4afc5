from __future__ import annotations

import pytest

from omotenashi.decisions import InMemoryDecisionLog, open_decision_log


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite"])
def decision_log(request, tmp_path):
    if request.param == "memory":
        yield InMemoryDecisionLog()
    else:
        log = open_decision_log(tmp_path / "store.db")
        yield log
        log.close()
