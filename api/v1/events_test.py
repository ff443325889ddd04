"""Server-Sent Events over real HTTP on a real PostgreSQL: live changes, resume without loss
or repeats, heartbeats, expiry (reset), unknown applications and shutdown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.app_state import delivery_of
from conftest import LiveServer, LiveServerFactory, make_settings
from database.migration_runner import MigrationRunner
from database.pool import connect
from repositories.change_log_repository import ChangeLogRepository
from services.delivery_service import prune_change_log
from testing.change_log import wait_until_final_on
from testing.databases import temporary_database
from testing.seeding import create_application, create_configuration, put_config


@dataclass(frozen=True)
class Event:
    id: int
    event: str
    data: dict[str, Any]


class EventReader:
    """Reads one SSE stream line by line: events, and comments when asked for."""

    def __init__(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        self._lines = response.iter_lines()

    def comment(self) -> str:
        for line in self._lines:
            if line.startswith(":"):
                return line
            assert line == "", f"expected a comment, got {line!r}"
        raise AssertionError("the stream ended")

    def next(self) -> Event:
        fields: dict[str, str] = {}
        for line in self._lines:
            if line.startswith(":"):
                continue
            if line == "":
                if fields:
                    return Event(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                continue
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    def ended(self) -> bool:
        return all(line.startswith(":") or line == "" for line in self._lines)


@contextmanager
def open_stream(
    base_url: str, path: str, headers: dict[str, str] | None = None
) -> Iterator[EventReader]:
    with (
        httpx.Client(base_url=base_url, timeout=20) as http,
        http.stream("GET", path, headers=headers) as response,
    ):
        reader = EventReader(response)
        assert reader.comment() == ": stream open"  # subscribed: nothing is missed from here
        yield reader


def test_a_stream_carries_each_change_of_its_application(
    client: httpx.Client, live_server: LiveServer
) -> None:
    application = create_application(client)
    other = create_application(client)
    path = f"/api/v1/applications/{application['id']}/events"
    with open_stream(live_server.url, path) as stream:
        configuration = create_configuration(client, application["id"], "prod", {"v": 1})
        create_configuration(client, other["id"], "prod", {})  # not this application's
        put_config(client, configuration["id"], {"v": 2})
        client.delete(f"/api/v1/configurations/{configuration['id']}")

        events = [stream.next() for _ in range(3)]

    assert [(event.event, event.data["revision"]) for event in events] == [
        ("created", 1),
        ("updated", 2),
        ("deleted", None),
    ]
    assert [event.id for event in events] == [event.data["position"] for event in events]
    assert events[0].id < events[1].id < events[2].id
    assert events[1].data == {
        "position": events[1].id,
        "kind": "updated",
        "application_id": application["id"],
        "configuration_id": configuration["id"],
        "name": "prod",
        "revision": 2,
    }


@pytest.mark.parametrize("resume_with", ["Last-Event-ID", "after"])
def test_reconnecting_replays_what_was_missed_once_then_continues_live(
    client: httpx.Client, live_server: LiveServer, resume_with: str
) -> None:
    application = create_application(client)
    path = f"/api/v1/applications/{application['id']}/events"
    with open_stream(live_server.url, path) as stream:
        configuration = create_configuration(client, application["id"], "prod", {"v": 1})
        first = stream.next()
    for version in (2, 3, 4):  # while disconnected
        put_config(client, configuration["id"], {"v": version})

    headers = {"Last-Event-ID": str(first.id)} if resume_with == "Last-Event-ID" else None
    resumed_path = path if headers else f"{path}?after={first.id}"
    with open_stream(live_server.url, resumed_path, headers) as stream:
        replayed = [stream.next() for _ in range(3)]
        put_config(client, configuration["id"], {"v": 5})
        live = stream.next()

    assert [event.data["revision"] for event in [*replayed, live]] == [2, 3, 4, 5]
    ids = [event.id for event in [first, *replayed, live]]
    assert ids == sorted(set(ids))


def test_the_stream_of_all_applications(client: httpx.Client, live_server: LiveServer) -> None:
    with open_stream(live_server.url, "/api/v1/events") as stream:
        first = create_application(client)
        second = create_application(client)
        create_configuration(client, first["id"], "a", {})
        create_configuration(client, second["id"], "b", {})
        seen = [stream.next() for _ in range(2)]
    assert [(event.data["application_id"], event.data["name"]) for event in seen] == [
        (first["id"], "a"),
        (second["id"], "b"),
    ]


def test_an_unknown_application_is_a_404_problem_before_the_stream(
    client: httpx.Client,
) -> None:
    missing = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"
    response = client.get(f"/api/v1/applications/{missing}/events")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"application {missing} does not exist"
    invalid = client.get("/api/v1/events", params={"after": -1})
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"] == "after"


def test_idle_streams_get_heartbeats_and_end_on_shutdown(
    database_url: str, live_server_factory: LiveServerFactory
) -> None:
    settings = make_settings(database_url, events_heartbeat_seconds=0.2)
    with (
        live_server_factory(settings) as server,
        open_stream(server.url, "/api/v1/events") as stream,
    ):
        assert stream.comment() == ": keep-alive"
        assert stream.comment() == ": keep-alive"
        server.app.state.draining.set()  # as SIGTERM does
        assert stream.ended()


def test_a_position_the_log_no_longer_holds_gets_a_reset_event(
    server_url: str, live_server_factory: LiveServerFactory
) -> None:
    with temporary_database(server_url) as url:
        MigrationRunner(url).up()
        with (
            live_server_factory(make_settings(url)) as server,
            httpx.Client(base_url=server.url, timeout=20) as http,
        ):
            application = create_application(http)
            create_configuration(http, application["id"], "a", {})
            create_configuration(http, application["id"], "b", {})
            pruned = connect(url)
            pruned.autocommit = True
            wait_until_final_on(pruned)
            with pruned.cursor() as cursor:
                cursor.execute("SELECT min(position) FROM change_log")
                row = cursor.fetchone()
            assert row is not None
            first = int(row[0])
            assert prune_change_log(ChangeLogRepository(pruned), retention=timedelta(0)) == 2
            pruned.close()

            with open_stream(server.url, f"/api/v1/events?after={first}") as stream:
                reset = stream.next()
                create_configuration(http, application["id"], "c", {})
                after_reset = stream.next()

    assert (reset.event, reset.data["position"]) == ("reset", reset.id)
    assert reset.id > first
    assert reset.data["detail"].startswith(f"the change log no longer holds position {first} ")
    assert (after_reset.event, after_reset.data["name"]) == ("created", "c")
    assert after_reset.id > reset.id


def test_the_wait_is_capped_by_the_setting(
    database_url: str, live_server_factory: LiveServerFactory
) -> None:
    with live_server_factory(make_settings(database_url, long_poll_max_seconds=1)) as server:
        with httpx.Client(base_url=server.url, timeout=20) as http:
            application = create_application(http)
            configuration = create_configuration(http, application["id"], "a", {})
            response = http.get(
                f"/api/v1/configurations/{configuration['id']}",
                headers={"If-None-Match": '"1"', "Prefer": "wait=600"},
            )
        delivery = delivery_of(server.app)
        assert delivery.feed.waiting == 0  # the waiter left when it was answered
    assert response.status_code == 304
    assert response.headers["preference-applied"] == "wait=1"


@pytest.mark.parametrize("last_event_id", ["abc", "-3", "1.5"])
def test_a_last_event_id_that_is_no_position_gets_a_reset_first(
    client: httpx.Client, live_server: LiveServer, last_event_id: str
) -> None:
    application = create_application(client)
    path = f"/api/v1/applications/{application['id']}/events"
    with open_stream(live_server.url, path, {"Last-Event-ID": last_event_id}) as stream:
        reset = stream.next()
        create_configuration(client, application["id"], "a", {})
        created = stream.next()

    assert (reset.event, reset.id, reset.data["position"]) == ("reset", reset.id, reset.id)
    assert reset.data["detail"] == (f"Last-Event-ID {last_event_id!r} is not a change-log position")
    assert (created.event, created.data["name"]) == ("created", "a")
    assert created.id > reset.id
