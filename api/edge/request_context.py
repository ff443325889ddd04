"""Request ids, the access log, the headers every response gets, and each request's budget
for waiting on database locks (database/lock_budget.py).

Every request gets an id: the caller's `X-Request-ID` when it is a plausible id (1-128 of
A-Z a-z 0-9 . _ -), a fresh one otherwise. It is sent back in the `X-Request-ID` header, put in
every problem body (api/problems/schema.py) and in every log line written while handling the
request (config/logging_setup.py). Every response also gets `X-Content-Type-Options: nosniff`,
so no browser guesses a type other than the declared one (a JSON body taken for HTML). One access
line per request records method, route template, status and duration, and who called once
authentication knows (an API key's id; an identity token's issuer, subject and the bindings
that let it in); health and metrics routes log theirs at debug level only.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.edge.hot_routes import ROUTE_TEMPLATE
from config.logging_setup import request_id_var
from database.lock_budget import new_request_budget

REQUEST_ID_HEADER = "X-Request-ID"
# nginx's "client closed request", for a request its client abandoned before it was read
# (api/problems/handlers.py): no status of HTTP's, and apart from every 5xx in logs and metrics.
CLIENT_CLOSED_REQUEST = 499
UNMATCHED_ROUTE = "<unmatched>"

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_REQUEST_ID_NAME = b"x-request-id"
_NOSNIFF_NAME = b"x-content-type-options"
_NOSNIFF = (_NOSNIFF_NAME, b"nosniff")
_QUIET_ROUTES = frozenset({"/health/live", "/health/ready", "/metrics"})

access_logger = logging.getLogger("config_service.access")


def new_request_id() -> str:
    """32 random hex digits (as a UUID4's hex, without building one)."""
    return os.urandom(16).hex()


def incoming_request_id(scope: Scope) -> str | None:
    """The caller's id when it is safe to echo into headers, bodies and logs."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _VALID_REQUEST_ID.fullmatch(text) else None
    return None


def route_template(scope: Scope) -> str:
    """`/api/v1/applications/{application_id}`, not the path itself: bounded label values."""
    # Set by api/edge/hot_routes.py for what it answers, and here once found (metrics and the
    # access log both ask).
    known: str | None = scope.get(ROUTE_TEMPLATE)
    if known is not None:
        return known
    template = scope[ROUTE_TEMPLATE] = _route_template(scope)  # asked once the answer is made
    return template


def _route_template(scope: Scope) -> str:
    # FastAPI resolves routes of included routers lazily; the full template (prefix included)
    # is only on its per-request routing context. scope["route"] lacks the prefix there.
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    if isinstance(path, str) and path:
        return path
    # Not routed: a plain Starlette route (/docs, /openapi.json), or refused before routing
    # (413, 431). Label it with the template its path matches, whatever the method.
    return _matching_template(scope) or UNMATCHED_ROUTE


def _matching_template(scope: Scope) -> str | None:
    app = scope.get("app")
    if app is None:
        return None
    templates: list[tuple[re.Pattern[str], str]] | None = getattr(
        app.state, "route_templates", None
    )
    if templates is None:
        paths = {getattr(route, "path", None) for route in app.router.routes}
        paths |= set(app.openapi().get("paths", {}))
        templates = [(compile_path(path)[0], path) for path in sorted(p for p in paths if p)]
        app.state.route_templates = templates
    return next((template for regex, template in templates if regex.match(scope["path"])), None)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or new_request_id()
        # Not reset afterwards: the request's task ends with it, and Starlette's last-resort
        # 500 handler runs after this middleware has unwound and still needs the id.
        request_id_var.set(request_id)
        # The request's whole wait for locks, shared by all its database work.
        new_request_budget()
        started = time.perf_counter()
        status = 500
        logged = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, logged
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                message["headers"] = _with_edge_headers(message.get("headers", ()), request_id)
            elif kind == "http.response.body" and not message.get("more_body", False):
                # Logged before the last part goes out, so the line is written by the time the
                # client has the whole answer.
                logged = True
                _log_access(scope, status=status, seconds=time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            if not logged:
                _log_access(scope, status=status, seconds=time.perf_counter() - started)


def _with_edge_headers(
    headers: Iterable[tuple[bytes, bytes]], request_id: str
) -> list[tuple[bytes, bytes]]:
    """The response's headers with the request id (unless it has one) and nosniff (once)."""
    found = [(name, value) for name, value in headers if name != _NOSNIFF_NAME]
    if not any(name == _REQUEST_ID_NAME for name, _ in found):
        found.append((_REQUEST_ID_NAME, request_id.encode("latin-1")))
    found.append(_NOSNIFF)
    return found


def _log_access(scope: Scope, *, status: int, seconds: float) -> None:
    route = route_template(scope)
    level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
    if not access_logger.isEnabledFor(level):
        return
    duration_ms = round(seconds * 1000, 1)
    # Set by api/auth/authorization.py (request.state is the scope's "state").
    caller = scope.get("state", {}).get("caller")
    who = caller.log_fields() if caller is not None else {}
    access_logger.log(
        level,
        "%s %s %d %.1f ms%s",
        scope["method"],
        route,
        status,
        duration_ms,
        "".join(f" {name}={value!r}" for name, value in who.items()),
        extra={
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            **who,
        },
    )
