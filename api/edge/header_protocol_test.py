"""Headers far past MAX_HEADER_BYTES are refused by the connection before they are buffered."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from api.edge.header_protocol import HEADER_ALLOWANCE, HEADERS_TOO_LARGE
from conftest import LiveServer, LiveServerFactory, make_settings

MAX_HEADER_BYTES = 2048
CHUNK = b"X-Padding: " + b"p" * 65_000 + b"\r\n"


@pytest.fixture(scope="module")
def server(live_server_factory: LiveServerFactory, database_url: str) -> Iterator[LiveServer]:
    settings = make_settings(database_url, max_header_bytes=MAX_HEADER_BYTES)
    with live_server_factory(settings) as live:
        yield live


def connect(server: LiveServer) -> socket.socket:
    address = urlsplit(server.url)
    assert address.hostname is not None
    assert address.port is not None
    connection = socket.create_connection((address.hostname, address.port), timeout=30)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65_536)
    connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\n")
    return connection


def read_to_end(connection: socket.socket, received: bytes) -> bytes:
    try:
        while chunk := connection.recv(65_536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def answer(received: bytes) -> tuple[str, dict[str, str], dict[str, object]]:
    head, _, body = received.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    return status, headers, json.loads(body)


def test_endless_headers_get_a_431_and_the_connection_is_cut(server: LiveServer) -> None:
    total = 64 << 20  # far more than the server reads and discards (and the kernel buffers)
    connection = connect(server)
    sent, received = 0, b""
    try:
        while sent < total:
            connection.sendall(CHUNK)
            sent += len(CHUNK)
            while select.select([connection], [], [], 0)[0]:
                chunk = connection.recv(65_536)
                if not chunk:
                    break
                received += chunk
    except (BrokenPipeError, ConnectionResetError):
        pass
    received = read_to_end(connection, received)
    connection.close()

    # The server stopped reading: it closed the connection while we were still sending.
    assert sent < total
    status, headers, problem = answer(received)
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert headers["x-content-type-options"] == "nosniff"
    assert problem["type"] == HEADERS_TOO_LARGE
    assert problem["status"] == 431
    assert problem["instance"] == "/health/live"
    assert problem["request_id"] == headers["x-request-id"]
    assert str(problem["detail"]).startswith(
        f"the request headers must be at most {MAX_HEADER_BYTES} bytes in all"
    )


def test_headers_past_the_allowance_are_answered_and_closed(server: LiveServer) -> None:
    connection = connect(server)
    padding = b"X-Padding: " + b"p" * (MAX_HEADER_BYTES + HEADER_ALLOWANCE) + b"\r\n"
    connection.sendall(padding)

    received = read_to_end(connection, b"")  # ends: the server closed the connection
    connection.close()

    status, _, problem = answer(received)
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"
    assert problem["type"] == HEADERS_TOO_LARGE


def test_headers_within_the_allowance_reach_the_exact_check(server: LiveServer) -> None:
    connection = connect(server)
    connection.sendall(b"X-Padding: " + b"p" * (MAX_HEADER_BYTES + 100) + b"\r\n\r\n")

    received = read_to_end(connection, b"")
    connection.close()

    status, headers, problem = answer(received)
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"
    assert problem["type"] == HEADERS_TOO_LARGE
    assert problem["request_id"] == headers["x-request-id"]
    assert str(problem["detail"]).startswith(
        f"the request headers must be at most {MAX_HEADER_BYTES} bytes in all"
    )
