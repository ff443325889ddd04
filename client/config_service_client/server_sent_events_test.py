"""The event-stream parser follows the WHATWG rules the service's streams rely on."""

from __future__ import annotations

import pytest

from config_service_client.server_sent_events import (
    MAX_EVENT_BYTES,
    Comment,
    EventParser,
    EventTooLarge,
    ServerSentEvent,
)


def parse(lines: list[str]) -> list[ServerSentEvent | Comment]:
    parser = EventParser()
    return [item for line in lines if (item := parser.feed(line)) is not None]


def test_events_comments_and_ids() -> None:
    lines = [
        "\ufeff: stream open",
        "",
        "id: 42",
        "event: updated",
        'data: {"position":42}',
        "",
        ": keep-alive",
        "",
        "data:first",
        "data: second",
        "",
    ]
    assert parse(lines) == [
        Comment("stream open"),
        ServerSentEvent(event="updated", data='{"position":42}', id="42"),
        Comment("keep-alive"),
        # The last id stays until another is sent; an event without a name is a "message".
        ServerSentEvent(event="message", data="first\nsecond", id="42"),
    ]


def test_fields_without_data_dispatch_nothing_and_odd_fields_are_ignored() -> None:
    lines = ["event: reset", "", "retry: 10", "id: 7\0", "unknown: x", "data", "", "id"]
    assert parse(lines) == [ServerSentEvent(event="message", data="", id=None)]


def test_an_endless_event_is_refused() -> None:
    parser = EventParser()
    line = "data: " + "x" * 1024
    for _ in range(MAX_EVENT_BYTES // 1024 - 1):
        parser.feed(line)
    with pytest.raises(EventTooLarge, match=f"larger than {MAX_EVENT_BYTES} bytes"):
        parser.feed(line)
