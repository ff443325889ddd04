"""The real service on a free local port, in a background thread (tests and the benchmark)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.edge.header_protocol import HeaderLimitProtocol
from config.settings import Settings
from main import create_app
from testing.api_keys import create_api_key


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: FastAPI
    # An admin key made for this server's database (None: the server was started without one).
    admin_key: str | None = None


class DefaultKey:
    """Sends `key` for every request that sends no Authorization header of its own, so the
    tests written before keys existed keep calling as an admin. The key is real and checked by
    the real code; tests of authentication use a server without it (`default_key=False`)."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.header = (b"authorization", f"Bearer {key}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not any(
            name == b"authorization" for name, _ in scope["headers"]
        ):
            scope = {**scope, "headers": [*scope["headers"], self.header]}
        await self.app(scope, receive, send)


@contextmanager
def run_live_server(
    settings: Settings, *, admin_key: str | None = None, default_key: bool = True
) -> Iterator[LiveServer]:
    """Serve the real app with uvicorn on a free port of 127.0.0.1, over real HTTP.

    An admin key is made on the settings' database unless given (give one when the database
    may be down at start); with `default_key` it is sent for requests that send none.
    """
    app = create_app(settings)
    key = admin_key or create_api_key(settings, name="live server").key
    served: ASGIApp = DefaultKey(app, key) if default_key else app
    config = uvicorn.Config(
        served,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        http=HeaderLimitProtocol.with_limit(settings.max_header_bytes),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, admin_key=key)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
