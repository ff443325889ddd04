"""Keyset pagination: `limit` and `after` in, an RFC 8288 `Link: rel="next"` header out."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from models.page import Page

LINK_HEADER_DOC: dict[str, Any] = {
    "Link": {
        "description": 'RFC 8288 link to the next page, `<url>; rel="next"`; '
        "absent on the last page.",
        "schema": {"type": "string"},
    }
}


def add_next_link(request: Request, response: Response, page: Page[Any], *, limit: int) -> None:
    if page.next_after is not None:
        url = request.url.include_query_params(after=page.next_after, limit=limit)
        response.headers["Link"] = f'<{url}>; rel="next"'
