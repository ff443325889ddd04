"""Who may call what: the one place where callers are checked, API keys and identity tokens alike.

A bearer token is an API key (`cs_...`) or an identity token (a JWT from one of OIDC_ISSUERS,
verified offline by identity/, then matched against the bindings of its issuer). Either way the
request gets a Caller (api/auth/caller.py): grants of a role on every application or on some,
which is all the checks below look at, so a key and an identity with the same rights reach
exactly the same things.

Every /api/v1 route declares what it needs with `dependencies=[requires(...)]`: a permission
(read, write or admin) and, for read and write, where the application it touches is named
(the path's application id, the configuration the path names, the names of the values route, or
`application_id` in the body). The check runs before the route's own work:

* no token, or a key that is unknown, revoked or expired, or an identity token that does not
  verify: 401 with `WWW-Authenticate: Bearer` (for a token, the problem's `reason` says why);
* a verified identity that no binding matches: 403;
* an application the caller does not reach: the same 404 (or, for a body's `application_id`, the
  same 422) as for one that does not exist, so a caller never learns what exists outside its
  scope;
* a role below what the route needs, on an application it does reach: 403.

Checked keys are kept in memory for API_KEY_CACHE_SECONDS (api/auth/key_cache.py), and so are
each issuer's bindings (api/auth/binding_cache.py); who owns a configuration is asked of delivery
(from memory when it can tell), so a read served from memory costs no database round trip;
api/v1/keys_test.py fails for a route that declares nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from api.app_state import (
    get_database,
    get_delivery,
    get_identities,
    get_key_cache,
    get_settings,
)
from api.auth.bearer import AUTHENTICATED_HOOK, IDENTITY_VERIFIED_HOOK, bearer_token
from api.auth.binding_cache import matching
from api.auth.caller import LEVEL, Caller
from api.auth.token_cache import token_digest
from api.v1.value_names import names_from_raw_path
from config.logging_setup import current_request_id
from identity.rejections import TokenRejected, TokenRejection
from identity.token_verifier import VerifiedToken, is_identity_token
from models.api_key import ApiKey, Role
from models.audit import Actor
from models.fields import parse_resource_id
from models.identity_binding import Binding
from repositories.unit_of_work import unit_of_work_factory
from services.api_key_service import ApiKeyService, usable
from services.binding_service import BindingService
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
    "description": "An API key (`Authorization: Bearer cs_...`: `pipenv run dev` prints one, "
    "`pipenv run create-key` makes one), or an identity token: a JWT from an issuer in "
    "OIDC_ISSUERS (a Kubernetes service account's projected token, a GitHub Actions OIDC "
    "token, a Keycloak access token...) that a binding (`/api/v1/bindings`) lets in. Paste "
    "either into Authorize, without `Bearer `.",
}


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_NEEDED = {Permission.READ: Role.READ, Permission.WRITE: Role.WRITE, Permission.ADMIN: Role.ADMIN}


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


def binding_service(request: Request) -> BindingService:
    return BindingService(
        unit_of_work_factory(get_database(request)),
        trusted_issuers=get_identities(request).trusted_issuers,
    )


def _unauthorized(detail: str, *, sent: bool) -> HTTPException:
    challenge = 'Bearer error="invalid_token"' if sent else "Bearer"
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": challenge})


async def authenticate(request: Request) -> Caller:
    """Who the request's bearer token proves it is (401 otherwise; 403 for a verified identity
    no binding lets in). Never echoes what was sent."""
    header = request.headers.get("authorization")
    token = bearer_token(header)
    if token is None:
        raise _unauthorized(
            "send an API key or an identity token as `Authorization: Bearer <token>`",
            sent=header is not None,
        )
    if is_identity_token(token):
        caller = await _identity_caller(request, token)
    else:
        caller = Caller.for_key(await _usable_key(request, token))
    request.state.caller = caller
    return caller


def _authenticated(request: Request) -> None:
    """The token is good: give back the failed-authentication budget held for the request."""
    authenticated = request.scope.get("state", {}).get(AUTHENTICATED_HOOK)
    if authenticated is not None:
        authenticated()


async def _usable_key(request: Request, token: str) -> ApiKey:
    cache = get_key_cache(request)
    # A plain SHA-256 finds it in memory (a fifth of the HMAC's cost); the peppered HMAC is
    # only needed to find it in PostgreSQL.
    digest = token_digest(token)
    key = cache.get(digest)
    if key is None:
        generation = cache.generation()  # before the read: see KeyCache.put
        key = await run_in_threadpool(key_service(request).authenticate, token)
        if key is None:
            raise _unauthorized("the API key is not known", sent=True)
        cache.put(digest, key, generation=generation)
    if not usable(key):
        state = "revoked" if key.revoked_at is not None else "expired"
        raise _unauthorized(f"the API key {key.prefix} is {state}", sent=True)
    _authenticated(request)
    return key


async def _identity_caller(request: Request, token: str) -> Caller:
    """A verified identity with the bindings it matches (TokenRejected, a 401, when the token
    does not verify)."""
    identities = get_identities(request)
    digest = token_digest(token)
    verified = identities.verified.get(digest)
    try:
        if verified is None:
            verified = await identities.verifier.verify(token)
            identities.verified.put(digest, verified)
        else:  # verified lately (api/auth/token_cache.py): only time can have changed
            identities.verifier.check_not_expired(verified)
    except TokenRejected as rejected:
        if rejected.reason is TokenRejection.KEYS_UNAVAILABLE:
            # The provider's outage, not a guess: counted as a failed authentication it would
            # lock the address out (API keys included) while the provider is down.
            _authenticated(request)
        raise
    _authenticated(request)
    counted = request.scope.get("state", {}).get(IDENTITY_VERIFIED_HOOK)
    if counted is not None:
        counted(f"{verified.issuer}\n{verified.subject}")  # RateLimited when spent
    bindings = await _bindings_matching(request, verified)
    if not bindings:
        raise _no_binding(verified)
    return Caller.for_identity(verified, bindings)


def _no_binding(verified: VerifiedToken) -> HTTPException:
    return HTTPException(
        403,
        detail=f"the identity {verified.subject[:200]!r} of {verified.issuer} is verified, but "
        "no binding lets it in: an admin can make one (POST /api/v1/bindings)",
    )


async def _bindings_matching(request: Request, verified: VerifiedToken) -> list[Binding]:
    cache = get_identities(request).bindings
    compiled = cache.get(verified.issuer)
    if compiled is None:
        generation = cache.generation(verified.issuer)
        found = await run_in_threadpool(binding_service(request).of_issuer, issuer=verified.issuer)
        compiled = cache.put(verified.issuer, found, generation=generation)
    return matching(compiled, verified.claims)


async def reauthenticate(request: Request) -> Caller:
    """The request's caller checked again after a wait (a long poll, a stream): a key revoked or
    expired meanwhile, or an identity token expired, is a 401; an identity that no binding lets
    in any more is a 403. Costs no signature check and no rate-limit budget."""
    before: Caller = request.state.caller
    if before.identity is None:
        return await authenticate(request)
    get_identities(request).verifier.check_not_expired(before.identity)
    bindings = await _bindings_matching(request, before.identity)
    if not bindings:
        raise _no_binding(before.identity)
    caller = Caller.for_identity(before.identity, bindings)
    request.state.caller = caller
    return caller


async def current_caller(request: Request) -> Caller:  # async: no threadpool hop
    """The caller `requires` accepted for this request (it runs before the route's parameters)."""
    caller: Caller = request.state.caller
    return caller


AuthenticatedCaller = Annotated[Caller, Depends(current_caller)]


def scope_of(caller: Caller, at_least: Role = Role.READ) -> frozenset[str] | None:
    """The applications on which the caller has at least this role; None: every one."""
    return caller.scope(at_least)


def may_reveal(caller: Caller, application_id: str) -> bool:
    """Whether the caller sees the application's secret values in plain text: only through a
    key, or a binding, that reaches it and carries reveal_secrets. The one place this is
    decided."""
    return caller.may_reveal(application_id)


def _forbidden(caller: Caller, role: Role | None, permission: Permission) -> HTTPException:
    where = "" if caller.key is not None else " here"
    return HTTPException(
        403,
        detail=f"{caller.describe()} has the role {(role or Role.READ).value!r}{where}; "
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


async def _application_touched(
    request: Request, caller: Caller, source: ApplicationFrom
) -> str | None:
    """The application the route touches, found only when it matters (a caller whose role is the
    same everywhere needs no lookup); the not-found answer when the caller does not reach it."""
    if caller.same_role_everywhere or source is ApplicationFrom.NOWHERE:
        return None
    if source is ApplicationFrom.PATH:
        application_id = _path_id(request, "application_id")
        if application_id is not None and not caller.reaches(application_id):
            raise ApplicationNotFound(application_id)
        return application_id
    if source is ApplicationFrom.CONFIGURATION:
        configuration_id = _path_id(request, "configuration_id")
        if configuration_id is None:
            return None
        owner = await get_delivery(request).owner_of(configuration_id)
        if owner is None or not caller.reaches(owner):
            raise ConfigurationNotFound(configuration_id)
        return owner
    if source is ApplicationFrom.NAMES:
        application_name, name = names_from_raw_path(request)
        found = await get_delivery(request).application_id_by_name(application_name, name)
        if found is None or not caller.reaches(found):
            raise ApplicationNameNotFound(application_name)
        return found
    application_id = await _body_application(request)
    if application_id is not None and not caller.reaches(application_id):
        raise InvalidRequest([unknown_application(application_id)])
    return application_id


def requires(permission: Permission, application: ApplicationFrom = ApplicationFrom.NOWHERE) -> Any:
    """The dependency a route declares: `dependencies=[requires(Permission.WRITE, ...)]`."""
    needed = LEVEL[_NEEDED[permission]]

    async def check(request: Request) -> Caller:
        caller = await authenticate(request)
        if permission is Permission.ADMIN:
            if not caller.is_admin:
                raise _forbidden(caller, caller.highest_role, permission)
            return caller
        application_id = await _application_touched(request, caller, application)
        role = caller.highest_role if application_id is None else caller.role_on(application_id)
        if role is None or LEVEL[role] < needed:
            raise _forbidden(caller, role, permission)
        return caller

    declared: Callable[..., Awaitable[Caller]] = check
    declared.authorization = (permission, application)  # type: ignore[attr-defined]
    return Depends(declared)


async def get_actor(request: Request, caller: AuthenticatedCaller) -> Actor:
    """Who a write is made for."""
    return actor_of(request, caller)


def actor_of(request: Request, caller: Caller) -> Actor:
    """Who a request acts for, in the services' words."""
    client = request.client.host if request.client else None
    if caller.identity is not None:
        return Actor(
            key_id=None,
            key_name=None,
            request_id=current_request_id(),
            client_address=client,
            issuer=caller.identity.issuer,
            subject=caller.identity.subject,
            binding_ids=caller.binding_ids,
        )
    key = caller.key
    return Actor(
        key_id=key.id if key else None,
        key_name=key.name if key else None,
        request_id=current_request_id(),
        client_address=client,
    )


ActorDep = Annotated[Actor, Depends(get_actor)]


async def metrics_key(request: Request) -> None:
    """With METRICS_REQUIRE_KEY, /metrics needs an admin key (or identity); otherwise it is
    open."""
    if get_settings(request).metrics_require_key:
        caller = await authenticate(request)
        if not caller.is_admin:
            raise _forbidden(caller, caller.highest_role, Permission.ADMIN)
