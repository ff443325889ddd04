"""The request header limit (MAX_HEADER_BYTES): larger headers get a 431 problem.

The exact check, on the headers uvicorn hands over, before any routing or body reading.
Counted: every header's name and value. Far larger headers never get here: the connection's
protocol (api/edge/header_protocol.py) refuses them before they are buffered. This check stays for
what that rougher count lets through, and for servers run with another protocol (h11).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.edge.header_protocol import HEADERS_TOO_LARGE_TITLE, headers_too_large_detail
from api.problems.schema import problem_response


class HeaderLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_header_bytes: int) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.max_header_bytes:
                response = problem_response(
                    Request(scope),
                    status=431,
                    slug="headers-too-large",
                    title=HEADERS_TOO_LARGE_TITLE,
                    detail=headers_too_large_detail(self.max_header_bytes, str(size)),
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
