"""Routes for a configuration's history: its revisions, diffs between them, and restores."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api.app_state import DeliveryDep
from api.auth.authorization import ApplicationFrom, Permission, requires
from api.problems.examples import problem_responses
from api.v1.conditional import TAGGED, IfNoneMatch, PreconditionDep
from api.v1.dependencies import ConfigurationServiceDep
from api.v1.pagination import LINK_HEADER_DOC, add_next_link
from api.v1.paths import ConfigurationIdPath, RevisionPath
from api.v1.representations import (
    NOT_MODIFIED_REPRESENTATION,
    REVEALED_HEADER_DOC,
    SHOWN,
    OwnerDep,
    present,
    shown_page,
    written,
)
from api.v1.request_bodies import JsonLimitsRoute, OptionalJsonBody
from models.configuration import Configuration, ConfigurationRevision, RestoreRequest
from models.fields import MAX_REVISION

router = APIRouter(prefix="/configurations", tags=["configurations"], route_class=JsonLimitsRoute)

JSON_PATCH_MEDIA_TYPE = "application/json-patch+json"


class JsonPatchResponse(JSONResponse):
    media_type = JSON_PATCH_MEDIA_TYPE


@router.get(
    "/{configuration_id}/revisions",
    summary="List a configuration's revisions, newest first",
    dependencies=[requires(Permission.READ, ApplicationFrom.CONFIGURATION)],
    description="Follow the `Link` header for older ones. Secret values show as "
    '"********" unless the key may reveal them.',
    responses={
        200: {"headers": {**LINK_HEADER_DOC, **REVEALED_HEADER_DOC}},
        **problem_responses(404, 422, 503, secrets=True),
    },
)
def list_revisions(
    configuration_id: ConfigurationIdPath,
    owner: OwnerDep,
    service: ConfigurationServiceDep,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    after: Annotated[
        int | None,
        Query(ge=1, le=MAX_REVISION, description="Return revisions older than this one."),
    ] = None,
) -> list[ConfigurationRevision]:
    page = service.list_revisions(configuration_id=configuration_id, before=after, limit=limit)
    add_next_link(request, response, page, limit=limit)
    return shown_page(request, response, page.items, application_id=owner)


@router.get(
    "/{configuration_id}/revisions/{revision}",
    summary="Get one revision",
    dependencies=[requires(Permission.READ, ApplicationFrom.CONFIGURATION)],
    response_model=ConfigurationRevision,
    responses={
        **SHOWN,
        **NOT_MODIFIED_REPRESENTATION,
        **problem_responses(404, 422, 503, secrets=True),
    },
)
def get_revision(
    configuration_id: ConfigurationIdPath,
    revision: RevisionPath,
    owner: OwnerDep,
    service: ConfigurationServiceDep,
    request: Request,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> Any:
    found = service.get_revision(configuration_id=configuration_id, revision=revision)
    return present(request, response, found, application_id=owner, if_none_match=if_none_match)


@router.post(
    "/{configuration_id}/revisions/{revision}/restore",
    summary="Restore a revision",
    description="Makes a new revision whose config, schema, secrets and comments are those of "
    "the given one, secret values included (the name stays). History only grows. The body is "
    'optional; the answer shows secrets as "********".',
    dependencies=[requires(Permission.WRITE, ApplicationFrom.CONFIGURATION), OptionalJsonBody],
    responses={
        **TAGGED,
        **problem_responses(400, 404, 409, 412, 413, 415, 422, 428, 503, secrets=True),
    },
)
def restore_revision(
    configuration_id: ConfigurationIdPath,
    revision: RevisionPath,
    service: ConfigurationServiceDep,
    delivery: DeliveryDep,
    precondition: PreconditionDep,
    response: Response,
    body: RestoreRequest | None = None,
) -> Configuration:
    restored = service.restore(
        configuration_id=configuration_id,
        revision=revision,
        message=body.message if body else None,
        precondition=precondition,
    )
    delivery.written(restored.value)
    return written(response, restored)


@router.get(
    "/{configuration_id}/diff",
    summary="Diff two revisions as a JSON Patch",
    dependencies=[requires(Permission.READ, ApplicationFrom.CONFIGURATION)],
    description="An RFC 6902 JSON Patch that turns revision `from`'s config into revision "
    "`to`'s (either may be the older one). A changed secret is a `replace` whose value is "
    '"********", for every caller: never the values.',
    response_class=JsonPatchResponse,
    responses={
        200: {
            "description": "The JSON Patch operations.",
            "content": {
                JSON_PATCH_MEDIA_TYPE: {
                    "example": [
                        {"op": "replace", "path": "/database/pool_size", "value": 40},
                        {"op": "remove", "path": "/features/new_checkout"},
                    ],
                }
            },
        },
        **problem_responses(404, 422, 503, secrets=True),
    },
)
def diff_revisions(
    configuration_id: ConfigurationIdPath,
    service: ConfigurationServiceDep,
    source: Annotated[
        int, Query(alias="from", ge=1, le=MAX_REVISION, description="The revision to start from.")
    ],
    target: Annotated[
        int, Query(alias="to", ge=1, le=MAX_REVISION, description="The revision to arrive at.")
    ],
) -> list[dict[str, Any]]:
    return service.diff(configuration_id=configuration_id, source=source, target=target)
