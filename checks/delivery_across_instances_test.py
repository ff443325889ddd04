"""Two real instances on one PostgreSQL: a write through A reaches a waiter, a stream and the
cache of B, also when B's listening connection is killed and a write lands while it is gone."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg2
import pytest

from api.app_state import delivery_of as delivery_of_app
from api.v1.events_test import open_stream
from api.v1.values_test import values_path
from conftest import LiveServer, LiveServerFactory, make_settings
from database.listen_connection import ListenConnection
from delivery.change_listener import LISTENER_APPLICATION_NAME
from delivery.runtime import Delivery
from testing.seeding import create_application, create_configuration, put_config

GENEROUS_SECONDS = 20.0


@pytest.fixture
def instances(
    database_url: str, live_server_factory: LiveServerFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    settings = make_settings(database_url)
    with live_server_factory(settings) as first, live_server_factory(settings) as second:
        yield first, second


class LongPoll(threading.Thread):
    """A waiting client in the background; `response` once it is answered."""

    def __init__(self, base_url: str, path: str, etag: str) -> None:
        super().__init__()
        self._request = (base_url, path, etag)
        self.response: httpx.Response | None = None

    def run(self) -> None:
        base_url, path, etag = self._request
        with httpx.Client(base_url=base_url, timeout=60) as http:
            self.response = http.get(path, headers={"If-None-Match": etag, "Prefer": "wait=45"})


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + GENEROUS_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.01)


def delivery_of(server: LiveServer) -> Delivery:
    return delivery_of_app(server.app)


def start_waiter(server: LiveServer, path: str, etag: str) -> LongPoll:
    delivery = delivery_of(server)
    before = delivery.feed.waiting
    poll = LongPoll(server.url, path, etag)
    poll.start()
    wait_until(lambda: delivery.feed.waiting > before, "the long poll waits")
    return poll


def cached_on_b(
    on_a: httpx.Client, on_b: httpx.Client
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A configuration made through A, read (and so cached) through B at revision 1: its
    application, itself, and its values path."""
    application = create_application(on_a)
    configuration = create_configuration(on_a, application["id"], "prod", {"v": 1})
    path = values_path(application["name"], "prod")
    assert on_b.get(path).json() == {"v": 1}
    return application, configuration, path


def test_a_write_through_one_instance_reaches_the_other(
    instances: tuple[LiveServer, LiveServer],
) -> None:
    a, b = instances
    with (
        httpx.Client(base_url=a.url, timeout=20) as on_a,
        httpx.Client(base_url=b.url, timeout=20) as on_b,
    ):
        application, configuration, path = cached_on_b(on_a, on_b)
        waiter = start_waiter(b, path, '"1"')
        with open_stream(b.url, f"/api/v1/applications/{application['id']}/events") as stream:
            put_config(on_a, configuration["id"], {"v": 2})
            event = stream.next()
            waiter.join()
            cached = on_b.get(path)

    assert (event.event, event.data["revision"]) == ("updated", 2)
    assert waiter.response is not None
    assert (waiter.response.status_code, waiter.response.json()) == (200, {"v": 2})
    assert (cached.status_code, cached.json(), cached.headers["etag"]) == (200, {"v": 2}, '"2"')
    in_memory = delivery_of(b).cache.get_by_name(application["name"], "prod")
    assert in_memory is not None
    assert (in_memory.revision, in_memory.document_body) == (2, b'{"v":2}')


def terminate(database_url: str, backend_pid: int) -> None:
    with psycopg2.connect(database_url) as admin, admin.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid = %(pid)s AND application_name = %(name)s",
            {"pid": backend_pid, "name": LISTENER_APPLICATION_NAME},
        )
        assert cursor.fetchone() == (True,)
    admin.close()


def test_the_other_instance_recovers_from_losing_its_listener_without_missing_a_change(
    instances: tuple[LiveServer, LiveServer], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = instances
    listener = delivery_of(b).listener
    assert listener is not None
    delivery = delivery_of(b)
    # Hold B's reconnection until the test lets it go, so the write below surely lands while
    # B is not listening (its notification is lost to B and only the change log has it).
    reconnect = threading.Event()
    connect = listener._connect

    async def held_connect() -> ListenConnection:
        await asyncio.to_thread(reconnect.wait, GENEROUS_SECONDS)
        return await connect()

    with (
        httpx.Client(base_url=a.url, timeout=20) as on_a,
        httpx.Client(base_url=b.url, timeout=20) as on_b,
    ):
        application, configuration, path = cached_on_b(on_a, on_b)
        wait_until(lambda: delivery.feed.trusted, "B listens")
        waiter = start_waiter(b, path, '"1"')
        with open_stream(b.url, f"/api/v1/applications/{application['id']}/events") as stream:
            monkeypatch.setattr(listener, "_connect", held_connect)
            assert listener.backend_pid is not None
            terminate(database_url, listener.backend_pid)
            wait_until(lambda: not delivery.feed.trusted, "B notices the loss")

            put_config(on_a, configuration["id"], {"v": 2})  # B hears nothing of this
            during = on_b.get(path)  # B reads PostgreSQL while it cannot trust its cache
            assert waiter.is_alive()

            reconnect.set()
            event = stream.next()
            waiter.join()

    assert (during.status_code, during.json()) == (200, {"v": 2})
    assert (event.event, event.data["revision"]) == ("updated", 2)
    assert waiter.response is not None
    assert (waiter.response.status_code, waiter.response.json()) == (200, {"v": 2})
    assert delivery.feed.trusted
    assert listener.reconnects >= 1
