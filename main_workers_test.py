"""`python main.py serve` with WORKERS=2, as a real process: what is per process stays right.

Which worker answers a request is the kernel's choice (both accept on one socket), so each test
sends many requests on fresh connections: what one worker alone would get right, the pair gets
wrong on some of them.
"""

from __future__ import annotations

import json
import os
import re
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
from models.api_key import Role
from testing.api_keys import create_api_key
from testing.service_process import GRACE_SECONDS, service_process

FRESH_CONNECTIONS = 24
SETTLE_SECONDS = 10  # an upper bound for a notification to reach the other worker
STARTED_WORKER = re.compile(r"started worker \d+ \(pid (\d+)\)")


class Served:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path

    def messages(self) -> list[str]:
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line)["message"] for line in lines if line.startswith("{")]

    def worker_pids(self) -> list[int]:
        return [
            int(found.group(1))
            for message in self.messages()
            if (found := STARTED_WORKER.fullmatch(message))
        ]


def fresh(method: str, url: str, key: str, **options: Any) -> httpx.Response:
    """One request on a connection of its own, so that either worker may accept it."""
    headers = {"Authorization": f"Bearer {key}", **options.pop("headers", {})}
    return httpx.request(method, url, headers=headers, timeout=30, **options)


def eventually(check: Any, what: str) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def admin_key(database_url: str) -> str:
    return create_api_key(make_settings(database_url)).key


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[Served]:
    with service_process(
        database_url,
        tmp_path / "service.log",
        WORKERS="2",
        # Only the notification can make a worker forget a key within the test.
        API_KEY_CACHE_SECONDS="3600",
        EVENTS_HEARTBEAT_SECONDS="0.5",
        RATE_LIMIT_PER_SECOND="0",
        RATE_LIMIT_ADDRESS_PER_SECOND="0",
        RATE_LIMIT_AUTH_FAILURES_PER_MINUTE="0",
    ) as (process, url):
        served = Served(process, url, tmp_path / "service.log")
        eventually(lambda: len(served.worker_pids()) == 2, "two workers never started")
        yield served


def new_configuration(url: str, key: str) -> dict[str, Any]:
    application = fresh("POST", url + "/api/v1/applications", key, json={"name": new_name()})
    assert application.status_code == 201, application.text
    created = fresh(
        "POST",
        url + "/api/v1/configurations",
        key,
        json={"application_id": application.json()["id"], "name": "prod", "config": {"v": 1}},
    )
    assert created.status_code == 201, created.text
    configuration: dict[str, Any] = created.json()
    configuration["application_name"] = application.json()["name"]
    return configuration


def new_name() -> str:
    return f"workers-{time.time_ns()}"


def test_a_write_on_one_worker_is_read_at_its_revision_by_every_worker_at_once(
    two_workers: Served, admin_key: str
) -> None:
    url = two_workers.url
    configuration = new_configuration(url, admin_key)
    values = f"{url}/api/v1/values/{configuration['application_name']}/prod"
    fresh("GET", values, admin_key)  # cached by whichever worker answers
    for revision in range(2, 8):
        written = fresh(
            "PUT",
            f"{url}/api/v1/configurations/{configuration['id']}",
            admin_key,
            json={"config": {"v": revision}},
        )
        assert written.json()["revision"] == revision
        # What the README promises a client that must see its write: ask for its revision.
        for _ in range(4):
            exact = fresh("GET", values, admin_key, params={"revision": revision})
            assert (exact.status_code, exact.json()) == (200, {"v": revision})
        # A plain read may trail by the notification's delay, never more.
        eventually(
            lambda revision=revision: all(
                fresh("GET", values, admin_key).headers["config-revision"] == str(revision)
                for _ in range(4)
            ),
            f"revision {revision} never reached every worker",
        )


def test_long_polls_and_streams_wake_on_whichever_worker_holds_them(
    two_workers: Served, admin_key: str
) -> None:
    url = two_workers.url
    configuration = new_configuration(url, admin_key)
    path = f"{url}/api/v1/configurations/{configuration['id']}"
    answers: list[int] = []
    streamed: list[str] = []

    def long_poll() -> None:
        answer = fresh(
            "GET", path, admin_key, headers={"If-None-Match": '"1"', "Prefer": "wait=30"}
        )
        answers.append(answer.json()["revision"] if answer.status_code == 200 else -1)

    def stream() -> None:
        events_url = f"{url}/api/v1/applications/{configuration['application_id']}/events"
        headers = {"Authorization": f"Bearer {admin_key}"}
        with httpx.stream("GET", events_url, headers=headers, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("event: "):
                    streamed.append(line)
                    return

    waiters = [threading.Thread(target=long_poll, daemon=True) for _ in range(8)]
    waiters += [threading.Thread(target=stream, daemon=True) for _ in range(4)]
    for waiter in waiters:
        waiter.start()
    time.sleep(1)  # every request is waiting (a late one would answer 200 at once: the same)
    written = fresh("PUT", path, admin_key, json={"config": {"v": 2}})
    assert written.status_code == 200, written.text
    for waiter in waiters:
        waiter.join(timeout=30)

    assert answers == [2] * 8
    assert streamed == ["event: updated"] * 4


def test_a_revoked_key_is_refused_by_every_worker_and_its_streams_end(
    two_workers: Served, admin_key: str, database_url: str
) -> None:
    url = two_workers.url
    created = create_api_key(make_settings(database_url), role=Role.READ, name="revoked")
    reader = created.key
    for _ in range(FRESH_CONNECTIONS):  # both workers now hold it for API_KEY_CACHE_SECONDS
        assert fresh("GET", url + "/api/v1/applications", reader).status_code == 200
    ended: list[bool] = []

    def stream() -> None:
        headers = {"Authorization": f"Bearer {reader}"}
        with httpx.stream("GET", url + "/api/v1/events", headers=headers, timeout=30) as events:
            assert events.status_code == 200
            for _ in events.iter_lines():
                pass
        ended.append(True)

    streams = [threading.Thread(target=stream, daemon=True) for _ in range(4)]
    for thread in streams:
        thread.start()
    time.sleep(1)
    answer = fresh("POST", f"{url}/api/v1/keys/{created.id}/revoke", admin_key)
    assert answer.status_code == 200, answer.text

    eventually(
        lambda: all(
            fresh("GET", url + "/api/v1/applications", reader).status_code == 401
            for _ in range(FRESH_CONNECTIONS)
        ),
        "a worker kept accepting the revoked key",
    )
    for thread in streams:
        thread.join(timeout=SETTLE_SECONDS)
    assert ended == [True] * 4


def test_metrics_report_the_whole_instance_whichever_worker_answers(
    two_workers: Served, admin_key: str
) -> None:
    url = two_workers.url

    def health_checks_counted() -> float:
        text = fresh("GET", url + "/metrics", admin_key).text
        pattern = re.compile(
            r'^config_service_http_requests_total\{method="GET",route="/health/live",'
            r'status_class="2xx"\} (\S+)$',
            re.MULTILINE,
        )
        found = pattern.search(text)
        assert found is not None, text
        return float(found.group(1))

    before = health_checks_counted()
    for _ in range(FRESH_CONNECTIONS):
        assert httpx.get(url + "/health/live").status_code == 200

    assert [health_checks_counted() for _ in range(8)] == [before + FRESH_CONNECTIONS] * 8


def test_a_worker_that_dies_is_started_again(two_workers: Served, admin_key: str) -> None:
    first, second = two_workers.worker_pids()
    os.kill(first, signal.SIGKILL)

    eventually(lambda: len(two_workers.worker_pids()) == 3, "the dead worker was not replaced")
    replacement = two_workers.worker_pids()[2]
    assert replacement not in (first, second)
    for _ in range(FRESH_CONNECTIONS):
        assert fresh("GET", two_workers.url + "/api/v1/applications", admin_key).status_code == 200


def test_workers_whose_parent_is_killed_outright_drain_and_exit(two_workers: Served) -> None:
    workers = two_workers.worker_pids()
    two_workers.process.kill()
    two_workers.process.wait(timeout=10)

    def gone(pid: int) -> bool:
        """Exited: no such process, or one that only waits to be reaped by its new parent."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        return stat.rsplit(")", 1)[1].split()[0] == "Z"

    eventually(lambda: all(gone(pid) for pid in workers), "an orphaned worker kept running")
    messages = two_workers.messages()
    assert messages.count("Application shutdown complete.") == 2, messages


def test_sigterm_ends_every_open_stream_and_long_poll_and_every_worker_within_the_grace(
    two_workers: Served, admin_key: str
) -> None:
    url = two_workers.url
    configuration = new_configuration(url, admin_key)
    path = f"{url}/api/v1/configurations/{configuration['id']}"
    ended: list[str] = []

    def long_poll() -> None:
        fresh("GET", path, admin_key, headers={"If-None-Match": '"1"', "Prefer": "wait=60"})
        ended.append("long poll")

    def stream() -> None:
        headers = {"Authorization": f"Bearer {admin_key}"}
        with httpx.stream("GET", url + "/api/v1/events", headers=headers, timeout=60) as events:
            for _ in events.iter_lines():
                pass
        ended.append("stream")

    waiters = [threading.Thread(target=long_poll, daemon=True) for _ in range(4)]
    waiters += [threading.Thread(target=stream, daemon=True) for _ in range(4)]
    for waiter in waiters:
        waiter.start()
    time.sleep(1)
    workers = two_workers.worker_pids()
    two_workers.process.send_signal(signal.SIGTERM)
    exit_code = two_workers.process.wait(timeout=GRACE_SECONDS + 20)
    for waiter in waiters:
        waiter.join(timeout=10)

    assert exit_code == 0
    assert sorted(ended) == ["long poll"] * 4 + ["stream"] * 4
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    messages = two_workers.messages()
    assert messages.count("Application shutdown complete.") == 2
    assert not any("killed" in message for message in messages)


def test_rate_limits_split_the_budget_between_workers(
    database_url: str, tmp_path: Path, admin_key: str
) -> None:
    with service_process(
        database_url,
        tmp_path / "service.log",
        WORKERS="2",
        RATE_LIMIT_PER_SECOND="0.001",  # nothing comes back within the test
        RATE_LIMIT_BURST="4",
        RATE_LIMIT_ADDRESS_PER_SECOND="0",
    ) as (_, url):
        statuses = [
            fresh("GET", url + "/api/v1/applications", admin_key).status_code
            for _ in range(FRESH_CONNECTIONS)
        ]

    allowed = statuses.count(200)
    # Each worker allows 2 at once: the instance never more than the budget of 4; less when
    # the connections all reached one worker.
    assert 2 <= allowed <= 4, statuses
    assert statuses.count(429) == FRESH_CONNECTIONS - allowed


def test_sigint_then_sigterm_again_drains_every_worker_once_and_exits_cleanly(
    two_workers: Served,
) -> None:
    """Ctrl-C reaches the parent (and, from a terminal, the workers too), and an impatient
    operator's second signal must neither cut the workers off nor leave one behind."""
    workers = two_workers.worker_pids()
    two_workers.process.send_signal(signal.SIGINT)
    for pid in workers:  # as a terminal's Ctrl-C does: the whole process group
        os.kill(pid, signal.SIGINT)
    two_workers.process.send_signal(signal.SIGTERM)

    assert two_workers.process.wait(timeout=60) == 0
    messages = two_workers.messages()
    assert messages.count("Application shutdown complete.") == 2, messages
    assert not [message for message in messages if "killed" in message], messages
    assert not [p for p in workers if Path(f"/proc/{p}").exists()], messages
