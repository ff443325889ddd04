"""The service against a PostgreSQL that crashes, is down, holds locks or runs out of connections.

These tests run on a private server of their own (testing/disposable_server.py), never on the
shared test server: they stop and kill it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg2
import pytest
from psycopg2 import sql

from api.v1.applications_test import assert_problem, unique_name
from config.settings import Settings
from conftest import LiveServerFactory, make_settings
from database.migration_runner import MigrationRunner
from database.pool import Connection, connect
from testing.api_keys import create_api_key
from testing.disposable_server import DisposableServer
from testing.live_server import run_live_server

DATABASE_NAME = "config_service_faults"
UNAVAILABLE = "urn:config-service:problem:database-unavailable"
HEALTH = "application/health+json"


@pytest.fixture(scope="module")
def private_server() -> Iterator[DisposableServer]:
    server = DisposableServer()
    try:
        server.start()
        admin = psycopg2.connect(server.url())
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
        admin.close()
        MigrationRunner(server.url(DATABASE_NAME)).up()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def server(private_server: DisposableServer) -> Iterator[DisposableServer]:
    """The private server, running before and after each test whatever the test did to it."""
    if not private_server.is_running():
        private_server.start()
    yield private_server
    if not private_server.is_running():
        private_server.start()


def fault_settings(server: DisposableServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_pool_max_size": 8,
        "database_pool_timeout_seconds": 1.0,
        "database_connect_timeout_seconds": 2,
        "database_statement_timeout_ms": 3000,
        "database_lock_timeout_ms": 300,
    }
    values.update(overrides)
    return make_settings(server.url(DATABASE_NAME), **values)


def observer(server: DisposableServer) -> Connection:
    connection = connect(server.url(DATABASE_NAME))
    connection.autocommit = True
    return connection


def query(server: DisposableServer, statement: str, parameters: dict[str, Any]) -> list[Any]:
    connection = observer(server)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, parameters)
            return [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()


def assert_unavailable(response: httpx.Response, detail: str | None = None) -> None:
    problem = assert_problem(response, 503)
    assert problem["type"] == UNAVAILABLE
    assert problem["request_id"] == response.headers["x-request-id"]
    assert int(response.headers["retry-after"]) >= 1
    if detail is not None:
        assert problem["detail"] == detail


def readiness(client: httpx.Client) -> tuple[int, dict[str, str]]:
    response = client.get("/health/ready")
    assert response.headers["content-type"] == HEALTH
    checks = response.json()["checks"]
    return response.status_code, {name: check[0]["status"] for name, check in checks.items()}


@dataclass(frozen=True)
class Outcome:
    kind: str
    started: float
    finished: float
    response: httpx.Response | None
    error: str | None = None
    name: str | None = None


def run_load(
    url: str, stop: threading.Event, outcomes: list[Outcome], lock: threading.Lock
) -> None:
    """Alternate a write and a read until told to stop, recording every outcome."""
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            name = unique_name("crash")
            for kind in ("write", "read"):
                started = time.monotonic()
                try:
                    if kind == "write":
                        response = client.post("/api/v1/applications", json={"name": name})
                    else:
                        response = client.get("/api/v1/applications", params={"limit": 5})
                    outcome = Outcome(kind, started, time.monotonic(), response, name=name)
                except httpx.HTTPError as error:
                    outcome = Outcome(kind, started, time.monotonic(), None, error=repr(error))
                with lock:
                    outcomes.append(outcome)
            time.sleep(0.01)


def statuses(outcomes: list[Outcome]) -> set[int | None]:
    return {outcome.response.status_code if outcome.response else None for outcome in outcomes}


def assert_every_answer_is_fast_and_a_success_or_a_503(outcomes: list[Outcome]) -> None:
    """No hang, no transport error, no 500: a 2xx, or a 503 problem within two seconds."""
    assert [outcome.error for outcome in outcomes if outcome.error] == []
    assert statuses(outcomes) <= {200, 201, 503}
    for outcome in outcomes:
        assert outcome.response is not None
        if outcome.response.status_code == 503:
            assert_unavailable(outcome.response)
    slowest = max(outcome.finished - outcome.started for outcome in outcomes)
    assert slowest < 2.0, f"a request took {slowest:.2f} s"


def test_a_crash_under_load_gives_fast_503s_then_heals_and_loses_no_acknowledged_write(
    server: DisposableServer, live_server_factory: LiveServerFactory
) -> None:
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    stop = threading.Event()
    with (
        live_server_factory(fault_settings(server)) as live,
        httpx.Client(base_url=live.url, timeout=10) as probe,
    ):
        workers = [
            threading.Thread(target=run_load, args=(live.url, stop, outcomes, lock))
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        try:
            time.sleep(1.0)
            before_crash = readiness(probe)
            kill_started = time.monotonic()
            server.kill()
            killed = time.monotonic()
            time.sleep(0.5)
            during_outage = readiness(probe)
            live_during_outage = probe.get("/health/live")
            time.sleep(1.0)
            restart_started = time.monotonic()
            server.start()
            recovered = time.monotonic() + 3.0
            time.sleep(4.5)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
        after = readiness(probe)
        metrics = probe.get("/metrics").text

    assert_every_answer_is_fast_and_a_success_or_a_503(outcomes)

    before = [outcome for outcome in outcomes if outcome.finished < kill_started]
    outage = [o for o in outcomes if o.started > killed and o.finished < restart_started]
    healed = [outcome for outcome in outcomes if outcome.started > recovered]
    assert len(before) >= 10
    assert statuses(before) <= {200, 201}
    assert len(outage) >= 10
    assert statuses(outage) == {503}
    assert len(healed) >= 10
    assert statuses(healed) <= {200, 201}

    assert before_crash == (
        200,
        {"service:shutdown": "pass", "postgresql:connection": "pass", "postgresql:schema": "pass"},
    )
    assert during_outage == (
        503,
        {"service:shutdown": "pass", "postgresql:connection": "fail", "postgresql:schema": "pass"},
    )
    assert live_during_outage.status_code == 200
    assert after[0] == 200

    acknowledged = {
        outcome.name
        for outcome in outcomes
        if outcome.kind == "write" and outcome.response and outcome.response.status_code == 201
    }
    stored = set(
        query(
            server,
            "SELECT name FROM applications WHERE name = ANY(%(names)s)",
            {"names": list(acknowledged)},
        )
    )
    assert len(acknowledged) >= 10
    assert acknowledged - stored == set()
    assert 'config_service_db_errors_total{kind="connection"} 0.0' not in metrics


def test_a_service_started_while_the_database_is_down_becomes_ready_by_itself(
    server: DisposableServer,
) -> None:
    # The key is made while the database is up; the service checks it once it answers.
    key = create_api_key(fault_settings(server)).key
    server.stop()
    with (
        run_live_server(fault_settings(server), admin_key=key) as live,
        httpx.Client(base_url=live.url, timeout=10) as client,
    ):
        assert client.get("/health/live").status_code == 200
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.headers["content-type"] == HEALTH
        body = response.json()
        assert body["status"] == "fail"
        assert {name: checks[0].get("output") for name, checks in body["checks"].items()} == {
            "service:shutdown": None,
            "postgresql:connection": "the database does not answer",
            "postgresql:schema": "unknown: the database does not answer",
        }
        assert_unavailable(
            client.get("/api/v1/applications"),
            "the database is unreachable; retry after 2 s",
        )

        server.start()
        deadline = time.monotonic() + 10
        while client.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "not ready 10 s after the database came up"
            time.sleep(0.1)

        created = client.post("/api/v1/applications", json={"name": unique_name("late")})
        assert created.status_code == 201, created.text
        listed = client.get(f"/api/v1/applications/{created.json()['id']}")
        assert listed.status_code == 200, listed.text


def test_a_held_lock_fails_writes_within_the_lock_timeout_and_leaves_nothing_behind(
    server: DisposableServer, live_server_factory: LiveServerFactory
) -> None:
    with (
        live_server_factory(fault_settings(server)) as live,
        httpx.Client(base_url=live.url, timeout=10) as client,
    ):
        application = client.post("/api/v1/applications", json={"name": unique_name("locked")})
        assert application.status_code == 201, application.text
        application_id = application.json()["id"]
        body = {"application_id": application_id, "name": "production", "config": {"a": 1}}

        locker = connect(server.url(DATABASE_NAME))
        try:
            with locker.cursor() as cursor:
                cursor.execute("LOCK TABLE configurations IN EXCLUSIVE MODE")
            locker_pid = locker.info.backend_pid
            started = time.monotonic()
            response = client.post("/api/v1/configurations", json=body)
            elapsed = time.monotonic() - started
            stuck = query(
                server,
                "SELECT state FROM pg_stat_activity WHERE datname = %(database)s "
                "AND pid <> %(locker)s AND (state LIKE 'idle in transaction%%' "
                "OR wait_event_type = 'Lock')",
                {"database": DATABASE_NAME, "locker": locker_pid},
            )
        finally:
            locker.rollback()
            locker.close()

        assert_unavailable(
            response, "the data is locked by another operation; try again; retry after 1 s"
        )
        assert elapsed < 2.0, f"the locked write took {elapsed:.2f} s"
        assert stuck == []
        assert (
            query(
                server,
                "SELECT name FROM configurations WHERE application_id = %(id)s",
                {"id": application_id},
            )
            == []
        )

        retried = client.post("/api/v1/configurations", json=body)
        assert retried.status_code == 201, retried.text
        assert query(
            server,
            "SELECT name FROM configurations WHERE application_id = %(id)s",
            {"id": application_id},
        ) == ["production"]


def test_an_exhausted_pool_turns_the_excess_away_within_the_wait_and_recovers(
    server: DisposableServer, live_server_factory: LiveServerFactory
) -> None:
    settings = fault_settings(
        server,
        database_pool_max_size=2,
        database_pool_timeout_seconds=0.5,
        database_lock_timeout_ms=20_000,
    )
    names = [unique_name("busy") for _ in range(6)]
    responses: dict[str, tuple[httpx.Response, float]] = {}
    lock = threading.Lock()

    def create(url: str, name: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            started = time.monotonic()
            response = http.post("/api/v1/applications", json={"name": name})
            with lock:
                responses[name] = (response, time.monotonic() - started)

    with (
        live_server_factory(settings) as live,
        httpx.Client(base_url=live.url, timeout=10) as client,
    ):
        locker = connect(server.url(DATABASE_NAME))
        try:
            with locker.cursor() as cursor:
                cursor.execute("LOCK TABLE applications IN EXCLUSIVE MODE")
            threads = [threading.Thread(target=create, args=(live.url, name)) for name in names]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 15
            while len(responses) < 4:
                assert time.monotonic() < deadline, f"only {len(responses)} answers"
                time.sleep(0.05)
            ready_while_busy = client.get("/health/ready").status_code
        finally:
            locker.rollback()
            locker.close()
        for thread in threads:
            thread.join(timeout=30)

        turned_away = [name for name in names if responses[name][0].status_code == 503]
        created = [name for name in names if responses[name][0].status_code == 201]
        assert (len(turned_away), len(created)) == (4, 2)
        for name in turned_away:
            response, elapsed = responses[name]
            assert_unavailable(
                response, "no database connection became free within 0.5 seconds; retry after 1 s"
            )
            assert elapsed < 3.0, f"a turned-away request took {elapsed:.2f} s"
        assert ready_while_busy == 200

        assert readiness(client)[0] == 200
        after = client.post("/api/v1/applications", json={"name": unique_name("after")})
        assert after.status_code == 201, after.text
        usage = client.get("/metrics").text
        assert 'config_service_db_pool_connections{state="waiting"} 0.0' in usage
        assert 'config_service_db_pool_connections{state="in_use"} 0.0' in usage

    stored = query(
        server, "SELECT name FROM applications WHERE name = ANY(%(names)s)", {"names": names}
    )
    assert sorted(stored) == sorted(created)
