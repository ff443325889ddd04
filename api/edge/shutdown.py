"""Graceful shutdown for `python main.py serve`, bounded by SHUTDOWN_GRACE_SECONDS.

On SIGTERM or SIGINT uvicorn stops accepting connections and lets in-flight requests finish.
This server also marks the app as draining the moment the signal arrives, so `/health/ready`
answers 503 to any request still reaching it. When the grace is over, the statements still
running in PostgreSQL are cancelled (a request waiting on a lock would otherwise hold the
process until the lock is released), so their requests end at once with a 503 problem. A
request still running CUT_OFF_MARGIN_SECONDS later is cancelled by uvicorn; CutOffMiddleware
answers it with a 503 problem too, instead of uvicorn's `500 text/plain`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems.schema import problem_response
from database.pool import Database

logger = logging.getLogger(__name__)

# After the grace: how long cancelled requests get to send their 503 before uvicorn cancels
# whatever is left.
CUT_OFF_MARGIN_SECONDS = 1.5


def graceful_shutdown_timeout(grace_seconds: float) -> int:
    """uvicorn's own limit (whole seconds): the grace plus the time to answer the cut-off."""
    return math.ceil(grace_seconds + CUT_OFF_MARGIN_SECONDS)


def cut_off_database_work(database: Database | None) -> None:
    """Cancel every running statement, again while requests keep borrowing connections."""
    if database is None:
        return
    deadline = time.monotonic() + CUT_OFF_MARGIN_SECONDS
    cancelled = database.cancel_running()
    if cancelled:
        logger.warning(
            "shutdown grace is over: cancelled the database work of %d request(s)", cancelled
        )
    while cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
        cancelled = database.cancel_running()


class DrainingServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        *,
        draining: threading.Event,
        grace_seconds: float,
        on_grace_over: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self._draining = draining
        self._grace_seconds = grace_seconds
        self._on_grace_over = on_grace_over

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self._draining.is_set():
            self._draining.set()
            timer = threading.Timer(self._grace_seconds, self._on_grace_over)
            timer.daemon = True
            timer.start()
        super().handle_exit(sig, frame)


class CutOffMiddleware:
    """Answers a request that uvicorn cancels at shutdown with a 503 problem."""

    def __init__(self, app: ASGIApp, *, draining: threading.Event) -> None:
        self.app = app
        self.draining = draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except asyncio.CancelledError:
            if response_started or not self.draining.is_set():
                raise
            response = problem_response(
                Request(scope),
                status=503,
                slug="shutting-down",
                title="Service shutting down",
                detail="the service shut down before this request finished; retry after 1 s",
                headers={"Retry-After": "1", "Connection": "close"},
            )
            await response(scope, receive, send)
