"""Hot routes: the few GET routes every client calls all the time (liveness, a configuration by
id, a document by name), answered by a raw handler straight from the edge, past FastAPI's router
and its per-request dependency machinery.

A profile of a cached read showed where its time went: FastAPI matching the path against every
route of the included routers, then solving the route's dependencies and validating its
parameters, cost more than the read itself. A hot route is still an ordinary FastAPI route (its
OpenAPI entry, its validation and its answers for every request the raw handler declines are
the framework's); its endpoint only also carries, with `@served_raw(...)`, a raw handler that
takes a `Request` and returns a `Response`, and a pure test of whether it answers a request
(`accepts`, e.g. no query string, a well-formed id). For a request it accepts, the edge:

1. matches the path against the hot routes only (a regex each, compiled once, at the first
   request, from the routes themselves);
2. runs the authorization the route declares in its definition (`dependencies=[requires(...)]`,
   api/auth/authorization.py): the same check the framework would run, called directly;
3. calls the raw handler, and maps what it raises through the app's own exception handlers
   (api/problems/handlers.py), as Starlette's ExceptionMiddleware would; anything without a
   handler propagates to the last-resort 500 handler as before.

Everything else (other routes, other methods, a request `accepts` declines) goes the framework's
way, unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

RawHandler = Callable[[Request], Awaitable[Response]]
Check = Callable[[Request], Awaitable[Any]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

# The route template of a request a hot route answered, for the access log and the metrics
# (api/edge/request_context.py's route_template): the framework's own routing context is not
# there for it.
ROUTE_TEMPLATE = "config_service.route_template"


def _always(_: Request) -> bool:
    return True


@dataclass(frozen=True)
class RawRoute:
    """What `served_raw` attaches to an endpoint."""

    handler: RawHandler
    accepts: Callable[[Request], bool] = _always


def served_raw(
    handler: RawHandler, *, accepts: Callable[[Request], bool] = _always
) -> Callable[[Endpoint], Endpoint]:
    """Declares on a GET route's endpoint the raw handler the edge answers it with (for the
    requests `accepts` lets through; it must not touch anything, only look at the request)."""

    def mark(endpoint: Endpoint) -> Endpoint:
        endpoint.raw_route = RawRoute(handler, accepts)  # type: ignore[attr-defined]
        return endpoint

    return mark


@dataclass(frozen=True)
class HotRoute:
    template: str
    regex: re.Pattern[str]
    convertors: dict[str, Any]
    checks: tuple[Check, ...]
    raw: RawRoute


def hot_routes(app: Any) -> tuple[HotRoute, ...]:
    """The app's GET routes that declare a raw handler. A route whose dependencies are anything
    but authorization checks cannot be one: the raw handler would skip them."""
    found = []
    for context in iter_route_contexts(app.router.routes):
        raw = getattr(context.endpoint, "raw_route", None)
        if not isinstance(raw, RawRoute):
            continue
        if context.methods != {"GET"}:
            raise ValueError(f"a hot route answers GET only ({context.path} has {context.methods})")
        calls = [dependency.call for dependency in context.dependant.dependencies]
        if not all(hasattr(call, "authorization") for call in calls):
            raise ValueError(f"{context.path}: a hot route depends on authorization checks only")
        found.append(
            HotRoute(
                template=str(context.path_format),
                regex=context.path_regex,
                convertors=context.param_convertors,
                checks=tuple(calls),
                raw=raw,
            )
        )
    return tuple(found)


class HotRouteMiddleware:
    """The innermost edge middleware: answers hot routes itself (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes: tuple[HotRoute, ...] | None = None  # read from the app at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        routes = self.routes
        if routes is None:
            routes = self.routes = hot_routes(scope["app"])
        path = scope["path"]
        for route in routes:
            match = route.regex.match(path)
            if match is not None:
                break
        else:
            await self.app(scope, receive, send)
            return
        convertors = route.convertors
        scope["path_params"] = {
            name: convertors[name].convert(value) for name, value in match.groupdict().items()
        }
        request = Request(scope, receive)
        if not route.raw.accepts(request):
            await self.app(scope, receive, send)
            return
        scope[ROUTE_TEMPLATE] = route.template
        try:
            for check in route.checks:
                await check(request)
            response = await route.raw.handler(request)
        except Exception as error:
            handler = _handler_for(scope["app"].exception_handlers, error)
            if handler is None:
                raise
            response = await handler(request, error)
        await response(scope, receive, send)


def _handler_for(handlers: dict[Any, Any], error: Exception) -> Any:
    """The app's handler for `error`'s type, as Starlette's ExceptionMiddleware finds it (the
    one for Exception is the last-resort 500, which runs where it always does)."""
    for kind in type(error).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            return handlers[kind]
    return None
