"""Routes for /api/v1/applications."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.exceptions import HTTPException

from api.app_state import DeliveryDep
from api.auth.authorization import (
    ApplicationFrom,
    AuthenticatedCaller,
    Permission,
    requires,
    scope_of,
)
from api.problems.examples import problem_responses
from api.v1.conditional import (
    ETAG_HEADER_DOC,
    NOT_MODIFIED,
    TAGGED,
    IfNoneMatch,
    PreconditionDep,
    tagged,
)
from api.v1.dependencies import ApplicationServiceDep, ConfigurationServiceDep
from api.v1.links import APPLICATION_LINKS, LOCATION_HEADER_DOC
from api.v1.pagination import LINK_HEADER_DOC, add_next_link
from api.v1.paths import ApplicationIdPath
from api.v1.representations import REVEALED_HEADER_DOC, shown_page
from api.v1.request_bodies import JsonBody, JsonLimitsRoute
from models.api_key import Role
from models.application import (
    Application,
    ApplicationCreate,
    ApplicationDetail,
    ApplicationUpdate,
)
from models.configuration import Configuration
from models.fields import ApplicationId, ConfigurationId, Name

router = APIRouter(prefix="/applications", tags=["applications"], route_class=JsonLimitsRoute)

RENAME_NEEDS_EVERY_APPLICATION = (
    "renaming an application needs a key that reaches every application, because application "
    "names are global; a key limited to some applications may change only `comments`"
)


@router.post(
    "",
    status_code=201,
    summary="Create an application",
    dependencies=[requires(Permission.ADMIN), JsonBody],
    responses={
        201: {
            "description": "Created.",
            "headers": {**LOCATION_HEADER_DOC, **ETAG_HEADER_DOC},
            "links": APPLICATION_LINKS,
        },
        **problem_responses(400, 409, 413, 415, 422, 503),
    },
)
def create_application(
    body: ApplicationCreate,
    service: ApplicationServiceDep,
    request: Request,
    response: Response,
) -> ApplicationDetail:
    application = service.create(data=body)
    response.headers["Location"] = request.url_for(
        "get_application", application_id=application.value.id
    ).path
    detail: ApplicationDetail = tagged(response, application)
    return detail


@router.get(
    "",
    summary="List applications",
    description="Ordered by id (creation order), only those the key may read. Follow the "
    "`Link` header for the next page.",
    dependencies=[requires(Permission.READ)],
    responses={200: {"headers": LINK_HEADER_DOC}, **problem_responses(422, 503)},
)
def list_applications(
    service: ApplicationServiceDep,
    caller: AuthenticatedCaller,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 50,
    after: Annotated[ApplicationId | None, Query(description="Return items after this id.")] = None,
    name: Annotated[Name | None, Query(description="Only the application with this name.")] = None,
) -> list[Application]:
    page = service.list(after=after, limit=limit, name=name, only=scope_of(caller))
    add_next_link(request, response, page, limit=limit)
    return page.items


@router.get(
    "/{application_id}",
    summary="Get an application with its configuration ids",
    dependencies=[requires(Permission.READ, ApplicationFrom.PATH)],
    response_model=ApplicationDetail,
    responses={**TAGGED, **NOT_MODIFIED, **problem_responses(404, 422, 503)},
)
def get_application(
    application_id: ApplicationIdPath,
    service: ApplicationServiceDep,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> Any:
    return tagged(response, service.get(application_id=application_id), if_none_match)


@router.put(
    "/{application_id}",
    summary="Update an application",
    description="Fields left out stay unchanged; `comments: null` clears the comments. "
    "Send the ETag in If-Match to make sure nobody changed it since you read it. "
    "Sending `name` needs a key that reaches every application (admin, or write on all): "
    "application names are global, so a key limited to some applications may change only "
    "`comments` (403 otherwise).",
    dependencies=[requires(Permission.WRITE, ApplicationFrom.PATH), JsonBody],
    responses={**TAGGED, **problem_responses(400, 404, 409, 412, 413, 415, 422, 428, 503)},
)
def update_application(
    application_id: ApplicationIdPath,
    body: ApplicationUpdate,
    caller: AuthenticatedCaller,
    service: ApplicationServiceDep,
    delivery: DeliveryDep,
    precondition: PreconditionDep,
    response: Response,
) -> ApplicationDetail:
    if "name" in body.model_fields_set and scope_of(caller, Role.WRITE) is not None:
        # Otherwise a 409 for a taken name would tell it which names exist outside its scope.
        raise HTTPException(403, detail=RENAME_NEEDS_EVERY_APPLICATION)
    updated = service.update(application_id=application_id, changes=body, precondition=precondition)
    delivery.application_changed(application_id, deleted=False)
    detail: ApplicationDetail = tagged(response, updated)
    return detail


@router.delete(
    "/{application_id}",
    status_code=204,
    summary="Delete an application and all its configurations",
    dependencies=[requires(Permission.ADMIN)],
    responses=problem_responses(404, 409, 412, 422, 428, 503),
)
def delete_application(
    application_id: ApplicationIdPath,
    service: ApplicationServiceDep,
    delivery: DeliveryDep,
    precondition: PreconditionDep,
) -> None:
    service.delete(application_id=application_id, precondition=precondition)
    delivery.application_changed(application_id, deleted=True)


@router.get(
    "/{application_id}/configurations",
    summary="List an application's configurations",
    dependencies=[requires(Permission.READ, ApplicationFrom.PATH)],
    description="Full configurations ordered by id. Follow the `Link` header for the next page. "
    'Secret values show as "********" unless the key may reveal them.',
    responses={
        200: {"headers": {**LINK_HEADER_DOC, **REVEALED_HEADER_DOC}},
        **problem_responses(404, 422, 503, secrets=True),
    },
)
def list_application_configurations(
    application_id: ApplicationIdPath,
    service: ConfigurationServiceDep,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 50,
    after: Annotated[
        ConfigurationId | None, Query(description="Return items after this id.")
    ] = None,
) -> list[Configuration]:
    page = service.list_for_application(application_id=application_id, after=after, limit=limit)
    add_next_link(request, response, page, limit=limit)
    return shown_page(request, response, page.items, application_id=application_id)
