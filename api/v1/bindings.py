"""Routes for /api/v1/bindings: which identity tokens are let in, with which role (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.app_state import IdentitiesDep
from api.auth.authorization import ActorDep, Permission, requires
from api.problems.examples import problem_responses
from api.v1.dependencies import BindingServiceDep
from api.v1.links import LOCATION_HEADER_DOC
from api.v1.pagination import LINK_HEADER_DOC, add_next_link
from api.v1.paths import BindingIdPath
from api.v1.request_bodies import JsonBody, JsonLimitsRoute
from models.fields import ApplicationId
from models.identity_binding import Binding, BindingCreate

router = APIRouter(
    prefix="/bindings",
    tags=["bindings"],
    route_class=JsonLimitsRoute,
    dependencies=[requires(Permission.ADMIN)],
)


@router.post(
    "",
    status_code=201,
    summary="Create an identity binding",
    description="Lets in the verified identity tokens of `issuer` (one of OIDC_ISSUERS) whose "
    "claims match `claims`, with `role` on `applications` (null: every application), as an "
    "API key with the same role and applications would be. A token gets the union of every "
    "binding it matches. Each id in `applications` must name an application (a 422 names any "
    "that does not). Takes effect at once in every process of every instance "
    "(within API_KEY_CACHE_SECONDS where a process's listening connection is down).",
    dependencies=[JsonBody],
    responses={
        201: {"description": "Created.", "headers": LOCATION_HEADER_DOC},
        **problem_responses(400, 413, 415, 422, 503),
    },
)
def create_binding(
    body: BindingCreate,
    service: BindingServiceDep,
    identities: IdentitiesDep,
    actor: ActorDep,
    request: Request,
    response: Response,
) -> Binding:
    created = service.create(data=body, actor=actor)
    identities.bindings.forget(created.issuer)
    response.headers["Location"] = request.url_for("get_binding", binding_id=created.id).path
    return created


@router.get(
    "",
    summary="List identity bindings",
    description="Ordered by id (creation order). Follow the `Link` header for the next page.",
    responses={200: {"headers": LINK_HEADER_DOC}, **problem_responses(422, 503)},
)
def list_bindings(
    service: BindingServiceDep,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 50,
    after: Annotated[
        ApplicationId | None, Query(description="Return bindings after this id.")
    ] = None,
) -> list[Binding]:
    page = service.list(after=after, limit=limit)
    add_next_link(request, response, page, limit=limit)
    return page.items


@router.get(
    "/{binding_id}",
    summary="Get an identity binding",
    responses=problem_responses(404, 422, 503),
)
def get_binding(binding_id: BindingIdPath, service: BindingServiceDep) -> Binding:
    return service.get(binding_id=binding_id)


@router.delete(
    "/{binding_id}",
    status_code=204,
    summary="Delete an identity binding",
    description="Its identities lose what it granted: at once in every process of every "
    "instance, within API_KEY_CACHE_SECONDS where a process's listening connection is down "
    "(event streams it let in end then).",
    responses=problem_responses(404, 422, 503),
)
def delete_binding(
    binding_id: BindingIdPath,
    service: BindingServiceDep,
    identities: IdentitiesDep,
    actor: ActorDep,
) -> None:
    deleted = service.delete(binding_id=binding_id, actor=actor)
    identities.bindings.forget(deleted.issuer)
