"""The input and output of the client's logic, which does no I/O itself.

Each use case (get, watch, write) is a generator that yields commands and is sent their
results; a transport failure (`httpx.TransportError`) is thrown in where the command was
yielded. `Client` runs these generators with blocking I/O and `AsyncClient` with asyncio, so
reconnecting, backoff, resume and the cache are written, and tested, once.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx

from config_service_client.document import Deleted, Document
from config_service_client.server_sent_events import Comment, ServerSentEvent

T = TypeVar("T")


@dataclass(frozen=True)
class Exchange:
    """Send `request`; the result is the `httpx.Response`, its body read."""

    request: httpx.Request


@dataclass(frozen=True)
class OpenStream:
    """Send `request` as a stream. The result is the response: with status 200 the stream
    stays open for `ReadStream`; with any other its body is read and it is closed."""

    request: httpx.Request


@dataclass(frozen=True)
class ReadStream:
    """The result is the next event or comment of the open stream, or None at its end."""


@dataclass(frozen=True)
class CloseStream:
    """Close the open stream, if there is one."""


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Emit:
    """Hand `item` to the caller (a watch's next item)."""

    item: Document | Deleted


Command = Exchange | OpenStream | ReadStream | CloseStream | Pause | Emit
Steps = Generator[Command, Any, T]
StreamItem = ServerSentEvent | Comment | None


def exchange(request: httpx.Request) -> Steps[httpx.Response]:
    return cast(httpx.Response, (yield Exchange(request)))


def open_stream(request: httpx.Request) -> Steps[httpx.Response]:
    return cast(httpx.Response, (yield OpenStream(request)))


def read_stream() -> Steps[StreamItem]:
    return cast(StreamItem, (yield ReadStream()))
