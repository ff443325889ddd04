"""The OpenAPI document: FastAPI's, with error responses under application/problem+json."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.auth.authorization import BEARER_SCHEME
from api.edge.rate_limit import is_rate_limited_path
from api.operations import HEALTH_MEDIA_TYPE
from api.problems.examples import problem_responses
from api.problems.schema import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX
from api.v1.request_bodies import MERGE_PATCH_EXAMPLES, MERGE_PATCH_MEDIA_TYPE
from models.json_document_schema import JSON_DOCUMENT_SCHEMAS

DESCRIPTION = """
Config Service stores **configurations**: named JSON documents owned by **applications**.

* Create an application, then configurations that belong to it.
* Ids are ULIDs made by the service; lists are ordered by id and paged with `limit` and
  `after`; the `Link: <…>; rel="next"` header gives the next page.
* Every `/api/v1` call needs an API key (`Authorization: Bearer cs_...`) or an identity token
  (a JWT from a trusted OpenID Connect issuer, let in by a binding); use **Authorize** above.
  Keys and bindings have a role (`admin`, `write`, `read`) and may be limited to some
  applications.
* Every error is an RFC 9457 `application/problem+json` body; validation problems list each
  field and rule in `errors`.
"""


def _move_error_content(schema: dict[str, Any]) -> None:
    """FastAPI files a route's error models under the route's own media type; errors are
    always problem+json."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) < 400:  # noqa: PLR2004
                    continue
                # Health answers are health+json even when failing (api/operations.py).
                kept = {PROBLEM_MEDIA_TYPE, HEALTH_MEDIA_TYPE}
                generated = [media for media in content if media not in kept]
                for media in generated:
                    moved = content.pop(media)
                    content.setdefault(PROBLEM_MEDIA_TYPE, {})["schema"] = moved["schema"]


def _restore_merge_patch_examples(schema: dict[str, Any]) -> None:
    for path_item in schema.get("paths", {}).values():
        body = path_item.get("patch", {}).get("requestBody", {})
        content = body.get("content", {}).get(MERGE_PATCH_MEDIA_TYPE)
        if content is not None:
            content["examples"] = MERGE_PATCH_EXAMPLES


REQUEST_ID_HEADER_DOC: dict[str, Any] = {
    "description": "The caller's X-Request-ID when it is 1-128 characters of A-Z a-z 0-9 . _ -, "
    "otherwise a fresh id; problem bodies carry it as request_id.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
}


def _describe_request_id(schema: dict[str, Any]) -> None:
    """Every response carries X-Request-ID (api/edge/request_context.py); say so on each one."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {})["X-Request-ID"] = REQUEST_ID_HEADER_DOC


_RATE_LIMITED = {
    "description": "Too many requests from this key, identity or address, or too many failed "
    "authentications from this address (see README, Rate limits).",
    "headers": {
        "Retry-After": {
            "description": "Seconds until one more request is allowed.",
            "schema": {"type": "integer", "minimum": 1},
        },
        "RateLimit-Policy": {
            "description": "The quota policies (draft-ietf-httpapi-ratelimit-headers-11).",
            "schema": {"type": "string"},
        },
        "RateLimit": {
            "description": "What is left under each policy.",
            "schema": {"type": "string"},
        },
    },
    "content": {
        PROBLEM_MEDIA_TYPE: {
            "schema": {"$ref": "#/components/schemas/Problem"},
            "example": {
                "type": PROBLEM_TYPE_PREFIX + "rate-limited",
                "title": "Too many requests",
                "status": 429,
                "detail": "too many requests for this key: at most 200 at once, then 100 a "
                "second (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST); retry after 1 s",
                "instance": "/api/v1/applications",
            },
        }
    },
}


def _describe_rate_limits(schema: dict[str, Any]) -> None:
    """Every rate-limited operation may answer 429 (api/edge/rate_limit.py)."""
    for path, path_item in schema.get("paths", {}).items():
        if is_rate_limited_path(path):
            for operation in path_item.values():
                operation["responses"].setdefault("429", deepcopy(_RATE_LIMITED))


def _describe_authorization(schema: dict[str, Any]) -> None:
    """Every /api/v1 operation needs a key (api/auth/authorization.py), and may answer 401 and
    403."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["HTTPBearer"] = BEARER_SCHEME
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            if path.startswith("/api/v1"):
                operation["security"] = [{"HTTPBearer": []}]
                responses = operation.setdefault("responses", {})
                for status, entry in problem_responses(401, 403).items():
                    documented = {**entry, "content": {**entry["content"]}}
                    documented["content"][PROBLEM_MEDIA_TYPE] = {
                        **entry["content"][PROBLEM_MEDIA_TYPE],
                        "schema": {"$ref": "#/components/schemas/Problem"},
                    }
                    del documented["model"]
                    responses.setdefault(str(status), documented)


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            _move_error_content(schema)
            _describe_rate_limits(schema)
            _describe_authorization(schema)
            _describe_request_id(schema)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                JSON_DOCUMENT_SCHEMAS
            )
            _restore_merge_patch_examples(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
