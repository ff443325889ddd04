"""429 and 503 against the real service: a read serves the last good document or raises with
the retry time; a watch pauses at least `Retry-After`, then carries on."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from checks.database_faults_test import (  # a PostgreSQL of its own, which the test stops
    DATABASE_NAME,
    private_server,  # noqa: F401 (a fixture)
    server,  # noqa: F401 (a fixture)
)
from config_service_client import Client, Document, RateLimited, ServiceUnavailable
from config_service_client.conftest import put, seed
from config_service_client.following_test import GENEROUS_SECONDS, QUICK, Watcher
from conftest import LiveServer, LiveServerFactory, make_settings
from testing.api_keys import create_api_key
from testing.disposable_server import DisposableServer
from testing.live_server import run_live_server

PAUSE = re.compile(r"the service asks to retry after (\d+) s: pausing ([0-9.]+) s")


def pauses(caplog: pytest.LogCaptureFixture) -> list[tuple[float, float]]:
    return [
        (float(found[1]), float(found[2]))
        for record in caplog.records
        if (found := PAUSE.fullmatch(record.getMessage()))
    ]


def wait_for_a_pause(watcher: Watcher, caplog: pytest.LogCaptureFixture) -> None:
    deadline = time.monotonic() + GENEROUS_SECONDS
    while not pauses(caplog):
        assert watcher.error is None, repr(watcher.error)
        assert time.monotonic() < deadline, "the watch never paused for Retry-After"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def limited_server(
    database_url: str, live_server_factory: LiveServerFactory
) -> Iterator[LiveServer]:
    # Each key may make 2 requests at once, then 1 a second: Retry-After is 1.
    settings = make_settings(database_url, rate_limit_per_second=1, rate_limit_burst=2, **QUICK)
    with live_server_factory(settings) as limited:
        yield limited


def test_a_rate_limited_read_serves_the_last_good_document_or_says_when_to_retry(
    limited_server: LiveServer,
    admin: httpx.Client,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seeded = seed(admin, {"v": 1})  # through an instance without limits, as are the writes
    key = create_api_key(make_settings(database_url), name="limited").key
    with caplog.at_level(logging.WARNING, logger="config_service_client"):
        with Client(limited_server.url, token=key, cache_dir=tmp_path) as client:
            fresh = client.get(seeded.application, "production")
            client.get(seeded.application, "production")
            stale = client.get(seeded.application, "production")
        with Client(limited_server.url, token=key) as client, pytest.raises(RateLimited) as limited:
            client.get(seeded.application, "production")
    assert (fresh.stale, stale.stale, stale.revision, stale.value) == (False, True, 1, {"v": 1})
    assert "the service did not answer (RateLimited: 429 Too many requests: " in caplog.text
    assert (limited.value.status, limited.value.retry_after) == (429, 1.0)
    assert "retry after 1 s" in limited.value.detail


def test_a_rate_limited_watch_pauses_at_least_retry_after_then_carries_on(
    limited_server: LiveServer,
    admin: httpx.Client,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seeded = seed(admin, {"v": 1})
    key = create_api_key(make_settings(database_url), name="limited watcher").key
    watcher = Watcher(Client(limited_server.url, token=key), seeded.application, "production")
    with caplog.at_level(logging.WARNING, logger="config_service_client"):
        watcher.start()
        try:
            watcher.wait_for(1)
            wait_for_a_pause(watcher, caplog)  # its third request is over the budget of 2
            put(admin, seeded, {"v": 2})
            seen = watcher.documents(2)
        finally:
            watcher.stop()
    assert seen == [(1, {"v": 1}), (2, {"v": 2})]
    found = pauses(caplog)
    assert all(retry_after == 1.0 and pause >= retry_after for retry_after, pause in found)


def test_while_the_database_is_down_reads_get_503_and_a_watch_waits_then_carries_on(
    server: DisposableServer,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(server.url(DATABASE_NAME), database_connect_timeout_seconds=2, **QUICK)
    key = create_api_key(settings).key
    with (
        run_live_server(settings, admin_key=key) as service,
        httpx.Client(base_url=service.url, timeout=30) as admin,
    ):
        seeded = seed(admin, {"v": 1})
        with Client(service.url, token=key, cache_dir=tmp_path) as client:
            client.get(seeded.application, "production")
        server.stop()
        watcher = Watcher(
            Client(service.url, token=key, cache_dir=tmp_path), seeded.application, "production"
        )
        try:
            with (
                Client(service.url, token=key) as client,
                pytest.raises(ServiceUnavailable) as unavailable,
            ):
                client.get(seeded.application, "production")
            with caplog.at_level(logging.WARNING, logger="config_service_client"):
                watcher.start()
                first = watcher.wait_for(1)[0]
                wait_for_a_pause(watcher, caplog)
            server.start()
            put(admin, seeded, {"v": 2})
            seen = watcher.wait_for(2)
        finally:
            watcher.stop()
    assert (unavailable.value.status, unavailable.value.retry_after) == (503, 2.0)
    assert [(item.revision, item.stale) for item in seen if isinstance(item, Document)] == [
        (1, True),
        (2, False),
    ]
    assert isinstance(first, Document)
    assert first.value == {"v": 1}
    assert all(pause >= retry_after for retry_after, pause in pauses(caplog))
