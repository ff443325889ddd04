"""The two names of a values path, read from the raw path."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.requests import Request


def names_from_raw_path(request: Request) -> tuple[str, str]:
    """The two names, split on the raw path: Starlette has already decoded `%2F` to `/` in
    the path it routes on, so only the raw one tells a `/` in a name from a separator."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    segments = raw.split(b"/")
    if len(segments) < 3 or segments[-3] != b"values":  # noqa: PLR2004
        raise HTTPException(
            404,
            detail="a values path is /api/v1/values/{application_name}/{configuration_name}"
            " with `/` in a name written as %2F",
        )
    try:
        return unquote_to_bytes(segments[-2]).decode(), unquote_to_bytes(segments[-1]).decode()
    except UnicodeDecodeError:
        raise HTTPException(404, detail="a name in the path is not valid UTF-8") from None
