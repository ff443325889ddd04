"""RFC 9457 problem details: the one place where errors become HTTP responses."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ExceptionHandler

from config.logging_setup import current_request_id
from database.errors import ConstraintConflict, DatabaseUnavailable, UnstorableValue
from models.base import ApiModel
from services.errors import (
    Conflict,
    DomainError,
    FieldProblem,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
)

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


def entity_tag(version: int) -> str:
    """The strong ETag of a resource at `version` (see api/conditional.py)."""
    return f'"{version}"'


_PROBLEM_TYPE_PREFIX = "urn:config-service:problem:"


class ProblemFieldError(ApiModel):
    location: str = Field(description="body, query, path or header", examples=["body"])
    field: str = Field(description="The field, dotted for nested ones.", examples=["name"])
    rule: str = Field(description="A stable identifier of the rule.", examples=["string_too_long"])
    message: str = Field(examples=["String should have at most 256 characters"])
    pointer: str | None = Field(
        default=None,
        description="RFC 6901 JSON Pointer into the request body, for body fields.",
        examples=["/name"],
    )


class Problem(ApiModel):
    """An RFC 9457 problem details object."""

    type: str = Field(
        description="Identifies the kind of problem; about:blank when the status says it all.",
        examples=[_PROBLEM_TYPE_PREFIX + "validation-error"],
    )
    title: str = Field(examples=["Request failed validation"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["name: String should have at most 256 characters"])
    instance: str = Field(description="The path of the request.", examples=["/api/v1/applications"])
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="Every broken rule, for validation problems."
    )
    current_revision: int | None = Field(
        default=None, description="With 412: the resource's current revision.", examples=[4]
    )
    current_etag: str | None = Field(
        default=None, description="With 412: the resource's current ETag.", examples=['"4"']
    )
    request_id: str = Field(
        description="The X-Request-ID of the request; quote it when reporting a problem.",
        examples=["5f0c6a1e9b7d4c2fa3e8d1b6c4a79e20"],
    )


def problem_response(
    request: Request,
    *,
    status: int,
    detail: str,
    slug: str | None = None,
    title: str | None = None,
    errors: Sequence[ProblemFieldError] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": _PROBLEM_TYPE_PREFIX + slug if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": current_request_id(),
    }
    headers = {**(headers or {}), "X-Request-ID": body["request_id"]}
    if errors is not None:
        body["errors"] = [error.model_dump(exclude_none=True) for error in errors]
    body.update(extensions or {})
    # "replace" keeps a lone surrogate echoed from the input from breaking the response itself.
    content = json.dumps(body, ensure_ascii=False).encode("utf-8", errors="replace")
    return Response(content, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _pointer(path: Sequence[int | str]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _message(error: dict[str, Any], field: str) -> str:
    rule = error["type"]
    if rule == "extra_forbidden":
        return f"unknown field {field!r}: it is not part of this request's schema"
    if rule == "missing":
        return f"{field or 'the body'} is required"
    if rule == "json_invalid":
        return f"the body is not valid JSON: {error.get('ctx', {}).get('error', 'parse error')}"
    message = str(error["msg"])
    return f"{field} {message}" if rule in _OWN_RULES else message


_OWN_RULES = {"ulid_format", "name_format", "text_nul"}


def field_error(error: dict[str, Any]) -> ProblemFieldError:
    location, *path = error["loc"] or ("body",)
    if error["type"] == "json_invalid":
        path = []
    field = ".".join(str(part) for part in path)
    return ProblemFieldError(
        location=str(location),
        field=field,
        rule=error["type"],
        message=_message(error, field),
        pointer=_pointer(path) if location == "body" else None,
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = [field_error(error) for error in exc.errors()]
    if any(error.rule == "json_invalid" for error in errors):
        return problem_response(
            request,
            status=400,
            slug="malformed-json",
            title="Malformed JSON body",
            detail=errors[0].message,
            errors=errors,
        )
    return _invalid(request, errors)


def _invalid(request: Request, errors: list[ProblemFieldError]) -> Response:
    summary = "; ".join(f"{error.field or error.location}: {error.message}" for error in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""  # noqa: PLR2004
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        title="Request failed validation",
        detail=summary + more,
        errors=errors,
    )


def _from_field_problem(problem: FieldProblem) -> ProblemFieldError:
    return ProblemFieldError(
        location=problem.location,
        field=problem.field,
        rule=problem.rule,
        message=problem.message,
        pointer=problem.pointer,
    )


async def _domain_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, InvalidRequest):
        return _invalid(request, [_from_field_problem(problem) for problem in exc.problems])
    if isinstance(exc, NotFound):
        return problem_response(
            request, status=404, slug="not-found", title="Resource not found", detail=str(exc)
        )
    if isinstance(exc, PreconditionFailed):
        return problem_response(
            request,
            status=412,
            slug="precondition-failed",
            title="Precondition failed",
            detail=str(exc),
            headers={"ETag": entity_tag(exc.current_version)},
            extensions={
                "current_revision": exc.current_revision,
                "current_etag": entity_tag(exc.current_version),
            },
        )
    if isinstance(exc, Conflict):
        return problem_response(
            request,
            status=409,
            slug="conflict",
            title="Conflict with the current state",
            detail=str(exc),
        )
    return await _unexpected_error(request, exc)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == HTTPStatus.NOT_FOUND and detail == "Not Found":
        detail = f"no route matches {request.method} {request.url.path[:200]}"
    headers = dict(exc.headers or {})
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        # Starlette's Allow names only the first route on the path; RFC 9110 wants them all.
        headers["Allow"] = _allowed_methods(request)
        detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
    return problem_response(request, status=exc.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Each method some route fully matches on this path (the router asked, not its internals)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    )


async def _database_unavailable(request: Request, exc: DatabaseUnavailable) -> Response:
    logger.warning("database unavailable: %s", exc.reason)
    return problem_response(
        request,
        status=503,
        slug="database-unavailable",
        title="Database unavailable",
        detail=f"{exc.reason}; retry after {exc.retry_after_seconds} s",
        headers={"Retry-After": str(exc.retry_after_seconds)},
    )


async def _constraint_conflict(request: Request, exc: Exception) -> Response:
    logger.warning("constraint conflict: %s", exc, exc_info=exc.__cause__ is not None)
    return problem_response(
        request,
        status=409,
        slug="conflict",
        title="Conflict with the current state",
        detail=str(exc),
    )


async def _unstorable_value(request: Request, exc: Exception) -> Response:
    logger.warning("value refused by the database: %r", exc.__cause__)
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        title="Request failed validation",
        detail=str(exc),
        errors=[],
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal server error",
        detail="the server failed to handle this request; it has been logged",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, cast(ExceptionHandler, _validation_error))
    app.add_exception_handler(StarletteHTTPException, cast(ExceptionHandler, _http_error))
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(DatabaseUnavailable, cast(ExceptionHandler, _database_unavailable))
    app.add_exception_handler(ConstraintConflict, _constraint_conflict)
    app.add_exception_handler(UnstorableValue, _unstorable_value)
    app.add_exception_handler(Exception, _unexpected_error)


_DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    404: "No such resource.",
    409: "The name is already taken.",
    413: "The body is larger than MAX_BODY_BYTES.",
    412: "If-Match does not name the current ETag; the body gives the current revision.",
    415: "The body is not sent with a supported Content-Type.",
    422: "The request breaks a rule; `errors` names each field and rule.",
    428: "REQUIRE_IF_MATCH is on and the write has no If-Match header.",
    503: "The database is unreachable, slow or every connection is busy; retry later.",
}

_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {
        "type": _PROBLEM_TYPE_PREFIX + "malformed-json",
        "title": "Malformed JSON body",
        "status": 400,
        "detail": "the body is not valid JSON: Expecting value",
        "instance": "/api/v1/applications",
        "errors": [
            {
                "location": "body",
                "field": "",
                "rule": "json_invalid",
                "message": "the body is not valid JSON: Expecting value",
                "pointer": "",
            }
        ],
    },
    404: {
        "type": _PROBLEM_TYPE_PREFIX + "not-found",
        "title": "Resource not found",
        "status": 404,
        "detail": "application 01JQ3V6KX8Q7M4Z2W9R5T1N0BC does not exist",
        "instance": "/api/v1/applications/01JQ3V6KX8Q7M4Z2W9R5T1N0BC",
    },
    409: {
        "type": _PROBLEM_TYPE_PREFIX + "conflict",
        "title": "Conflict with the current state",
        "status": 409,
        "detail": "an application named 'billing-service' already exists",
        "instance": "/api/v1/applications",
    },
    413: {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": "Request body is too large",
        "instance": "/api/v1/configurations",
    },
    415: {
        "type": "about:blank",
        "title": "Unsupported Media Type",
        "status": 415,
        "detail": "send the body as application/json (got 'text/plain')",
        "instance": "/api/v1/applications",
    },
    412: {
        "type": _PROBLEM_TYPE_PREFIX + "precondition-failed",
        "title": "Precondition failed",
        "status": 412,
        "detail": "configuration 01JQ3V7B2D4F6H8K0M2P4R6T8V is at revision 4, which the "
        "If-Match header does not name; fetch it again and retry with its ETag",
        "instance": "/api/v1/configurations/01JQ3V7B2D4F6H8K0M2P4R6T8V",
        "current_revision": 4,
        "current_etag": '"4"',
    },
    428: {
        "type": "about:blank",
        "title": "Precondition Required",
        "status": 428,
        "detail": "this server requires If-Match on writes: GET the resource and send its "
        "ETag in If-Match (or If-Match: * to overwrite whatever is there)",
        "instance": "/api/v1/configurations/01JQ3V7B2D4F6H8K0M2P4R6T8V",
    },
    422: {
        "type": _PROBLEM_TYPE_PREFIX + "validation-error",
        "title": "Request failed validation",
        "status": 422,
        "detail": "comment: unknown field 'comment'",
        "instance": "/api/v1/applications",
        "errors": [
            {
                "location": "body",
                "field": "comment",
                "rule": "extra_forbidden",
                "message": "unknown field 'comment': it is not part of this request's schema",
                "pointer": "/comment",
            }
        ],
    },
    503: {
        "type": _PROBLEM_TYPE_PREFIX + "database-unavailable",
        "title": "Database unavailable",
        "status": 503,
        "detail": "no database connection became free within 2 seconds; retry after 1 s",
        "instance": "/api/v1/applications",
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route can give."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"example": _EXAMPLES[status]}},
        }
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                }
            }
        responses[status] = entry
    return responses
