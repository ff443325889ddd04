"""The OpenAPI document: FastAPI's, with error responses under application/problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.problems import PROBLEM_MEDIA_TYPE

DESCRIPTION = """
Config Service stores **configurations**: named JSON documents owned by **applications**.

* Create an application, then configurations that belong to it.
* Ids are ULIDs made by the service; lists are ordered by id and paged with `limit` and
  `after`; the `Link: <…>; rel="next"` header gives the next page.
* Every error is an RFC 9457 `application/problem+json` body; validation problems list each
  field and rule in `errors`.
"""


def _move_error_content(schema: dict[str, Any]) -> None:
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:  # noqa: PLR2004
                    generated = content.pop("application/json")
                    content.setdefault(PROBLEM_MEDIA_TYPE, {}).update(
                        {"schema": generated["schema"]}
                    )


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
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
