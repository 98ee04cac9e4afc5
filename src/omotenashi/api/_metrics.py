"""Request counts, latencies and event counters in the Prometheus text format (no dependency).

Each server process keeps its own figures (as Prometheus expects from several workers: scrape
each, or sum them); a label ``pid`` tells processes apart.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections.abc import Iterable

#: Upper bounds (seconds) of the latency histogram buckets.
BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class Metrics:
    """Counters and latency histograms, by route template (not raw path: bounded labels)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, list[float]] = {}  # route -> bucket counts + [sum, count]

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, route, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            row = self.latency.get(route)
            if row is None:
                row = self.latency[route] = [0.0] * (len(BUCKETS) + 2)
            bucket = bisect_left(BUCKETS, seconds)
            if bucket < len(BUCKETS):  # slower than the last bound: only in +Inf (the count)
                row[bucket] += 1
            row[-2] += seconds
            row[-1] += 1

    def render(self, gauges: Iterable[tuple[str, str, dict[str, str], float]] = ()) -> str:
        """The Prometheus text exposition (version 0.0.4).

        ``gauges`` adds ``(name, kind, labels, value)`` samples (kind: counter or gauge).
        """
        pid = str(os.getpid())
        out = [
            "# HELP omotenashi_http_requests_total HTTP requests by method, route and status.",
            "# TYPE omotenashi_http_requests_total counter",
        ]
        with self._lock:
            requests = sorted(self.requests.items())
            latency = {k: list(v) for k, v in sorted(self.latency.items())}
        for (method, route, status), count in requests:
            labels = _labels({"method": method, "route": route, "status": str(status), "pid": pid})
            out.append(f"omotenashi_http_requests_total{labels} {count}")
        out += [
            "# HELP omotenashi_http_request_duration_seconds Time to answer, by route.",
            "# TYPE omotenashi_http_request_duration_seconds histogram",
        ]
        for route, row in latency.items():
            cumulative = 0.0
            for bound, count in zip(BUCKETS, row, strict=False):
                cumulative += count
                labels = _labels({"route": route, "le": _num(bound), "pid": pid})
                name = "omotenashi_http_request_duration_seconds_bucket"
                out.append(f"{name}{labels} {cumulative:g}")
            labels = _labels({"route": route, "le": "+Inf", "pid": pid})
            out.append(f"omotenashi_http_request_duration_seconds_bucket{labels} {row[-1]:g}")
            base = _labels({"route": route, "pid": pid})
            out.append(f"omotenashi_http_request_duration_seconds_sum{base} {row[-2]:.6f}")
            out.append(f"omotenashi_http_request_duration_seconds_count{base} {row[-1]:g}")
        declared: set[str] = set()
        for name, kind, labels, value in gauges:
            if name not in declared:
                out.append(f"# TYPE {name} {kind}")
                declared.add(name)
            out.append(f"{name}{_labels({**labels, 'pid': pid})} {value:g}")
        return "\n".join(out) + "\n"


def _num(value: float) -> str:
    return f"{value:g}"


def _labels(labels: dict[str, str]) -> str:
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"
