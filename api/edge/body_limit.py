"""The request body limit (MAX_BODY_BYTES), enforced before a body is buffered whole.

A Content-Length over the limit is refused before any of the body is read. A body without one
(chunked) is counted as it streams in, and refused as soon as it passes the limit. Both give a
413 problem+json. (FastAPI's own max_body_size is not used: for an oversized Content-Length,
Starlette swaps whatever response follows for a plain-text 413.)
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems.schema import problem_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _declared_length(scope)
        if declared is None and not chunked:  # no body (RFC 9112, 6.3): nothing to count
            await self.app(scope, receive, send)
            return
        if declared is not None and declared > self.max_body_bytes:
            response = problem_response(
                Request(scope),
                status=413,
                detail=f"the body must be at most {self.max_body_bytes} bytes "
                f"(Content-Length says {declared})",
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return

        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # FastAPI re-raises HTTPExceptions met while reading the body, so this
                    # reaches the problem handlers like any other 4xx.
                    raise HTTPException(
                        413,
                        detail=f"the body must be at most {self.max_body_bytes} bytes",
                        headers={"Connection": "close"},
                    )
            return message

        await self.app(scope, receive_within_limit, send)


def _declared_length(scope: Scope) -> tuple[int | None, bool]:
    """Content-Length (None without one, or an unreadable one), and whether a
    Transfer-Encoding says the body comes in chunks."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length" and declared is None:
            try:
                declared = int(value)
            except ValueError:
                return None, True  # counted as it streams in, as before
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked
