"""Typed errors: every error answer of the service (an RFC 9457 problem body) becomes one of
these, so callers catch `NotFound` or `PreconditionFailed` instead of reading status codes."""

from __future__ import annotations

import email.utils
import json
import math
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import httpx

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The longest body text kept from an answer that is no problem (say, a proxy's HTML page).
MAX_FOREIGN_TEXT = 200


class ConfigServiceError(Exception):
    """Anything this library raises about the service or its own set-up."""


class InsecureCacheDirectory(ConfigServiceError):
    """The cache directory (or a file in it) may be read by others than its owner."""


class ServiceUnreachable(ConfigServiceError):
    """No answer at all (connection refused, timed out, broken), and nothing cached to serve."""


class ProtocolViolation(ConfigServiceError):
    """An answer that is not what the service sends (a proxy's page, a document that is no
    JSON object): the URL probably points at something else."""


@dataclass(frozen=True)
class FieldError:
    """One broken rule of a `ValidationFailed` answer."""

    location: str
    field: str
    rule: str
    message: str
    pointer: str | None = None


class ProblemError(ConfigServiceError):
    """An error answer. `problem` is the whole problem body (empty when the answer had none)."""

    status: int
    retryable: ClassVar[bool] = False

    def __init__(self, status: int, problem: dict[str, Any], retry_after: float | None) -> None:
        self.status = status
        self.problem = problem
        self.type = str(problem.get("type", "about:blank"))
        self.title = str(problem.get("title", _phrase(status)))
        self.detail = str(problem.get("detail", ""))
        self.request_id = problem.get("request_id")
        self.retry_after = retry_after
        super().__init__(f"{status} {self.title}: {self.detail}" if self.detail else self.title)


class BadRequest(ProblemError):
    """400: the body was not valid JSON."""


class Unauthorized(ProblemError):
    """401: no key, or one that is unknown, revoked or expired."""


class Forbidden(ProblemError):
    """403: the key may not do this here."""


class NotFound(ProblemError):
    """404: no such application or configuration (or one the key does not reach)."""


class Conflict(ProblemError):
    """409: the name is taken, or the write raced another one."""


class PreconditionFailed(ProblemError):
    """412: `If-Match` did not name the current ETag; `current_etag` is the one to use."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: float | None) -> None:
        super().__init__(status, problem, retry_after)
        etag = problem.get("current_etag")
        revision = problem.get("current_revision")
        self.current_etag: str | None = etag if isinstance(etag, str) else None
        self.current_revision: int | None = revision if isinstance(revision, int) else None


class PreconditionRequired(ProblemError):
    """428: the service requires `If-Match` on writes."""


class ValidationFailed(ProblemError):
    """422: the request broke rules; `errors` lists each one with its field."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: float | None) -> None:
        super().__init__(status, problem, retry_after)
        raw = problem.get("errors")
        self.errors: list[FieldError] = [
            _field_error(item) for item in (raw if isinstance(raw, list) else [])
        ]


class RateLimited(ProblemError):
    """429: too many requests; retry after `retry_after` seconds."""

    retryable = True


class ServiceUnavailable(ProblemError):
    """503: the service's database is unavailable or it is shutting down; retry after
    `retry_after` seconds."""

    retryable = True


class ServerError(ProblemError):
    """Any other 5xx: a fault of the service (or of a proxy before it)."""

    retryable = True


class UnexpectedStatus(ProblemError):
    """A status this library does not expect from the service."""


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: ValidationFailed,
    428: PreconditionRequired,
    429: RateLimited,
    503: ServiceUnavailable,
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _field_error(item: Any) -> FieldError:
    data = item if isinstance(item, dict) else {}
    pointer = data.get("pointer")
    return FieldError(
        location=str(data.get("location", "")),
        field=str(data.get("field", "")),
        rule=str(data.get("rule", "")),
        message=str(data.get("message", "")),
        pointer=pointer if isinstance(pointer, str) else None,
    )


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """RFC 9110 Retry-After: a number of seconds or an HTTP date; None when absent or not
    understood (a negative or non-finite number, an unreadable date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit alone also admits "²" and "١٢"
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    seconds = moment.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def problem_body(response: httpx.Response) -> dict[str, Any]:
    """The problem body of an error answer; for an answer that has none (a proxy's page), a
    body made of its status and the start of its text."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in (PROBLEM_MEDIA_TYPE, "application/json"):
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body
    text = response.content[:MAX_FOREIGN_TEXT].decode("utf-8", errors="replace").strip()
    detail = f"an answer that is no problem body ({content_type or 'no content type'})"
    return {"title": _phrase(response.status_code), "detail": f"{detail}: {text!r}"}


def error_from_response(response: httpx.Response) -> ProblemError:
    """The typed error for an error answer (its body must have been read)."""
    status = response.status_code
    kind = _BY_STATUS.get(status)
    if kind is None:
        kind = ServerError if status >= 500 else UnexpectedStatus  # noqa: PLR2004
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    return kind(status, problem_body(response), retry_after)
