"""The body of a merge-patch request (RFC 7396): its media type, its examples, and its
parsing into the typed patch the service applies."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException

from models.configuration import ConfigurationPatch
from models.fields import ChangeMessage
from models.json_document import find_document_problems
from services.configuration_rules import document_problems
from services.errors import FieldProblem, InvalidRequest

MERGE_PATCH_MEDIA_TYPE = "application/merge-patch+json"
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
}


def require_merge_patch(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != MERGE_PATCH_MEDIA_TYPE:
        raise HTTPException(
            415,
            detail=f"send the patch as {MERGE_PATCH_MEDIA_TYPE} (RFC 7396); "
            f"got {media_type or 'no Content-Type header'!r}",
        )


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
