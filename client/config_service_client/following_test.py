"""Watching against the real service: across instances, across a server killed and started
again (every revision exactly once), a whole application, and long polling where a proxy
breaks streams."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.settings import PROJECT_ROOT
from config_service_client import Client, Deleted, Document
from config_service_client.conftest import put, seed
from config_service_client.following import Transport
from conftest import LiveServer, LiveServerFactory, make_settings
from testing.api_keys import create_api_key
from testing.ports import free_port

GENEROUS_SECONDS = 30.0
# Servers that send heartbeats often and hold long polls briefly, so that a watch stopped by
# closing its client ends at once (a blocking read ends when something arrives).
QUICK: dict[str, object] = {"events_heartbeat_seconds": 0.2, "long_poll_max_seconds": 1}


@pytest.fixture(scope="module")
def quick_server(database_url: str, live_server_factory: LiveServerFactory) -> Iterator[LiveServer]:
    with live_server_factory(make_settings(database_url, **QUICK)) as server:
        yield server


@pytest.fixture
def quick_admin(quick_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=quick_server.url, timeout=30) as http:
        yield http


class Watcher(threading.Thread):
    """A watch running in the background; what it yields collects in `items`."""

    def __init__(
        self,
        client: Client,
        application: str,
        name: str | None = None,
        transport: Transport = "auto",
    ) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.watched = (application, name, transport)
        self.items: list[Document | Deleted] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        application, name, transport = self.watched
        try:
            if name is None:
                watch: Iterator[Any] = self.client.watch_application(
                    application, transport=transport
                )
            else:
                watch = self.client.watch(application, name, transport=transport)
            for item in watch:
                self.items.append(item)
        except BaseException as error:
            self.error = error

    def wait_for(self, count: int) -> list[Document | Deleted]:
        deadline = time.monotonic() + GENEROUS_SECONDS
        while len(self.items) < count:
            assert self.error is None, repr(self.error)
            assert time.monotonic() < deadline, f"gave up waiting: {self.items}"
            time.sleep(0.01)
        return list(self.items)

    def documents(self, count: int) -> list[tuple[int, Any]]:
        return [
            (item.revision, item.value)
            for item in self.wait_for(count)
            if isinstance(item, Document)
        ]

    def stop(self) -> None:
        self.client.close()  # the watch fails on its next request and ends
        self.join(timeout=GENEROUS_SECONDS)


@contextmanager
def watching(
    url: str, key: str, application: str, name: str | None = None, **options: Any
) -> Iterator[Watcher]:
    watcher = Watcher(Client(url, token=key), application, name, **options)
    watcher.start()
    try:
        watcher.wait_for(1)  # the first document: later writes are changes to it
        yield watcher
    finally:
        watcher.stop()


def test_a_change_on_one_instance_reaches_a_watcher_on_another(
    database_url: str, live_server_factory: LiveServerFactory
) -> None:
    settings = make_settings(database_url, **QUICK)
    with (
        live_server_factory(settings) as a,
        live_server_factory(settings) as b,
        httpx.Client(base_url=a.url, timeout=30) as admin,
    ):
        seeded = seed(admin, {"v": 1})
        assert b.admin_key is not None
        with watching(b.url, b.admin_key, seeded.application, "production") as watcher:
            put(admin, seeded, {"v": 2})
            watcher.wait_for(2)  # it has read or been told of revision 2: it listens
            put(admin, seeded, {"v": 3})
            put(admin, seeded, {"v": 4})
            seen = watcher.documents(4)
            time.sleep(0.3)  # anything repeated would arrive now
            assert len(watcher.items) == 4
    assert seen == [(1, {"v": 1}), (2, {"v": 2}), (3, {"v": 3}), (4, {"v": 4})]


@contextmanager
def served(database_url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python main.py serve` on `port`, as a process of its own (so it can be killed)."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        "RATE_LIMIT_PER_SECOND": "0",
        "RATE_LIMIT_ADDRESS_PER_SECOND": "0",
        "RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "0",
        # One process, so that killing it stops the service at once (several workers whose
        # parent is killed outright drain by themselves, which takes a moment).
        "WORKERS": "1",
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "main.py", "serve"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + GENEROUS_SECONDS
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the service did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).is_success:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=GENEROUS_SECONDS)


def test_a_watch_across_a_killed_and_restarted_server_sees_every_revision_exactly_once(
    database_url: str, live_server_factory: LiveServerFactory, tmp_path: Path
) -> None:
    port = free_port()
    key = create_api_key(make_settings(database_url), name="watcher").key
    log = tmp_path / "service.log"
    with (
        live_server_factory(make_settings(database_url)) as other,
        httpx.Client(base_url=other.url, timeout=30) as admin,
    ):
        seeded = seed(admin, {"v": 1})
        with (
            served(database_url, port, log) as first,
            watching(f"http://127.0.0.1:{port}", key, seeded.application, "production") as watcher,
        ):
            put(admin, seeded, {"v": 2})
            watcher.wait_for(2)
            put(admin, seeded, {"v": 3})
            watcher.wait_for(3)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=GENEROUS_SECONDS)
            # Written while the watcher's server is dead, through another instance.
            put(admin, seeded, {"v": 4})
            put(admin, seeded, {"v": 5})
            with served(database_url, port, log):
                watcher.wait_for(5)
                put(admin, seeded, {"v": 6})
                seen = watcher.documents(6)
                time.sleep(0.3)
                assert len(watcher.items) == 6
    assert seen == [(revision, {"v": revision}) for revision in range(1, 7)]


def test_a_whole_application_is_watched_with_its_deletions(
    quick_server: LiveServer, quick_admin: httpx.Client
) -> None:
    admin = quick_admin
    seeded = seed(admin, {"v": 1})
    assert quick_server.admin_key is not None
    with watching(quick_server.url, quick_server.admin_key, seeded.application) as watcher:
        put(admin, seeded, {"v": 2})
        watcher.wait_for(2)
        created = admin.post(
            "/api/v1/configurations",
            json={"application_id": seeded.application_id, "name": "staging", "config": {}},
        )
        assert created.status_code == 201
        watcher.wait_for(3)  # one created and deleted before the watch reads it is not told
        admin.delete(f"/api/v1/configurations/{created.json()['id']}")
        watcher.wait_for(4)
        put(admin, seeded, {"v": 3})
        seen = watcher.wait_for(5)
    assert [
        (item.name, item.revision, item.value) if isinstance(item, Document) else item
        for item in seen
    ] == [
        ("production", 1, {"v": 1}),
        ("production", 2, {"v": 2}),
        ("staging", 1, {}),
        Deleted(seeded.application, "staging"),
        ("production", 3, {"v": 3}),
    ]


class StreamBreakingProxy(httpx.BaseTransport):
    """What a proxy that buffers event streams looks like to a client: every request goes
    through to the real service, but an event stream comes back as a page."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.streams_refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            self.streams_refused += 1
            return httpx.Response(200, headers={"content-type": "text/html"}, content=b"<p>")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_where_a_proxy_breaks_streams_the_watch_long_polls(
    quick_server: LiveServer, quick_admin: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    admin = quick_admin
    seeded = seed(admin, {"v": 1})
    proxy = StreamBreakingProxy()
    client = Client(quick_server.url, token=quick_server.admin_key, transport=proxy)
    watcher = Watcher(client, seeded.application, "production")
    with caplog.at_level(logging.WARNING, logger="config_service_client"):
        watcher.start()
        try:
            watcher.wait_for(1)
            for revision in (2, 3):
                put(admin, seeded, {"v": revision})
                watcher.wait_for(revision)
        finally:
            watcher.stop()
    assert watcher.documents(3) == [(1, {"v": 1}), (2, {"v": 2}), (3, {"v": 3})]
    assert proxy.streams_refused == 2
    assert (
        f"the event stream of {seeded.application} does not come through (a proxy that buffers "
        "or cuts streams?): following it by long polling instead"
    ) in caplog.text


def test_long_polling_when_asked_for_follows_deletion_and_return(
    quick_server: LiveServer, quick_admin: httpx.Client
) -> None:
    admin = quick_admin
    seeded = seed(admin, {"v": 1})
    assert quick_server.admin_key is not None
    with watching(
        quick_server.url,
        quick_server.admin_key,
        seeded.application,
        "production",
        transport="long-poll",
    ) as watcher:
        put(admin, seeded, {"v": 2})
        watcher.wait_for(2)
        assert admin.delete(f"/api/v1/configurations/{seeded.configuration_id}").status_code == 204
        again = seed_again(admin, seeded.application_id)
        seen = watcher.documents(3)
    assert seen == [(1, {"v": 1}), (2, {"v": 2}), (1, again)]


def seed_again(admin: httpx.Client, application_id: str) -> dict[str, Any]:
    value = {"recreated": True}
    response = admin.post(
        "/api/v1/configurations",
        json={"application_id": application_id, "name": "production", "config": value},
    )
    assert response.status_code == 201
    return value


def test_an_application_watch_started_on_the_cache_repeats_nothing_once_connected(
    database_url: str, live_server_factory: LiveServerFactory, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    key = create_api_key(make_settings(database_url), name="application watcher").key
    cache = tmp_path / "cache"
    log = tmp_path / "service.log"
    with (
        live_server_factory(make_settings(database_url)) as other,
        httpx.Client(base_url=other.url, timeout=30) as admin,
    ):
        seeded = seed(admin, {"v": 1})
        second = admin.post(
            "/api/v1/configurations",
            json={"application_id": seeded.application_id, "name": "staging", "config": {}},
        )
        assert second.status_code == 201
        with served(database_url, port, log):
            watcher = Watcher(Client(url, token=key, cache_dir=cache), seeded.application)
            watcher.start()
            watcher.wait_for(2)
            watcher.stop()
        # The service is down: the watch starts on the cache, then connects and goes on.
        watcher = Watcher(Client(url, token=key, cache_dir=cache), seeded.application)
        watcher.start()
        try:
            started = watcher.wait_for(2)
            with served(database_url, port, log):
                put(admin, seeded, {"v": 2})
                seen = watcher.wait_for(3)
                time.sleep(0.3)
                assert len(watcher.items) == 3
        finally:
            watcher.stop()
    assert [
        (item.name, item.revision, item.stale) for item in started if isinstance(item, Document)
    ] == [
        ("production", 1, True),
        ("staging", 1, True),
    ]
    last = seen[2]
    assert isinstance(last, Document)
    assert (last.name, last.revision, last.value, last.stale) == ("production", 2, {"v": 2}, False)


@pytest.mark.parametrize("whole_application", [False, True])
def test_a_watch_that_saw_no_event_yet_misses_nothing_across_a_restart(
    database_url: str,
    live_server_factory: LiveServerFactory,
    tmp_path: Path,
    whole_application: bool,
) -> None:
    """Before its first event a watch has no position to resume from: what changed while it
    reconnected is found by reading the current document again, not lost (with several
    changes, only the last: there is no position to replay them from)."""
    port = free_port()
    key = create_api_key(make_settings(database_url), name="first-event watcher").key
    log = tmp_path / "service.log"
    with (
        live_server_factory(make_settings(database_url)) as other,
        httpx.Client(base_url=other.url, timeout=30) as admin,
    ):
        seeded = seed(admin, {"v": 1})
        name = None if whole_application else "production"
        with (
            served(database_url, port, log) as first,
            watching(f"http://127.0.0.1:{port}", key, seeded.application, name) as watcher,
        ):
            time.sleep(0.5)  # the watch is subscribed and has read the current state
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=GENEROUS_SECONDS)
            put(admin, seeded, {"v": 2})  # while the watcher's server is dead
            with served(database_url, port, log):
                seen = watcher.documents(2)
                time.sleep(0.3)
                assert len(watcher.items) == 2
    assert seen == [(1, {"v": 1}), (2, {"v": 2})]


def test_a_configuration_renamed_away_then_created_again_is_followed_from_revision_1(
    quick_server: LiveServer, quick_admin: httpx.Client
) -> None:
    """The watch has seen no event of its configuration yet (so knows no id of it) when it is
    renamed away: the new configuration of that name is still followed from its revision 1."""
    admin = quick_admin
    seeded = seed(admin, {"v": 1})
    put(admin, seeded, {"v": 2})
    assert quick_server.admin_key is not None
    with watching(
        quick_server.url, quick_server.admin_key, seeded.application, "production"
    ) as watcher:
        time.sleep(0.5)  # the watch is subscribed
        other = admin.post(
            "/api/v1/configurations",
            json={"application_id": seeded.application_id, "name": "staging", "config": {}},
        )
        assert other.status_code == 201
        for value in ({"s": 2}, {"s": 3}):  # another configuration's changes: not ours
            changed = admin.put(
                f"/api/v1/configurations/{other.json()['id']}", json={"config": value}
            )
            assert changed.status_code == 200
        renamed = admin.patch(
            f"/api/v1/configurations/{seeded.configuration_id}",
            content=b'{"name": "retired"}',
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert renamed.status_code == 200, renamed.text
        again = seed_again(admin, seeded.application_id)
        seen = watcher.documents(2)
        time.sleep(0.3)
        assert len(watcher.items) == 2
    assert seen == [(2, {"v": 2}), (1, again)]
