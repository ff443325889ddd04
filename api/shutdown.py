"""Graceful shutdown for `python main.py serve`.

On SIGTERM or SIGINT uvicorn stops accepting connections, lets in-flight requests finish for at
most SHUTDOWN_GRACE_SECONDS, then runs the lifespan shutdown (which closes the pool). This
server also marks the app as draining the moment the signal arrives, so `/health/ready`
answers 503 to any request still reaching it.
"""

from __future__ import annotations

import threading
from types import FrameType

import uvicorn


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, draining: threading.Event) -> None:
        super().__init__(config)
        self._draining = draining

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._draining.set()
        super().handle_exit(sig, frame)
