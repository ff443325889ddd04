"""Routes for /api/v1/configurations: the documents, their history, diffs and restores."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from api.auth.authorization import ApplicationFrom, Permission, requires
from api.merge_patch_input import (
    MERGE_PATCH_EXAMPLES,
    MERGE_PATCH_MEDIA_TYPE,
    parse_merge_patch,
    require_merge_patch,
)
from api.problems.handlers import problem_responses
from api.v1.applications import LOCATION_HEADER_DOC, NOT_MODIFIED
from api.v1.conditional import (
    ETAG_HEADER_DOC,
    IfNoneMatch,
    PreconditionDep,
    tagged,
    tagged_or_not_modified,
)
from api.v1.delivery_reads import (
    DELIVERY_HEADERS_DOC,
    NOT_MODIFIED_WAIT_DOC,
    READ_HEADERS_DOC,
    delivery_response,
)
from api.v1.dependencies import ConfigurationServiceDep, JsonBody, OptionalJsonBody, SettingsDep
from api.v1.links import CONFIGURATION_LINKS
from api.v1.pagination import LINK_HEADER_DOC, add_next_link
from api.v1.request_bodies import JsonLimitsRoute
from delivery.runtime import DeliveryDep, by_id, get_delivery, read_until_changed
from models.configuration import (
    Configuration,
    ConfigurationCreate,
    ConfigurationRevision,
    ConfigurationUpdate,
    MergePatchBody,
    RestoreRequest,
)
from models.fields import ConfigurationId

router = APIRouter(prefix="/configurations", tags=["configurations"], route_class=JsonLimitsRoute)

JSON_PATCH_MEDIA_TYPE = "application/json-patch+json"
MAX_REVISION = 2**31 - 1

ConfigurationIdPath = Annotated[
    ConfigurationId, Path(description="The configuration's id (a ULID, either case).")
]
RevisionPath = Annotated[
    int, Path(ge=1, le=MAX_REVISION, description="A revision number (1 is the first).")
]


class JsonPatchResponse(JSONResponse):
    media_type = JSON_PATCH_MEDIA_TYPE


@router.post(
    "",
    status_code=201,
    summary="Create a configuration",
    description="`application_id` in the body names the owning application; an unknown one "
    "is a 422. With a `schema`, `config` must satisfy it. This is revision 1.",
    dependencies=[requires(Permission.WRITE, ApplicationFrom.BODY), JsonBody],
    responses={
        201: {
            "description": "Created.",
            "headers": {**LOCATION_HEADER_DOC, **ETAG_HEADER_DOC},
            "links": CONFIGURATION_LINKS,
        },
        **problem_responses(400, 409, 413, 415, 422, 503),
    },
)
def create_configuration(
    body: ConfigurationCreate,
    service: ConfigurationServiceDep,
    delivery: DeliveryDep,
    request: Request,
    response: Response,
) -> Configuration:
    configuration = service.create(data=body)
    delivery.written(configuration.value)
    response.headers["Location"] = request.url_for(
        "get_configuration", configuration_id=configuration.value.id
    ).path
    created: Configuration = tagged(response, configuration)
    return created


@router.get(
    "/{configuration_id}",
    summary="Get a configuration",
    dependencies=[requires(Permission.READ, ApplicationFrom.CONFIGURATION)],
    description="Served from this instance's memory when it can be trusted. With "
    "If-None-Match and `Prefer: wait=N` this is a long poll (see the values route).",
    response_model=Configuration,
    openapi_extra=READ_HEADERS_DOC,
    responses={
        200: {"headers": DELIVERY_HEADERS_DOC},
        **NOT_MODIFIED_WAIT_DOC,
        **problem_responses(404, 422, 503),
    },
)
async def get_configuration(configuration_id: ConfigurationIdPath, request: Request) -> Any:
    if_none_match = request.headers.get("if-none-match")
    outcome = await read_until_changed(
        get_delivery(request), request, by_id(configuration_id), if_none_match
    )
    return delivery_response(outcome, outcome.entry.resource_body)


@router.put(
    "/{configuration_id}",
    summary="Update a configuration",
    description="Fields left out stay unchanged; `comments: null` and `schema: null` clear; "
    "`name` and `config` may be left out but not null; `config` replaces the whole document. "
    "A change makes the next revision (`message` is kept with it); no change, no revision.",
    dependencies=[requires(Permission.WRITE, ApplicationFrom.CONFIGURATION), JsonBody],
    responses={
        200: {"headers": ETAG_HEADER_DOC},
        **problem_responses(400, 404, 409, 412, 413, 415, 422, 428, 503),
    },
)
def update_configuration(
    configuration_id: ConfigurationIdPath,
    body: ConfigurationUpdate,
    service: ConfigurationServiceDep,
    delivery: DeliveryDep,
    precondition: PreconditionDep,
    response: Response,
) -> Configuration:
    updated = service.update(
        configuration_id=configuration_id, changes=body, precondition=precondition
    )
    delivery.written(updated.value)
    written: Configuration = tagged(response, updated)
    return written


@router.patch(
    "/{configuration_id}",
    summary="Change a configuration with a JSON merge patch",
    description="An RFC 7396 merge patch (`Content-Type: application/merge-patch+json`) of "
    "`{name, comments, config, schema}`: members merge, `null` removes. A top-level `message` "
    "is not patched but kept with the revision.",
    dependencies=[
        requires(Permission.WRITE, ApplicationFrom.CONFIGURATION),
        Depends(require_merge_patch),
    ],
    responses={
        200: {"headers": ETAG_HEADER_DOC},
        **problem_responses(400, 404, 409, 412, 413, 415, 422, 428, 503),
    },
)
def patch_configuration(
    configuration_id: ConfigurationIdPath,
    patch: Annotated[
        MergePatchBody,
        Body(
            media_type=MERGE_PATCH_MEDIA_TYPE,
            description="Members to change; `null` removes a member (see the examples).",
            openapi_examples=MERGE_PATCH_EXAMPLES,
        ),
    ],
    service: ConfigurationServiceDep,
    delivery: DeliveryDep,
    settings: SettingsDep,
    precondition: PreconditionDep,
    response: Response,
) -> Configuration:
    patched = service.merge_patch(
        configuration_id=configuration_id,
        patch=parse_merge_patch(patch, max_json_depth=settings.max_json_depth),
        precondition=precondition,
    )
    delivery.written(patched.value)
    written: Configuration = tagged(response, patched)
    return written


@router.delete(
    "/{configuration_id}",
    status_code=204,
    summary="Delete a configuration and its history",
    dependencies=[requires(Permission.WRITE, ApplicationFrom.CONFIGURATION)],
    responses=problem_responses(404, 412, 422, 428, 503),
)
def delete_configuration(
    configuration_id: ConfigurationIdPath,
    service: ConfigurationServiceDep,
    delivery: DeliveryDep,
    precondition: PreconditionDep,
) -> None:
    service.delete(configuration_id=configuration_id, precondition=precondition)
    delivery.deleted(configuration_id)


@router.get(
    "/{configuration_id}/revisions",
    summary="List a configuration's revisions, newest first",
    dependencies=[requires(Permission.READ, ApplicationFrom.CONFIGURATION)],
    description="Follow the `Link` header for older ones.",
    responses={200: {"headers": LINK_HEADER_DOC}, **problem_responses(404, 422, 503)},
)
def list_revisions(
    configuration_id: ConfigurationIdPath,
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
    return page.items


@router.get(
    "/{configuration_id}/revisions/{revision}",
    summary="Get one revision",
    dependencies=[requires(Permission.READ, ApplicationFrom.CONFIGURATION)],
    response_model=ConfigurationRevision,
    responses={
        200: {"headers": ETAG_HEADER_DOC},
        **NOT_MODIFIED,
        **problem_responses(404, 422, 503),
    },
)
def get_revision(
    configuration_id: ConfigurationIdPath,
    revision: RevisionPath,
    service: ConfigurationServiceDep,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> Any:
    found = service.get_revision(configuration_id=configuration_id, revision=revision)
    return tagged_or_not_modified(response, found, if_none_match)


@router.post(
    "/{configuration_id}/revisions/{revision}/restore",
    summary="Restore a revision",
    description="Makes a new revision whose config, schema and comments are those of the "
    "given one (the name stays). History only grows. The body is optional.",
    dependencies=[requires(Permission.WRITE, ApplicationFrom.CONFIGURATION), OptionalJsonBody],
    responses={
        200: {"headers": ETAG_HEADER_DOC},
        **problem_responses(400, 404, 409, 412, 413, 415, 422, 428, 503),
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
    written: Configuration = tagged(response, restored)
    return written


@router.get(
    "/{configuration_id}/diff",
    summary="Diff two revisions as a JSON Patch",
    dependencies=[requires(Permission.READ, ApplicationFrom.CONFIGURATION)],
    description="An RFC 6902 JSON Patch that turns revision `from`'s config into revision "
    "`to`'s (either may be the older one).",
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
        **problem_responses(404, 422, 503),
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
