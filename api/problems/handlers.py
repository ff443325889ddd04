"""The one place where errors become HTTP problem responses (RFC 9457): each kind of error
has its handler here, and domain errors get their HTTP words (headers, ETags, body locations).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ExceptionHandler

from api.edge.rate_limit import RateLimited
from api.edge.request_context import CLIENT_CLOSED_REQUEST
from api.problems.limits import shorten
from api.problems.schema import ProblemFieldError, problem_response
from api.v1.conditional import entity_tag
from database.errors import ConstraintConflict, DatabaseUnavailable, UnstorableValue
from identity.rejections import TokenRejected
from models.json_document import json_pointer
from services.configuration_rules import no_key_for_secrets
from services.errors import (
    ConcurrentModification,
    Conflict,
    DomainError,
    FieldProblem,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
)
from services.secret_values.errors import (
    SecretKeyUnavailable,
    SecretUndecryptable,
    SecretValueError,
    SecretWouldShow,
)

logger = logging.getLogger(__name__)

# A missing key comes back only when an operator adds it: clients need not ask often.
SECRETS_RETRY_AFTER_SECONDS = 30


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
        pointer=json_pointer(path) if location == "body" else None,
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
    summary = "; ".join(
        f"{shorten(error.field or error.location)}: {shorten(error.message)}"
        for error in errors[:3]
    )
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
    """A service names fields of what was written, which the request's body carries."""
    return ProblemFieldError(
        location="body",
        field=problem.field,
        rule=problem.rule,
        message=problem.message,
        pointer=problem.pointer,
    )


def _precondition_failed_detail(exc: PreconditionFailed) -> str:
    where = f"{exc.resource} {exc.resource_id} is at revision {exc.current.value.revision}"
    if exc.current.version != exc.current.value.revision:
        # An application's version also counts its configurations coming and going.
        version = exc.current.version
        where = f'{exc.resource} {exc.resource_id} is at version {version} (ETag "{version}")'
    if exc.unwanted:
        return (
            f"{where}, which the If-None-Match header excludes (it names the current ETag, or "
            "is * and the resource exists); nothing was written"
        )
    return (
        f"{where}, which the If-Match header does not name; fetch it again and retry with its ETag"
    )


def _conflict_detail(exc: Conflict) -> str:
    if isinstance(exc, ConcurrentModification):
        return (
            f"{exc.resource} {exc.resource_id} was changed by other requests while this one was "
            "applied; retry (with If-Match to base it on a state you have seen)"
        )
    return str(exc)


def _conflict(request: Request, detail: str) -> Response:
    return problem_response(
        request, status=409, slug="conflict", title="Conflict with the current state", detail=detail
    )


async def _domain_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, InvalidRequest):
        return _invalid(request, [_from_field_problem(problem) for problem in exc.problems])
    if isinstance(exc, NotFound):
        return problem_response(
            request, status=404, slug="not-found", title="Resource not found", detail=str(exc)
        )
    if isinstance(exc, PreconditionFailed):
        etag = entity_tag(exc.current.version)
        return problem_response(
            request,
            status=412,
            slug="precondition-failed",
            title="Precondition failed",
            detail=_precondition_failed_detail(exc),
            headers={"ETag": etag},
            extensions={"current_revision": exc.current.value.revision, "current_etag": etag},
        )
    if isinstance(exc, Conflict):
        return _conflict(request, _conflict_detail(exc))
    if isinstance(exc, SecretWouldShow):
        return _secret_would_show(request, exc)
    return await _unexpected_error(request, exc)


def _secret_would_show(request: Request, exc: SecretWouldShow) -> Response:
    """A caller that may not reveal secrets tried to unmark one whose value stays: 403, naming
    each location (places, never values)."""
    return problem_response(
        request,
        status=403,
        slug="secret-would-show",
        title="The write would show a secret value",
        detail=str(exc),
        errors=[
            ProblemFieldError(
                location="body",
                field="secrets",
                rule="secret_reveal_needed",
                message=f"the secret at {location} would show to every caller; only a key "
                "that may reveal secrets can unmark it while its value stays",
                pointer="/config" + location,
            )
            for location in exc.locations
        ],
    )


async def _secret_value_error(request: Request, exc: Exception) -> Response:
    """No key to seal with: the request cannot be done here (422, naming the setting). Stored
    secrets that do not open: the data is kept, the key is missing (or wrong), so an operator
    must act (503, naming the key id); never a 500, and nothing about any value is said."""
    if not isinstance(exc, SecretKeyUnavailable | SecretUndecryptable):
        return _invalid(request, [_from_field_problem(no_key_for_secrets())])
    logger.warning("secret values cannot be decrypted: %s", exc)
    return problem_response(
        request,
        status=503,
        slug="secrets-key-unavailable",
        title="Secret values cannot be decrypted",
        detail=str(exc),
        headers={"Retry-After": str(SECRETS_RETRY_AFTER_SECONDS)},
        extensions={"key_id": exc.key_id},
    )


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


async def _token_rejected(request: Request, exc: TokenRejected) -> Response:
    """An identity token that proves nothing: 401, naming the reason, never quoting it."""
    return problem_response(
        request,
        status=401,
        slug="invalid-token",
        title="Identity token refused",
        detail=f"the identity token is refused ({exc.reason.value}): {exc.message}",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        extensions={"reason": exc.reason.value},
    )


async def _rate_limited(request: Request, exc: RateLimited) -> Response:
    """An identity's budget, spent (found once its token was verified)."""
    return problem_response(
        request,
        status=429,
        slug="rate-limited",
        title="Too many requests",
        detail=exc.detail,
        headers=exc.headers,
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
    return _conflict(request, str(exc))


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


async def _client_disconnected(request: Request, exc: Exception) -> Response:
    """The client closed its connection before its whole request was read: nothing went wrong
    here, and nobody is left to answer. Said at info, without a traceback."""
    logger.info(
        "the client closed the connection before sending the whole request: %s %s",
        request.method,
        request.url.path[:200],
    )
    return Response(status_code=CLIENT_CLOSED_REQUEST)


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
    app.add_exception_handler(SecretValueError, _secret_value_error)

    app.add_exception_handler(TokenRejected, cast(ExceptionHandler, _token_rejected))
    app.add_exception_handler(RateLimited, cast(ExceptionHandler, _rate_limited))
    app.add_exception_handler(DatabaseUnavailable, cast(ExceptionHandler, _database_unavailable))
    app.add_exception_handler(ConstraintConflict, _constraint_conflict)
    app.add_exception_handler(UnstorableValue, _unstorable_value)
    app.add_exception_handler(ClientDisconnect, _client_disconnected)
    app.add_exception_handler(Exception, _unexpected_error)
