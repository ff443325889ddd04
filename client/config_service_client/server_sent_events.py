"""A Server-Sent Events parser (the WHATWG HTML "event stream" interpretation), fed one line
at a time (httpx splits lines at CR, LF and CRLF, as the format wants).

Why not `httpx-sse`: this is the whole parser, it needs to report comments (the service's
`: stream open` says the stream is subscribed), and a dependency would cost every install more
than these lines do.
"""

from __future__ import annotations

from dataclasses import dataclass

# One event's data larger than this ends the stream as broken (the service's events are
# a few hundred bytes): a proxy or server gone wrong must not grow memory without bound.
MAX_EVENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None


@dataclass(frozen=True)
class Comment:
    text: str


class EventTooLarge(ValueError):
    pass


class EventParser:
    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._id: str | None = None
        self._first_line = True

    def feed(self, line: str) -> ServerSentEvent | Comment | None:
        """The event or comment this line completes, if any."""
        if self._first_line:
            self._first_line = False
            line = line.removeprefix("\ufeff")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return Comment(line[1:].removeprefix(" "))
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._size += len(value) + 1
            if self._size > MAX_EVENT_BYTES:
                raise EventTooLarge(f"an event's data is larger than {MAX_EVENT_BYTES} bytes")
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None  # `retry` and unknown fields: this client has its own reconnect policy

    def _dispatch(self) -> ServerSentEvent | None:
        data, event = self._data, self._event
        self._data, self._event, self._size = [], "", 0
        if not data:
            return None
        return ServerSentEvent(event=event or "message", data="\n".join(data), id=self._id)
