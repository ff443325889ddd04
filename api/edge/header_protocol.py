"""The request header limit at the connection, before headers are buffered.

uvicorn's httptools protocol hands a request to the app only once its headers are complete,
and keeps them all until then: 300 MB of headers would take 300 MB before HeaderLimitMiddleware
could answer. This protocol counts the bytes each request sends until its headers are complete
and, past MAX_HEADER_BYTES plus HEADER_ALLOWANCE (the request line, the ": " and line ends that
the exact check does not count), answers 431 itself and closes the connection. Headers within
that bound reach HeaderLimitMiddleware, which counts names and values exactly and answers
through the app (request id, metrics). Memory per connection stays under the bound plus one
read from the socket (at most 256 KiB).

After its 431 the connection only discards what the client still sends (at most LINGER_BYTES,
for LINGER_SECONDS), so that a client busy sending can still read the answer before the close.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.edge.request_context import new_request_id
from api.problems.schema import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX
from config.settings import load_settings

HEADER_ALLOWANCE = 8192
LINGER_BYTES = 1 << 20
LINGER_SECONDS = 5.0
HEADERS_TOO_LARGE = PROBLEM_TYPE_PREFIX + "headers-too-large"
HEADERS_TOO_LARGE_TITLE = "Request Header Fields Too Large"


def headers_too_large_detail(max_header_bytes: int, size: str) -> str:
    return (
        f"the request headers must be at most {max_header_bytes} bytes in all, names and values "
        f"(got {size}); MAX_HEADER_BYTES sets the limit"
    )


class HeaderLimitProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing headers larger than `max_header_bytes`."""

    max_header_bytes = 16_384

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0
        self._headers_complete = False
        self._discarded: int | None = None  # counted once the connection is refused

    @classmethod
    def with_limit(cls, max_header_bytes: int) -> type[HeaderLimitProtocol]:
        return type(cls.__name__, (cls,), {"max_header_bytes": max_header_bytes})

    def data_received(self, data: bytes) -> None:
        if self._discarded is not None:
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self.transport.close()
            return
        super().data_received(data)
        if self._headers_complete or self.transport.is_closing():
            return
        # Counted after parsing: the parser holds at most this one read past the bound.
        self._header_bytes += len(data)
        if self._header_bytes > self.max_header_bytes + HEADER_ALLOWANCE:
            self._refuse()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._headers_complete = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._writes = CoalescingWrites(transport, self.loop)

    def on_headers_complete(self) -> None:
        self._headers_complete = True
        super().on_headers_complete()
        if self.cycle is not None:  # a response is coming: its head waits for its body
            self.cycle.transport = self._writes  # type: ignore[assignment]
            self._writes.hold_next()

    def shutdown(self) -> None:
        # uvicorn closes the connection itself (not through the held writes) once its answer is
        # complete: a head still held (a HEAD's, which has no body to write) goes first.
        self._writes.flush()
        super().shutdown()

    def _refuse(self) -> None:
        self._discarded = 0
        self._writes.flush()  # an earlier answer's held head goes before the 431
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # An earlier request on this connection is still being answered.
            self.transport.close()
            return
        self.transport.write(self._response())
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _response(self) -> bytes:
        request_id = new_request_id()
        path = self.url.split(b"?", 1)[0][:200].decode("ascii", errors="replace")
        size = f"more than {self._header_bytes} bytes with the request line"
        body = json.dumps(
            {
                "type": HEADERS_TOO_LARGE,
                "title": HEADERS_TOO_LARGE_TITLE,
                "status": 431,
                "detail": headers_too_large_detail(self.max_header_bytes, size),
                "instance": path,
                "request_id": request_id,
            }
        ).encode()
        lines = [f"HTTP/1.1 431 {HEADERS_TOO_LARGE_TITLE}".encode()]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [
            f"content-type: {PROBLEM_MEDIA_TYPE}".encode(),
            f"content-length: {len(body)}".encode(),
            b"connection: close",
            b"x-content-type-options: nosniff",
            f"x-request-id: {request_id}".encode(),
        ]
        return b"\r\n".join(lines) + b"\r\n\r\n" + body


class CoalescingWrites:
    """A connection's transport as its responses see it. uvicorn writes a response's status
    line and headers, then its body, each with a system call of its own; here the head is held
    until the body's first write (or, for an answer that takes longer, the next turn of the
    event loop), so that a small answer leaves in one write. Order is kept: whatever is held
    goes out before, or with, anything written after it."""

    __slots__ = ("_held", "_holding", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._holding = False

    def hold_next(self) -> None:
        self._holding = True

    def write(self, data: bytes) -> None:
        if self._held is not None:
            data = self._held + data
            self._held = None
        if self._holding:
            self._holding = False
            self._held = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@functools.cache
def _max_header_bytes_from_settings() -> int:
    return load_settings().max_header_bytes


class SettingsHeaderLimitProtocol(HeaderLimitProtocol):
    """For `dev`, whose reloaded workers name the protocol by import path: the limit is read
    from the settings, once per process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes = _max_header_bytes_from_settings()
