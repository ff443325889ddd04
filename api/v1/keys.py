"""Routes for /api/v1/keys: create, list, get and revoke API keys (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.app_state import get_key_cache
from api.auth.authorization import ActorDep, Permission, requires
from api.problems.examples import problem_responses
from api.v1.dependencies import ApiKeyServiceDep
from api.v1.links import LOCATION_HEADER_DOC
from api.v1.pagination import LINK_HEADER_DOC, add_next_link
from api.v1.paths import KeyIdPath
from api.v1.request_bodies import JsonBody, JsonLimitsRoute
from models.api_key import ApiKey, ApiKeyCreate, ApiKeyCreated
from models.fields import ApplicationId

router = APIRouter(
    prefix="/keys",
    tags=["keys"],
    route_class=JsonLimitsRoute,
    dependencies=[requires(Permission.ADMIN)],
)

NO_STORE_DOC = {
    "Cache-Control": {
        "description": "`no-store`: the body holds a secret.",
        "schema": {"type": "string"},
    }
}


@router.post(
    "",
    status_code=201,
    summary="Create an API key",
    description="The answer holds the key itself, shown this once (`Cache-Control: no-store`): "
    "store it now. Only its hash is kept. Each id in `applications` must name an application "
    "(a 422 names any that does not).",
    dependencies=[JsonBody],
    responses={
        201: {"description": "Created.", "headers": {**LOCATION_HEADER_DOC, **NO_STORE_DOC}},
        **problem_responses(400, 413, 415, 422, 503),
    },
)
def create_key(
    body: ApiKeyCreate,
    service: ApiKeyServiceDep,
    actor: ActorDep,
    request: Request,
    response: Response,
) -> ApiKeyCreated:
    created = service.create(data=body, actor=actor)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Location"] = request.url_for("get_key", key_id=created.id).path
    return created


@router.get(
    "",
    summary="List API keys (never their secrets)",
    description="Ordered by id (creation order), revoked and expired ones included. Follow the "
    "`Link` header for the next page.",
    responses={200: {"headers": LINK_HEADER_DOC}, **problem_responses(422, 503)},
)
def list_keys(
    service: ApiKeyServiceDep,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 50,
    after: Annotated[ApplicationId | None, Query(description="Return keys after this id.")] = None,
) -> list[ApiKey]:
    page = service.list(after=after, limit=limit)
    add_next_link(request, response, page, limit=limit)
    return page.items


@router.get(
    "/{key_id}",
    summary="Get an API key (never its secret)",
    responses=problem_responses(404, 422, 503),
)
def get_key(key_id: KeyIdPath, service: ApiKeyServiceDep) -> ApiKey:
    return service.get(key_id=key_id)


@router.post(
    "/{key_id}/revoke",
    summary="Revoke an API key",
    description="From now on the key gets 401: at once in every process of every instance, "
    "within API_KEY_CACHE_SECONDS where a process's listening connection is down; its open "
    "event streams end at their next event or heartbeat. Revoking a revoked key changes "
    "nothing. The key stays listed, with `revoked_at`.",
    responses=problem_responses(404, 422, 503),
)
def revoke_key(
    key_id: KeyIdPath, service: ApiKeyServiceDep, actor: ActorDep, request: Request
) -> ApiKey:
    revoked = service.revoke(key_id=key_id, actor=actor)
    get_key_cache(request).forget(revoked.id)
    return revoked
