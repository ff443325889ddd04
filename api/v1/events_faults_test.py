"""Event streams against a PostgreSQL that is down: a resumed stream is a 503 problem before
it starts, and a stream whose replay fails midway ends cleanly (the client resumes).

These run on a private server (testing/disposable_server.py) that they stop.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from api.v1.applications_test import assert_problem
from checks.database_faults_test import (  # the private server and its settings
    DATABASE_NAME,
    fault_settings,
    private_server,  # noqa: F401 (a fixture)
    server,  # noqa: F401 (a fixture)
)
from conftest import LiveServerFactory
from database.pool import Database
from delivery import streams
from delivery.change_feed import ChangeFeed
from delivery.response_cache import ResponseCache
from delivery.runtime import Delivery
from delivery.streams import Replay, Resume
from repositories.unit_of_work import unit_of_work_factory
from services.delivery_service import DeliveryService
from testing.disposable_server import DisposableServer

UNAVAILABLE = "urn:config-service:problem:database-unavailable"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/events?after=0", {}),
        ("/api/v1/events", {"Last-Event-ID": "0"}),
        ("/api/v1/applications/01JQ3V6KX8Q7M4Z2W9R5T1N0BC/events?after=0", {}),
    ],
)
def test_a_resumed_stream_is_a_503_problem_when_the_database_is_down(
    server: DisposableServer,  # noqa: F811
    live_server_factory: LiveServerFactory,
    path: str,
    headers: dict[str, str],
) -> None:
    with (
        live_server_factory(fault_settings(server)) as live,
        httpx.Client(base_url=live.url, timeout=20) as http,
    ):
        # Authenticated once while the database is up, so the key is known from memory and
        # the 503 below comes from the stream's own read.
        assert http.get("/api/v1/applications?limit=1").status_code == 200
        server.stop()
        response = http.get(path, headers=headers)

    problem = assert_problem(response, 503)
    assert problem["type"] == UNAVAILABLE
    assert int(response.headers["retry-after"]) >= 1


def test_a_replay_that_fails_midway_ends_the_stream_with_a_warning(
    server: DisposableServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = fault_settings(server)
    database = Database.from_settings(settings, server.url(DATABASE_NAME))
    delivery = Delivery(
        service=DeliveryService(unit_of_work_factory(database)),
        feed=ChangeFeed(),
        cache=ResponseCache(max_bytes=0),
        settings=settings,
    )
    monkeypatch.setattr(streams, "REPLAY_BATCH", 0)  # every batch "full": there is more to read

    async def usable() -> bool:
        return True

    async def scenario() -> list[str]:
        replay = await Replay.start(delivery, None, 0)  # the database is up: read
        server.stop()
        subscription = delivery.feed.subscribe(None)
        stream = streams.stream(delivery, subscription, Resume(0), replay, key_usable=usable)
        return [chunk async for chunk in stream]

    try:
        with caplog.at_level(logging.WARNING):
            chunks = asyncio.run(scenario())
    finally:
        database.close()

    assert chunks == [": stream open\n\n"]  # then it ended, without an exception
    assert delivery.feed._subscriptions == set()
    warnings = [record for record in caplog.records if record.name == "delivery.streams"]
    assert [record.levelno for record in warnings] == [logging.WARNING]
    assert warnings[0].getMessage().startswith("event stream ended, the change log cannot be read")
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
