"""`python main.py serve` as a real process: JSON logs without secrets, graceful SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import make_settings
from database.pool import connect
from main import per_worker_settings
from testing.api_keys import create_api_key
from testing.service_process import CANARY_PASSWORD, GRACE_SECONDS, service_process


@pytest.fixture
def admin_key(database_url: str) -> str:
    """A real admin key, also the canary that must never appear in the log."""
    return create_api_key(make_settings(database_url)).key


# One process: uvicorn re-raises the signal once it has shut down gracefully, so the parent sees
# the usual "terminated by SIGTERM" status (143 in a shell). Several: the supervising parent
# exits 0 once every worker has shut down gracefully.
CLEAN_EXIT = {"1": -signal.SIGTERM, "2": 0}


@pytest.fixture(params=["1", "2"], ids=["one-process", "two-workers"])
def served(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    log_path = tmp_path / "service.log"
    with service_process(database_url, log_path, WORKERS=request.param) as (process, url):
        yield process, url, log_path


def lock_waiters(database_url: str) -> int:
    observer = connect(database_url)
    observer.autocommit = True
    try:
        with observer.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'config-service' AND wait_event_type = 'Lock'"
            )
            row = cursor.fetchone()
            assert row is not None
            count: int = row[0]
            return count
    finally:
        observer.close()


def test_sigterm_lets_the_in_flight_request_finish_then_exits_cleanly(
    served: tuple[subprocess.Popen[bytes], str, Path],
    database_url: str,
    admin_key: str,
    request: pytest.FixtureRequest,
) -> None:
    process, url, log_path = served
    name = f"sigterm-{time.time_ns()}"
    answers: list[httpx.Response] = []

    def slow_create() -> None:
        answers.append(
            httpx.post(
                url + "/api/v1/applications",
                json={"name": name},
                headers={"X-Request-ID": "in-flight-1", "Authorization": f"Bearer {admin_key}"},
                timeout=30,
            )
        )

    locker = connect(database_url)
    try:
        with locker.cursor() as cursor:
            cursor.execute("LOCK TABLE applications IN EXCLUSIVE MODE")
        creator = threading.Thread(target=slow_create)
        creator.start()
        deadline = time.monotonic() + 10
        while lock_waiters(database_url) == 0:
            assert time.monotonic() < deadline, "the request never reached the lock"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.5)
        still_running = process.poll() is None
    finally:
        locker.rollback()
        locker.close()
    creator.join(timeout=30)
    exit_code = process.wait(timeout=GRACE_SECONDS + 20)
    took = time.monotonic() - signalled

    assert still_running
    assert [answer.status_code for answer in answers] == [201]
    assert answers[0].json()["name"] == name
    assert exit_code == CLEAN_EXIT[request.node.callspec.params["served"]]
    assert took < GRACE_SECONDS + 5
    lines = log_path.read_text().splitlines()
    entries: list[dict[str, Any]] = [json.loads(line) for line in lines if line.strip()]
    access = [e for e in entries if e["logger"] == "config_service.access"]
    assert [
        (e["request_id"], e["method"], e["route"], e["status"])
        for e in access
        if e["request_id"] == "in-flight-1"
    ] == [("in-flight-1", "POST", "/api/v1/applications", 201)]
    assert "/health/live" not in {e["route"] for e in access}  # debug level: not at info
    messages = [entry["message"] for entry in entries]
    assert "Application shutdown complete." in messages
    assert messages.index("Application shutdown complete.") > messages.index(
        "Waiting for application shutdown."
    )
    text = log_path.read_text()
    assert CANARY_PASSWORD not in text
    assert admin_key not in text


def test_after_the_grace_a_request_waiting_on_a_lock_is_cut_off_with_a_503_problem(
    database_url: str, tmp_path: Path, admin_key: str
) -> None:
    thirty_seconds = "30000"  # far beyond the grace: only the cut-off can end the wait in time
    log_path = tmp_path / "service.log"
    with service_process(
        database_url,
        log_path,
        SHUTDOWN_GRACE_SECONDS="1.5",
        DATABASE_LOCK_TIMEOUT_MS=thirty_seconds,
        DATABASE_STATEMENT_TIMEOUT_MS=thirty_seconds,
    ) as (process, url):
        authorized = {"Authorization": f"Bearer {admin_key}"}
        created = httpx.post(
            url + "/api/v1/applications",
            json={"name": f"cut-{time.time_ns()}"},
            headers=authorized,
        )
        application_id = created.json()["id"]
        answers: list[httpx.Response] = []

        def blocked_update() -> None:
            answers.append(
                httpx.put(
                    f"{url}/api/v1/applications/{application_id}",
                    json={"comments": "never written"},
                    headers=authorized,
                    timeout=60,
                )
            )

        locker = connect(database_url)
        try:
            with locker.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM applications WHERE id = %(id)s FOR UPDATE",
                    {"id": application_id},
                )
            request = threading.Thread(target=blocked_update)
            request.start()
            deadline = time.monotonic() + 10
            while lock_waiters(database_url) == 0:
                assert time.monotonic() < deadline, "the request never reached the lock"
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            # Well below the 30 s lock timeout, so the lock did not end the wait.
            exit_code = process.wait(timeout=15)
            request.join(timeout=15)
        finally:
            locker.rollback()
            locker.close()

    assert exit_code == -signal.SIGTERM
    [answer] = answers
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "1"
    problem = answer.json()
    assert problem["type"] == "urn:config-service:problem:database-unavailable"
    assert problem["detail"] == (
        "the service is shutting down and cancelled this request's database work; retry after 1 s"
    )
    reader = connect(database_url)
    try:
        with reader.cursor() as cursor:
            cursor.execute(
                "SELECT comments FROM applications WHERE id = %(id)s", {"id": application_id}
            )
            assert cursor.fetchone() == (None,)
    finally:
        reader.close()
    messages = [json.loads(line)["message"] for line in log_path.read_text().splitlines() if line]
    assert "shutdown grace is over: cancelled the database work of 1 request(s)" in messages


def test_each_worker_gets_its_share_of_every_rate_budget(database_url: str) -> None:
    settings = make_settings(
        database_url,
        rate_limit_per_second=100.0,
        rate_limit_burst=200,
        rate_limit_address_per_second=50.0,
        rate_limit_address_burst=3,
        rate_limit_auth_failures_per_minute=10.0,
        rate_limit_auth_failures_burst=20,
    )

    shared = per_worker_settings(settings, 4)

    assert (
        shared.rate_limit_per_second,
        shared.rate_limit_burst,
        shared.rate_limit_address_per_second,
        shared.rate_limit_address_burst,
        shared.rate_limit_auth_failures_per_minute,
        shared.rate_limit_auth_failures_burst,
    ) == (25.0, 50, 12.5, 1, 2.5, 5)
    assert per_worker_settings(settings, 1) is settings
