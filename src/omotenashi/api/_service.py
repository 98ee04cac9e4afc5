"""What a running server holds: settings, keys, workspaces and request metrics.

The use cases the routes call live in ``omotenashi.services`` (recommendation answers, value
report, decisions, workspaces); this object only gathers the server's long-lived parts.
"""

from __future__ import annotations

from omotenashi.api._compute import WORK
from omotenashi.api._metrics import Metrics
from omotenashi.services import KeyStore, RateLimiter, ServiceSettings, Workspaces, warm


class Service:
    """Everything a running server holds: settings, keys, workspaces, metrics."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.keys = KeyStore(settings.keys_path())
        self.limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        self.workspaces = Workspaces(settings, warm=warm)

    def start(self) -> None:
        self.workspaces.start()

    def close(self) -> None:
        self.workspaces.close()
        self.keys.close()

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        out: list[tuple[str, str, dict[str, str], float]] = []
        for ws in self.workspaces.opened():
            label = {"workspace": ws.name}
            out += [
                ("omotenashi_events_stored_total", "counter", label, ws.events_total),
                ("omotenashi_events_since_training", "gauge", label, ws.events_since_training),
                ("omotenashi_events_followed_total", "counter", label, ws.events_followed),
                ("omotenashi_trainings_started_total", "counter", label, ws.trainings),
                ("omotenashi_cache_hits_total", "counter", label, ws.cache.hits),
                ("omotenashi_cache_misses_total", "counter", label, ws.cache.misses),
                ("omotenashi_cache_entries", "gauge", label, len(ws.cache)),
                ("omotenashi_model_loaded", "gauge", label, float(ws.models.main is not None)),
            ]
        # the process's model work (answers the cache could not give), all workspaces together
        out += [
            ("omotenashi_model_work_calls_total", "counter", {}, WORK.calls),
            ("omotenashi_model_work_cpu_seconds_total", "counter", {}, WORK.cpu_seconds),
        ]
        return out


__all__ = ["Service"]
