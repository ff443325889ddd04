"""Prometheus metrics: the registry, and the middleware that counts every request (the route,
`GET /metrics`, is in api/operations.py).

Each app has a registry of its own (tests run several apps in one process). The service runs
one uvicorn worker process (`python main.py serve`), so prometheus-client's multiprocess mode is
not used; scale out with more instances, each scraped on its own.
"""

from __future__ import annotations

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
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.edge.request_context import CLIENT_CLOSED_REQUEST, route_template
from database.pool import Database
from database.pool_events import ERROR_KINDS

_NAMESPACE = "config_service"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_POOL_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


class _PoolCollector(Collector):
    """Reads the pool's usage at scrape time; nothing is reported before the pool exists."""

    def __init__(self) -> None:
        self.database: Database | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            f"{_NAMESPACE}_db_pool_connections",
            "Database pool connections in use or idle, and requests waiting for one.",
            labels=["state"],
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
        self.registry.register(self._pool)

    def watch(self, database: Database) -> None:
        self._pool.database = database
        database.listener = self

    def connection_wait_finished(self, seconds: float) -> None:
        self.pool_wait.observe(seconds)

    def database_error(self, kind: str) -> None:
        self.database_errors.labels(kind=kind).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


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
