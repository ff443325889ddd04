"""Routes for /api/v1/configurations: create, read, update, merge-patch and delete (their
history, diffs and restores are in api/v1/revisions.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from api.app_state import DeliveryDep, SettingsDep
from api.auth.authorization import ApplicationFrom, Permission, requires
from api.edge.hot_routes import served_raw
from api.problems.examples import problem_responses
from api.v1.conditional import ETAG_HEADER_DOC, TAGGED, PreconditionDep
from api.v1.delivery_reads import (
    DELIVERY_HEADERS_DOC,
    NOT_MODIFIED_WAIT_DOC,
    READ_HEADERS_DOC,
    has_configuration_id,
    read_configuration,
)
from api.v1.dependencies import ConfigurationServiceDep
from api.v1.links import CONFIGURATION_LINKS, LOCATION_HEADER_DOC
from api.v1.paths import ConfigurationIdPath
from api.v1.representations import written
from api.v1.request_bodies import (
    MERGE_PATCH_EXAMPLES,
    MERGE_PATCH_MEDIA_TYPE,
    JsonBody,
    JsonLimitsRoute,
    parse_merge_patch,
    require_merge_patch,
)
from models.configuration import (
    Configuration,
    ConfigurationCreate,
    ConfigurationUpdate,
    MergePatchBody,
)

router = APIRouter(prefix="/configurations", tags=["configurations"], route_class=JsonLimitsRoute)


@router.post(
    "",
    status_code=201,
    summary="Create a configuration",
    description="`application_id` in the body names the owning application; an unknown one "
    "is a 422. With a `schema`, `config` must satisfy it. This is revision 1. `secrets` marks "
    'values of `config` as secret (needs SECRETS_KEYS); the answer shows them as "********".',
    dependencies=[requires(Permission.WRITE, ApplicationFrom.BODY), JsonBody],
    responses={
        201: {
            "description": "Created.",
            "headers": {**LOCATION_HEADER_DOC, **ETAG_HEADER_DOC},
            "links": CONFIGURATION_LINKS,
        },
        **problem_responses(400, 409, 413, 415, 422, 503, secrets=True),
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
    return written(response, configuration)


@router.get(
    "/{configuration_id}",
    summary="Get a configuration",
    dependencies=[requires(Permission.READ, ApplicationFrom.CONFIGURATION)],
    description="Served from this instance's memory when it can be trusted. With "
    "If-None-Match and `Prefer: wait=N` this is a long poll (see the values route). Secret "
    'values show as "********" unless the key may reveal them (then the ETag ends in '
    "`-revealed` and the answer is `Cache-Control: private, no-store`).",
    response_model=Configuration,
    openapi_extra=READ_HEADERS_DOC,
    responses={
        200: {"headers": DELIVERY_HEADERS_DOC},
        **NOT_MODIFIED_WAIT_DOC,
        **problem_responses(404, 422, 503, secrets=True),
    },
)
@served_raw(read_configuration, accepts=has_configuration_id)
async def get_configuration(configuration_id: ConfigurationIdPath, request: Request) -> Any:
    del configuration_id  # validated here, for the requests the edge leaves to the framework
    return await read_configuration(request)


@router.put(
    "/{configuration_id}",
    summary="Update a configuration",
    description="Fields left out stay unchanged; `comments: null` and `schema: null` clear; "
    "`name` and `config` may be left out but not null; `config` replaces the whole document. "
    "A change makes the next revision (`message` is kept with it); no change, no revision. "
    '"********" at a secret location keeps the stored value; the answer shows secrets masked. '
    "Unmarking a secret whose value stays needs a key that may reveal secrets (403 otherwise).",
    dependencies=[requires(Permission.WRITE, ApplicationFrom.CONFIGURATION), JsonBody],
    responses={
        **TAGGED,
        **problem_responses(400, 403, 404, 409, 412, 413, 415, 422, 428, 503, secrets=True),
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
    return written(response, updated)


@router.patch(
    "/{configuration_id}",
    summary="Change a configuration with a JSON merge patch",
    description="An RFC 7396 merge patch (`Content-Type: application/merge-patch+json`) of "
    "`{name, comments, config, schema, secrets}`: members merge, `null` removes. A top-level "
    '`message` is not patched but kept with the revision. "********" at a secret location '
    "keeps the stored value; the answer shows secrets masked. Unmarking a secret whose value "
    "stays (a patch keeps what it does not name) needs a key that may reveal secrets (403 "
    "otherwise).",
    dependencies=[
        requires(Permission.WRITE, ApplicationFrom.CONFIGURATION),
        Depends(require_merge_patch),
    ],
    responses={
        **TAGGED,
        **problem_responses(400, 403, 404, 409, 412, 413, 415, 422, 428, 503, secrets=True),
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
    return written(response, patched)


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
