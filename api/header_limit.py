"""The request header limit (MAX_HEADER_BYTES): larger headers get a 431 problem.

uvicorn (with httptools) puts no bound on request headers, so this is checked on the headers
it hands over, before any routing or body reading. Counted: every header's name and value.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import problem_response


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
                    detail=f"the request headers must be at most {self.max_header_bytes} bytes "
                    f"in all, names and values (got {size}); MAX_HEADER_BYTES sets the limit",
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
