"""Who may call what: the one place where API keys are checked.

Every /api/v1 route declares what it needs with `dependencies=[requires(...)]`: a permission
(read, write or admin) and, for read and write, where the application it touches is named
(the path's application id, the configuration the path names, the names of the values route, or
`application_id` in the body). The check runs before the route's own work:

* no key, or one that is unknown, revoked or expired: 401 with `WWW-Authenticate: Bearer`;
* an application the key does not reach: the same 404 (or, for a body's `application_id`, the
  same 422) as for one that does not exist, so a key never learns what exists outside its scope;
* a role below what the route needs, on an application it does reach: 403.

Checked keys are kept in memory for API_KEY_CACHE_SECONDS (api/auth/key_cache.py), and who owns
a configuration is asked of delivery (from memory when it can tell), so a read served from memory
costs no database round trip; api/v1/keys_test.py fails for a route that declares nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from api.app_state import get_database, get_delivery, get_key_cache, get_settings
from api.auth.bearer import AUTHENTICATED_HOOK, bearer_token
from api.v1.value_names import names_from_raw_path
from config.logging_setup import current_request_id
from models.api_key import ApiKey, Role
from models.audit import Actor
from models.fields import parse_resource_id
from repositories.unit_of_work import unit_of_work_factory
from services.api_key_secrets import key_hash
from services.api_key_service import ApiKeyService, usable
from services.configuration_rules import unknown_application
from services.errors import (
    ApplicationNameNotFound,
    ApplicationNotFound,
    ConfigurationNotFound,
    InvalidRequest,
)

# Declared in the OpenAPI document (api/openapi/document.py) for every /api/v1 operation, so that
# Swagger UI's Authorize button sends it. Parsed here, in the one dependency a route runs.
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key: `Authorization: Bearer cs_...`. `pipenv run dev` prints one; "
    "`pipenv run create-key` makes one.",
}


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_LEVEL = {Role.READ: 1, Role.WRITE: 2, Role.ADMIN: 3}
_NEEDED = {Permission.READ: 1, Permission.WRITE: 2, Permission.ADMIN: 3}


class ApplicationFrom(StrEnum):
    """Where a route names the application it touches."""

    NOWHERE = "nowhere"  # a list (filtered by scope) or an admin route
    PATH = "path"  # {application_id}
    CONFIGURATION = "configuration"  # {configuration_id}: its owner
    NAMES = "names"  # /values/{application_name}/...
    BODY = "body"  # `application_id` in the JSON body


def key_service(request: Request) -> ApiKeyService:
    return ApiKeyService(
        unit_of_work_factory(get_database(request)), pepper=get_settings(request).pepper
    )


def _unauthorized(detail: str, *, sent: bool) -> HTTPException:
    challenge = 'Bearer error="invalid_token"' if sent else "Bearer"
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": challenge})


async def authenticate(request: Request) -> ApiKey:
    """The usable key the request presents (401 otherwise). Never echoes what was sent."""
    header = request.headers.get("authorization")
    token = bearer_token(header)
    if token is None:
        raise _unauthorized(
            "send an API key as `Authorization: Bearer <key>`", sent=header is not None
        )
    cache = get_key_cache(request)
    digest = key_hash(token, pepper=get_settings(request).pepper)
    key = cache.get(digest)
    if key is None:
        key = await run_in_threadpool(key_service(request).authenticate, token)
        if key is None:
            raise _unauthorized("the API key is not known", sent=True)
        cache.put(digest, key)
    if not usable(key):
        state = "revoked" if key.revoked_at is not None else "expired"
        raise _unauthorized(f"the API key {key.prefix} is {state}", sent=True)
    request.state.api_key = key
    authenticated = request.scope.get("state", {}).get(AUTHENTICATED_HOOK)
    if authenticated is not None:
        authenticated()
    return key


async def current_key(request: Request) -> ApiKey:  # async: no threadpool hop
    """The key `requires` accepted for this request (it runs before the route's parameters)."""
    key: ApiKey = request.state.api_key
    return key


AuthenticatedKey = Annotated[ApiKey, Depends(current_key)]


def reaches(key: ApiKey, application_id: str) -> bool:
    return key.applications is None or application_id in key.applications


def scope_of(key: ApiKey) -> frozenset[str] | None:
    """The applications a key may read; None: every one."""
    return None if key.applications is None else frozenset(key.applications)


def _forbidden(key: ApiKey, permission: Permission) -> HTTPException:
    return HTTPException(
        403,
        detail=f"the API key {key.prefix} has the role {key.role.value!r}; "
        f"this needs {permission.value!r}",
    )


def _path_id(request: Request, name: str) -> str | None:
    """The path's id in canonical form; None when it is no id (validation answers that)."""
    try:
        return parse_resource_id(str(request.path_params.get(name, "")))
    except ValueError:
        return None


async def _body_application(request: Request) -> str | None:
    with contextlib.suppress(Exception):
        body: Any = await request.json()
        if isinstance(body, dict) and isinstance(body.get("application_id"), str):
            return parse_resource_id(body["application_id"])
    return None


async def _check_scope(request: Request, key: ApiKey, source: ApplicationFrom) -> None:
    """Raise the not-found answer when the key does not reach the route's application."""
    if key.applications is None or source is ApplicationFrom.NOWHERE:
        return
    if source is ApplicationFrom.PATH:
        application_id = _path_id(request, "application_id")
        if application_id is not None and not reaches(key, application_id):
            raise ApplicationNotFound(application_id)
    elif source is ApplicationFrom.CONFIGURATION:
        configuration_id = _path_id(request, "configuration_id")
        if configuration_id is not None:
            owner = await get_delivery(request).owner_of(configuration_id)
            if owner is None or not reaches(key, owner):
                raise ConfigurationNotFound(configuration_id)
    elif source is ApplicationFrom.NAMES:
        application_name, name = names_from_raw_path(request)
        found = await get_delivery(request).application_id_by_name(application_name, name)
        if found is None or not reaches(key, found):
            raise ApplicationNameNotFound(application_name)
    else:
        application_id = await _body_application(request)
        if application_id is not None and not reaches(key, application_id):
            raise InvalidRequest([unknown_application(application_id)])


def requires(permission: Permission, application: ApplicationFrom = ApplicationFrom.NOWHERE) -> Any:
    """The dependency a route declares: `dependencies=[requires(Permission.WRITE, ...)]`."""

    async def check(request: Request) -> ApiKey:
        key = await authenticate(request)
        if permission is Permission.ADMIN:
            if key.role is not Role.ADMIN:
                raise _forbidden(key, permission)
            return key
        await _check_scope(request, key, application)
        if _LEVEL[key.role] < _NEEDED[permission]:
            raise _forbidden(key, permission)
        return key

    declared: Callable[..., Awaitable[ApiKey]] = check
    declared.authorization = (permission, application)  # type: ignore[attr-defined]
    return Depends(declared)


async def get_actor(request: Request, key: AuthenticatedKey) -> Actor:
    """Who a write is made for, in the services' words."""
    client = request.client.host if request.client else None
    return Actor(
        key_id=key.id, key_name=key.name, request_id=current_request_id(), client_address=client
    )


ActorDep = Annotated[Actor, Depends(get_actor)]


async def metrics_key(request: Request) -> None:
    """With METRICS_REQUIRE_KEY, /metrics needs an admin key; otherwise it is open."""
    if get_settings(request).metrics_require_key:
        key = await authenticate(request)
        if key.role is not Role.ADMIN:
            raise _forbidden(key, Permission.ADMIN)
