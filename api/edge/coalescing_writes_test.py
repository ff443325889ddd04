"""A response's head and body leave in one write; a head alone still leaves at the next turn of
the event loop; nothing is ever reordered or lost at close."""

from __future__ import annotations

import asyncio
from typing import cast

from api.edge.header_protocol import CoalescingWrites


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
