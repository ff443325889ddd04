"""GET /api/v1/values/{application_name}/{configuration_name}: the document itself, by name.

Async, so that a read served from memory costs no threadpool hop and a long poll holds no
thread: the database is only reached through `run_in_threadpool` on a cache miss.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.app_state import get_delivery, get_secret_cipher
from api.auth.authorization import ApplicationFrom, Permission, requires
from api.edge.hot_routes import served_raw
from api.problems.examples import problem_responses
from api.v1.conditional import entity_tag, none_match
from api.v1.delivery_reads import (
    DELIVERY_HEADERS_DOC,
    DOCUMENT_EXAMPLE,
    NOT_MODIFIED_WAIT_DOC,
    READ_HEADERS_DOC,
    reached,
    read_document,
    without_query,
)
from api.v1.representations import REVEALED_HEADERS, record_reveal, reveals
from api.v1.value_names import names_from_raw_path
from delivery.response_cache import json_bytes
from models.fields import MAX_REVISION
from services.secret_values.views import view

router = APIRouter(tags=["delivery"])


# Both names match `:path`, so that one beginning or ending with `/` (sent as %2F, so an empty
# segment once decoded) still matches the route; the names themselves are read from the raw
# path (api/v1/value_names.py), where %2F is still told apart from a separator.
@router.get(
    "/values/{application_name:path}/{configuration_name:path}",
    summary="Get a configuration's document by name",
    dependencies=[requires(Permission.READ, ApplicationFrom.NAMES)],
    description="The document itself (not wrapped), served from this instance's memory when "
    "it can be trusted. Percent-encode the names (a space as `%20`, `/` as `%2F`). "
    "`?revision=N` gives an older revision's document. With If-None-Match and `Prefer: "
    'wait=N` this is a long poll. Secret values show as "********" unless the key may reveal '
    "them (then the ETag ends in `-revealed`, with `Cache-Control: private, no-store`).",
    response_class=Response,
    openapi_extra=READ_HEADERS_DOC,
    responses={
        200: {
            "description": "The document.",
            "headers": DELIVERY_HEADERS_DOC,
            "content": {
                "application/json": {"schema": {"type": "object"}, "example": DOCUMENT_EXAMPLE}
            },
        },
        **NOT_MODIFIED_WAIT_DOC,
        **problem_responses(404, 422, 503, secrets=True),
    },
)
@served_raw(read_document, accepts=without_query)
async def get_values(
    request: Request,
    application_name: Annotated[str, Path(description="The application's name.")],
    configuration_name: Annotated[str, Path(description="The configuration's name.")],
    revision: Annotated[
        int | None,
        Query(ge=1, le=MAX_REVISION, description="An older revision's document instead."),
    ] = None,
) -> Response:
    del application_name, configuration_name  # read from the raw path
    application_name, name = names_from_raw_path(request)
    if revision is not None:
        return await _older_revision(request, application_name, name, revision)
    return await read_document(request)


async def _older_revision(
    request: Request, application_name: str, name: str, revision: int
) -> Response:
    delivery = get_delivery(request)
    found = await run_in_threadpool(
        delivery.service.get_revision_by_names,
        application_name=application_name,
        name=name,
        revision=revision,
    )
    # By the revision's own configuration, not by name again: a rename in between must neither
    # show another application's document nor judge its secrets by this one's permission.
    application_id = await delivery.owner_of(found.configuration_id) or ""
    reached(request, application_id, application_name)
    revealing = reveals(request, application_id=application_id, secrets=found.secrets)
    headers = {
        "ETag": entity_tag(found.revision, revealed=revealing),
        "Config-Revision": str(found.revision),
        **(REVEALED_HEADERS if revealing else {}),
    }
    if none_match(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    shown = view(found, reveal=revealing, cipher=get_secret_cipher(request))
    if revealing:  # once the values opened: a 503 for a missing key shows nothing
        await record_reveal(
            request,
            configuration_id=found.configuration_id,
            application_id=application_id,
            revision=found.revision,
        )
    return Response(json_bytes(shown.config), media_type="application/json", headers=headers)
