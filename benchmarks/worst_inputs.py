"""Time the worst inputs we know for each costly path: `pipenv run bench-worst`.

Starts the real server as benchmarks/benchmark.py does, then, for each case, prepares a
configuration and sends one hostile request built within MAX_BODY_BYTES (1 MiB) and
MAX_JSON_DEPTH (32): RE2 patterns on long strings, uniqueItems on 50,000 objects, a diff of two
long arrays, a 1 MiB merge patch, wide and deep documents, a huge integer under multipleOf, a
schema multiplied by a document, a diff under a 100,000-character key, 140,000 copies of 1e308,
schema errors under a 900 KB key, and 4 MiB of request headers. It prints each request's time,
status and response size, and the worst latency of /health/live, polled from another thread all
along. Nothing is asserted: the figures are for people.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from benchmarks.server import admin_key, running_server
from config.settings import load_settings
from database.migration_runner import MigrationRunner
from database.url import resolve_database_url
from testing.databases import temporary_database

MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 32
HOSTILE_STRING = "a" * (MAX_BODY_BYTES - 1024) + "!"
LONG_KEY = "k" * 100_000
HEADER_BYTES = 4 << 20


@dataclass(frozen=True)
class Case:
    """Create a configuration with `schema` and `config`; optionally write `second` as its
    revision 2; then time `method` on the configuration's `path` with `body`."""

    name: str
    config: dict[str, Any]
    schema: dict[str, Any] | None
    method: str
    path: str
    body: Any
    second: dict[str, Any] | None = None
    content_type: str = "application/json"


def _deep(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = {"d": leaf}
    return leaf


def cases() -> list[Case]:
    long_list = list(range(120_000))
    wide = {f"key{index:06}": index for index in range(55_000)}
    return [
        Case(
            "pattern ^(a+)+$, 1 MiB string",
            {},
            {"properties": {"x": {"type": "string", "pattern": "^(a+)+$"}}},
            "PUT",
            "",
            {"config": {"x": HOSTILE_STRING}},
        ),
        Case(
            "patternProperties, 25k keys",
            {},
            {"patternProperties": {"^(a+)+$": {"type": "integer"}}, "additionalProperties": False},
            "PUT",
            "",
            {"config": {"a" * 20 + f"{index:05}!": index for index in range(25_000)}},
        ),
        Case(
            "uniqueItems, 50k objects",
            {},
            {"properties": {"items": {"uniqueItems": True}}},
            "PUT",
            "",
            {"config": {"items": [{"i": index} for index in range(50_000)]}},
        ),
        Case(
            "schema x document (allOf)",
            {},
            {"allOf": [{"properties": {"a": {"items": {"type": "integer"}}}}] * 100},
            "PUT",
            "",
            {"config": {"a": long_list}},
        ),
        Case(
            "multipleOf 0.5, 4000 digits",
            {},
            {"properties": {"n": {"multipleOf": 0.5}}},
            "PUT",
            "",
            {"config": {"n": 10**3999 + 1}},
        ),
        Case(
            "1 MiB schema",
            {},
            None,
            "PUT",
            "",
            {"schema": {"allOf": [{"type": "integer"}] * 50_000}},
        ),
        Case(
            "diff, 120k items vs every other",
            {"x": long_list},
            None,
            "GET",
            "/diff?from=1&to=2",
            None,
            second={"x": long_list[::2]},
        ),
        Case(
            "merge patch, 55k members",
            {},
            None,
            "PATCH",
            "",
            {"config": wide},
            content_type="application/merge-patch+json",
        ),
        Case(
            "deep document, 32 levels x 4k",
            {},
            None,
            "PUT",
            "",
            {"config": {"x": [_deep(MAX_JSON_DEPTH - 3, index) for index in range(4_000)]}},
        ),
        Case(
            "diff, 100k-char key over 2k changes",
            {LONG_KEY: {"a": list(range(2000))}},
            None,
            "GET",
            "/diff?from=1&to=2",
            None,
            second={LONG_KEY: {"a": list(range(1, 2001))}},
        ),
        Case(
            "140k x 1e308 (46 MB once stored)",
            {},
            None,
            "PUT",
            "",
            {"config": {"n": [1e308] * 140_000}},
        ),
        Case(
            "60 schema errors under a 900 KB key",
            {},
            {"additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "PUT",
            "",
            {"config": {"k" * 900_000: list(range(60))}},
        ),
    ]


def encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class HealthWatch:
    """Polls /health/live from its own thread and keeps the worst latency."""

    def __init__(self, base_url: str) -> None:
        self.worst = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(base_url,), daemon=True)

    def _poll(self, base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            while not self._stop.wait(0.02):
                started = time.perf_counter()
                client.get("/health/live")
                self.worst = max(self.worst, time.perf_counter() - started)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_case(client: httpx.Client, application_id: str, case: Case) -> tuple[float, int, int]:
    created = client.post(
        "/api/v1/configurations",
        json={
            "application_id": application_id,
            "name": f"worst-{time.time_ns()}",
            "config": case.config,
            "schema": case.schema,
        },
    )
    created.raise_for_status()
    url = f"/api/v1/configurations/{created.json()['id']}"
    if case.second is not None:
        client.put(url, json={"config": case.second}).raise_for_status()
    content = None if case.body is None else encode(case.body)
    started = time.perf_counter()
    response = client.request(
        case.method, url + case.path, content=content, headers={"Content-Type": case.content_type}
    )
    return time.perf_counter() - started, response.status_code, len(response.content)


def send_huge_headers(base_url: str) -> tuple[float, int, int]:
    """4 MiB of headers on one connection: the time to the answer, its status, and how many
    bytes the server took before it closed the connection."""
    address = urlsplit(base_url)
    line = b"X-Padding: " + b"p" * 65_000 + b"\r\n"
    sent, received = 0, b""
    started = time.perf_counter()
    with socket.create_connection((address.hostname, address.port), timeout=120) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65_536)
        try:
            connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: worst\r\n")
            while sent < HEADER_BYTES:
                connection.sendall(line)
                sent += len(line)
            connection.sendall(b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := connection.recv(65_536):
                received += chunk
        except ConnectionResetError:
            pass
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/") else 0
    return time.perf_counter() - started, status, sent


def main(argv: list[str] | None = None, report: Callable[[str], None] = print) -> int:
    del argv
    postgresql = resolve_database_url(load_settings())
    with temporary_database(postgresql, prefix="config_service_worst") as database_url:
        MigrationRunner(database_url).up()
        with (
            running_server(database_url, key=admin_key(database_url)) as server,
            server.client(timeout=120) as client,
        ):
            application = client.post("/api/v1/applications", json={"name": "worst-inputs"})
            application_id = application.json()["id"]
            report(f"{'case':<36}{'body KiB':>9}{'status':>7}{'seconds':>9}{'answer KiB':>11}")
            with HealthWatch(server.url) as health:
                for case in cases():
                    size = 0 if case.body is None else len(encode(case.body)) // 1024
                    seconds, status, answer = run_case(client, application_id, case)
                    report(
                        f"{case.name:<36}{size:>9}{status:>7}{seconds:>9.3f}{answer // 1024:>11}"
                    )
                seconds, status, sent = send_huge_headers(server.url)
                report(
                    f"{'4 MiB of headers (KiB sent shown)':<36}{HEADER_BYTES // 1024:>9}"
                    f"{status:>7}{seconds:>9.3f}{sent // 1024:>11}"
                )
            report(f"worst /health/live latency meanwhile: {health.worst:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
