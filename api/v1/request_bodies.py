"""Request bodies: their media type (read here, in one place), JSON parsed with the service's
limits named, and the merge patch (RFC 7396) a PATCH sends.

A body must be declared as JSON (`JsonBody`; `OptionalJsonBody` where it may be left out), or as
a merge patch for PATCH; anything else is a 415.

Python's parser refuses integers of more than `sys.get_int_max_str_digits()` digits (4,300 by
default: converting between text and int takes quadratic time, so the limit is kept) and nesting
deeper than its recursion limit (about 1,000). FastAPI would answer both with a bare
"There was an error parsing the body" 400; `JsonLimitsRoute` parses the body first and answers
them with a 422 problem naming the limit. Other malformed JSON is left to FastAPI (400), and
the parsed document is handed to it, so a body is parsed only once.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException

from api.app_state import get_settings
from models.configuration import ConfigurationPatch
from models.fields import ChangeMessage
from models.json_document import find_document_problems
from services.configuration_rules import document_problems
from services.errors import FieldProblem, InvalidRequest

MERGE_PATCH_MEDIA_TYPE = "application/merge-patch+json"
_DIGIT_COUNT = re.compile(r"value has (?P<digits>[0-9]+) digits")
_MESSAGE = TypeAdapter(ChangeMessage | None)

# FastAPI drops None from examples, and a merge patch's nulls are the point: the examples are
# put back verbatim into the OpenAPI document by api/openapi/document.py.
MERGE_PATCH_EXAMPLES: dict[str, Any] = {
    "change one value": {
        "summary": "Change one value, with a message",
        "value": {"config": {"database": {"pool_size": 40}}, "message": "more connections"},
    },
    "remove a key and the schema": {
        "summary": "Remove a key (null) and drop the schema",
        "value": {"config": {"features": None}, "schema": None},
    },
    "mark a secret": {
        "summary": "Set a database URL and mark it secret (the list is replaced whole)",
        "value": {
            "config": {"database": {"url": "postgresql://app:s3cr3t-pa55@db.internal/pay"}},
            "secrets": ["/database/url"],
        },
    },
    "write back a masked value": {
        "summary": "The placeholder at a secret location keeps the stored value",
        "value": {"config": {"database": {"url": "********", "pool_size": 40}}},
    },
}


def media_type(request: Request) -> str:
    """The body's media type, `type/subtype` in lowercase ("" without a Content-Type)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    """`application/json` and the `+json` types (merge patch among them)."""
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def check_json_body(request: Request) -> None:
    """Bodies must be declared as JSON, so a form post or a typo'd header is not misread."""
    if not is_json(media_type(request)):
        content_type = request.headers.get("content-type", "")
        shown = repr(content_type[:100]) if content_type else "no Content-Type header"
        raise HTTPException(415, detail=f"send the body as application/json (got {shown})")


# The dependencies below are `async def` though they never wait: FastAPI runs a plain `def`
# dependency in the thread pool, a hop per request.


async def require_json_body(request: Request) -> None:
    check_json_body(request)


async def require_json_body_if_any(request: Request) -> None:
    """For routes whose body is optional: a body that is sent must be JSON too."""
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    if has_body:
        check_json_body(request)


async def require_merge_patch(request: Request) -> None:
    media = media_type(request)
    if media != MERGE_PATCH_MEDIA_TYPE:
        raise HTTPException(
            415,
            detail=f"send the patch as {MERGE_PATCH_MEDIA_TYPE} (RFC 7396); "
            f"got {media or 'no Content-Type header'!r}",
        )


JsonBody = Depends(require_json_body)
OptionalJsonBody = Depends(require_json_body_if_any)


class JsonLimitsRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def parse_then_handle(request: Request) -> Response:
            if self.body_field is not None:
                # FastAPI reads this body next, whatever its type, and calls a client that
                # leaves midway "an error parsing the body" (400). Read here, leaving is a
                # ClientDisconnect (a 499, api/problems/handlers.py); FastAPI gets the bytes.
                await request.body()
            await parse_json_body(request)
            return await handle(request)

        return parse_then_handle


async def parse_json_body(request: Request) -> None:
    media = media_type(request)
    if media and not is_json(media):  # none given counts as JSON, as it does for FastAPI
        return
    body = await request.body()
    if not body:
        return
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return  # FastAPI reports where the JSON breaks (400 malformed-json)
    except RecursionError:
        max_depth = get_settings(request).max_json_depth
        raise _refused(
            "nesting_too_deep",
            f"objects and arrays may be nested at most {max_depth} levels deep "
            "(MAX_JSON_DEPTH); this body nests too deep to be read at all",
        ) from None
    except ValueError as error:
        found = _DIGIT_COUNT.search(str(error))
        if found is None:
            return  # not a limit of ours (bad UTF-8, say): FastAPI answers it
        raise _refused(
            "number_too_long",
            f"integers may have at most {sys.get_int_max_str_digits()} digits "
            f"(one here has {found['digits']}); send longer ones as strings",
        ) from None
    # Starlette's cache of the parsed body, which FastAPI's own `await request.json()` reads.
    request._json = document


def _refused(rule: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": rule, "loc": ("body",), "msg": message, "input": None}])


def parse_merge_patch(patch: object, *, max_json_depth: int) -> ConfigurationPatch:
    """The patch with its top-level `message` taken out; InvalidRequest (a 422 naming places
    in the body) when it is not an object, is nested too deep or has a bad message."""
    if not isinstance(patch, dict):
        raise InvalidRequest(
            [
                FieldProblem.at(
                    "",
                    rule="merge_patch_object",
                    message="a merge patch of a configuration must be a JSON object",
                )
            ]
        )
    # The patch holds the documents one level down, so it may be one level deeper; the
    # patched config and schema are then held to the limit itself.
    problems = find_document_problems(patch, max_depth=max_json_depth + 1)
    if problems:
        raise InvalidRequest(document_problems(problems))
    members = dict(patch)
    try:
        message = _MESSAGE.validate_python(members.pop("message", None), strict=True)
    except ValidationError as error:
        raise InvalidRequest(
            [
                FieldProblem.at("/message", rule=item["type"], message=item["msg"])
                for item in error.errors(include_url=False)
            ]
        ) from error
    return ConfigurationPatch(members=members, message=message)
