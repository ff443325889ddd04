"""A response's head and body leave in one write; a head alone still leaves at the next turn of
the event loop; nothing is ever reordered or lost at close."""

from __future__ import annotations

import asyncio
from typing import cast

from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from api.edge.header_protocol import CoalescingWrites, HeaderLimitProtocol


class RecordingTransport:
    """Stands in for the socket: records each write (one system call each)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def writes_of(steps: list[str]) -> list[bytes]:
    """Runs `steps` (head, body:<text>, turn, close) on a fresh CoalescingWrites."""

    async def run() -> list[bytes]:
        transport = RecordingTransport()
        writes = CoalescingWrites(cast(asyncio.Transport, transport), asyncio.get_running_loop())
        for step in steps:
            if step == "head":
                writes.hold_next()
                writes.write(b"HEAD|")
            elif step.startswith("body:"):
                writes.write(step.removeprefix("body:").encode())
            elif step == "turn":
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            elif step == "close":
                writes.close()
        await asyncio.sleep(0)
        return transport.writes

    return asyncio.run(run())


def test_a_head_and_its_body_leave_in_one_write() -> None:
    assert writes_of(["head", "body:{}"]) == [b"HEAD|{}"]


def test_a_head_whose_body_is_late_leaves_at_the_next_turn() -> None:
    assert writes_of(["head", "turn", "body:late"]) == [b"HEAD|", b"late"]


def test_later_parts_of_a_body_are_written_at_once() -> None:
    assert writes_of(["head", "body:a", "body:b", "body:c"]) == [b"HEAD|a", b"b", b"c"]


def test_close_writes_a_held_head_first() -> None:
    assert writes_of(["head", "close"]) == [b"HEAD|"]


def test_pipelined_answers_keep_their_order() -> None:
    assert writes_of(["head", "body:1", "head", "body:2"]) == [b"HEAD|1", b"HEAD|2"]


def test_other_transport_calls_pass_through() -> None:
    async def run() -> object:
        transport = RecordingTransport()
        writes = CoalescingWrites(cast(asyncio.Transport, transport), asyncio.get_running_loop())
        return writes.get_extra_info("peername")

    assert asyncio.run(run()) == "info:peername"


class SocketTransport(asyncio.Transport):
    """A connection's transport for a whole protocol: records writes, knows its addresses."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.closed:
            self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        addresses = {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}
        return addresses.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def test_an_answer_to_head_is_not_lost_when_the_server_shuts_down_at_once() -> None:
    """A HEAD's answer writes no body, so its head is held until the next turn; a shutdown in
    between closes the connection itself (not through the held writes)."""

    async def run() -> list[bytes]:
        config = Config(_ok, lifespan="off", log_level="warning")
        config.load()
        protocol = HeaderLimitProtocol(config=config, server_state=ServerState(), app_state={})
        transport = SocketTransport()
        protocol.connection_made(transport)
        protocol.data_received(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        while protocol.cycle is None or not protocol.cycle.response_complete:
            await asyncio.sleep(0)
        protocol.shutdown()
        await asyncio.sleep(0)
        return transport.writes

    writes = asyncio.run(run())

    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 2\r\n" in writes[0]
