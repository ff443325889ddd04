"""Prometheus metrics: the registry, and the middleware that counts every request (the route,
`GET /metrics`, is in api/operations.py).

Each app has a registry of its own (tests run several apps in one process). With WORKERS > 1
`serve` runs several processes (api/edge/workers.py), and the parent sets
PROMETHEUS_MULTIPROC_DIR before they start: prometheus-client then keeps every process's values
in files there, and `/metrics` reports the sum over the instance's workers whichever one
answers. The gauges are summed over the live workers (`livesum`); the pool's gauge is refreshed
by each worker every POOL_REFRESH_SECONDS (and by the answering one at the scrape), so other
workers' pool figures may be that old.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.edge.request_context import CLIENT_CLOSED_REQUEST, route_template
from database.pool import Database
from database.pool_events import ERROR_KINDS

_NAMESPACE = "config_service"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_POOL_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
_POOL_HELP = "Database pool connections in use or idle, and requests waiting for one."
MULTIPROCESS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
POOL_REFRESH_SECONDS = 1.0


def multiprocess_directory() -> str | None:
    """Set by `serve`'s parent for its workers; None in a single process."""
    return os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE) or None


class _PoolCollector(Collector):
    """Reads the pool's usage at scrape time; nothing is reported before the pool exists."""

    def __init__(self) -> None:
        self.database: Database | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            f"{_NAMESPACE}_db_pool_connections", _POOL_HELP, labels=["state"]
        )
        if self.database is not None:
            usage = self.database.usage()
            family.add_metric(["in_use"], usage.in_use)
            family.add_metric(["idle"], usage.idle)
            family.add_metric(["waiting"], usage.waiting)
        yield family


class Metrics:
    """The service's metrics; also the pool's PoolListener."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._database: Database | None = None
        directory = multiprocess_directory()
        # What `/metrics` shows: this process's registry, or every worker's files.
        self._exposed = self.registry
        if directory is not None:
            self._exposed = CollectorRegistry()
            MultiProcessCollector(self._exposed, path=directory)  # type: ignore[no-untyped-call]
        self.requests = Counter(
            f"{_NAMESPACE}_http_requests",
            "HTTP requests answered, by method, route template and status class.",
            ["method", "route", "status_class"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            f"{_NAMESPACE}_http_request_duration_seconds",
            "Time from receiving a request to finishing its response.",
            ["method", "route", "status_class"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            f"{_NAMESPACE}_http_requests_in_flight",
            "HTTP requests being handled right now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.pool_wait = Histogram(
            f"{_NAMESPACE}_db_pool_wait_seconds",
            "Time spent waiting for a free database connection.",
            buckets=_POOL_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.database_errors = Counter(
            f"{_NAMESPACE}_db_errors",
            "Failed database operations by kind.",
            ["kind"],
            registry=self.registry,
        )
        for kind in ERROR_KINDS:
            self.database_errors.labels(kind=kind)
        self.abandoned = Counter(
            f"{_NAMESPACE}_http_requests_abandoned",
            "Requests whose client closed the connection before sending the whole request "
            "(counted as status 499, a 4xx, by http_requests).",
            ["method", "route"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            f"{_NAMESPACE}_rate_limited",
            "Requests refused with 429: over a caller's budget, or too many failed "
            "authentications from the address.",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("budget", "auth_failures"):
            self.rate_limited.labels(reason=reason)
        self._pool = _PoolCollector()
        self._pool_gauge: Gauge | None = None
        if directory is None:
            self.registry.register(self._pool)
        else:  # a collector's values stay in its process: a gauge's reach the files
            self._pool_gauge = Gauge(
                f"{_NAMESPACE}_db_pool_connections",
                _POOL_HELP,
                ["state"],
                registry=self.registry,
                multiprocess_mode="livesum",
            )

    @property
    def multiprocess(self) -> bool:
        return self._pool_gauge is not None

    def watch(self, database: Database) -> None:
        self._pool.database = database
        self._database = database
        database.listener = self
        self.refresh_pool()

    def refresh_pool(self) -> None:
        """Write this worker's pool usage where the other workers' scrapes read it."""
        if self._pool_gauge is None or self._database is None:
            return
        usage = self._database.usage()
        self._pool_gauge.labels(state="in_use").set(usage.in_use)
        self._pool_gauge.labels(state="idle").set(usage.idle)
        self._pool_gauge.labels(state="waiting").set(usage.waiting)

    async def refresh_pool_forever(self) -> None:
        while True:
            self.refresh_pool()
            await asyncio.sleep(POOL_REFRESH_SECONDS)

    def connection_wait_finished(self, seconds: float) -> None:
        self.pool_wait.observe(seconds)

    def database_error(self, kind: str) -> None:
        self.database_errors.labels(kind=kind).inc()

    def exposition(self) -> bytes:
        self.refresh_pool()
        return generate_latest(self._exposed)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Each (method, route, status class)'s counter and histogram, found once: asking the
        # metric for a label set's child costs as much as counting.
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_flight = self.metrics.in_flight
        in_flight.inc()
        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            in_flight.dec()
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method: str = scope["method"]
        route = route_template(scope)
        labels = (method, route, _STATUS_CLASSES.get(status) or f"{status // 100}xx")
        children = self._children.get(labels)
        if children is None:
            metrics = self.metrics
            children = self._children[labels] = (
                metrics.requests.labels(*labels),
                metrics.request_duration.labels(*labels),
            )
        children[0].inc()
        children[1].observe(seconds)
        if status == CLIENT_CLOSED_REQUEST:
            self.metrics.abandoned.labels(method=method, route=route).inc()


_STATUS_CLASSES = {status: f"{status // 100}xx" for status in range(100, 600)}
