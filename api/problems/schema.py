"""RFC 9457 problem details: the body every error response has, and how it is sent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field

from api.problems.limits import MAX_PROBLEM_TEXT, capped_errors, shorten
from config.logging_setup import current_request_id, hide_api_keys
from identity.rejections import TokenRejection
from models.base import ApiModel

PROBLEM_MEDIA_TYPE = "application/problem+json"


PROBLEM_TYPE_PREFIX = "urn:config-service:problem:"


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
        examples=[PROBLEM_TYPE_PREFIX + "validation-error"],
    )
    title: str = Field(examples=["Request failed validation"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["name: String should have at most 256 characters"])
    instance: str = Field(description="The path of the request.", examples=["/api/v1/applications"])
    errors: list[ProblemFieldError] | None = Field(
        default=None,
        description="Every broken rule, for validation problems (as many as fit in 64 KiB).",
    )
    errors_omitted: int | None = Field(
        default=None, description="How many more errors there were than `errors` lists."
    )
    current_revision: int | None = Field(
        default=None, description="With 412: the resource's current revision.", examples=[4]
    )
    current_etag: str | None = Field(
        default=None, description="With 412: the resource's current ETag.", examples=['"4"']
    )
    reason: TokenRejection | None = Field(
        default=None,
        description="With 401 for an identity token: why it was refused.",
        examples=["expired"],
    )
    request_id: str = Field(
        description="The X-Request-ID of the request; quote it when reporting a problem.",
        examples=["5f0c6a1e9b7d4c2fa3e8d1b6c4a79e20"],
    )


def raw_path(request: Request) -> str:
    """The path as the client sent it (still percent-encoded: `%2F` stays `%2F`)."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return request.url.path


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
        "type": PROBLEM_TYPE_PREFIX + slug if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        # A key pasted into a URL or a body must not come back: only its prefix does.
        "detail": shorten(hide_api_keys(detail), 4 * MAX_PROBLEM_TEXT),
        "instance": hide_api_keys(raw_path(request)),
        "request_id": current_request_id(),
    }
    headers = {**(headers or {}), "X-Request-ID": body["request_id"]}
    preference_applied = getattr(request.state, "preference_applied", None)
    if preference_applied is not None:  # a long poll that ended in a problem after waiting
        headers["Preference-Applied"] = preference_applied
    if errors is not None:
        body["errors"], omitted = capped_errors(
            (error.model_dump(exclude_none=True) for error in errors), count=len(errors)
        )
        for item in body["errors"]:
            for name in ("field", "pointer", "message"):
                if name in item:
                    item[name] = hide_api_keys(item[name])
        if omitted:
            body["errors_omitted"] = omitted
    body.update(extensions or {})
    # "replace" keeps a lone surrogate echoed from the input from breaking the response itself.
    content = json.dumps(body, ensure_ascii=False).encode("utf-8", errors="replace")
    return Response(content, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)
