"""Rate limits per caller, enforced before a request reaches authentication or any handler.

A caller is the API key it presents (by a truncated SHA-256 of it, so no key is kept and no
database is asked), the identity an identity token (a JWT) proves once it is verified (its
issuer and subject: every token of one subject shares one budget, and a forged token cannot
spend someone else's), or, without a token, its client address (`scope["client"]`, which
uvicorn takes from `X-Forwarded-For` only when the peer is in its `FORWARDED_ALLOW_IPS`; there is
no setting of ours for it). Each has a token bucket: `rate` requests a second on average, up to
`burst` at once. Beyond it: 429. A made-up token gets a budget of its own (or, for a JWT, none
until verified), but also a 401, which the failed-authentication limit below counts.

Failed authentication (a 401 answer, seen on its way out) is counted per address in a smaller,
slower bucket; once it is empty, every request from that address gets 429 before it is handled,
with or without a token, so guessing keys is slow. Health, docs and `/metrics` take no budget
(`/metrics` may need a key, so a locked-out address is refused there too).

Responses on limited paths carry `RateLimit-Policy` and `RateLimit` as in
draft-ietf-httpapi-ratelimit-headers-11 (structured-field lists, one item per policy):
`q` is the burst and `w` the seconds an empty bucket takes to fill (so q/w is the rate, rounded
down); `r` is what is left now and `t` the seconds until the bucket is full again (until one
request is allowed, when `r` is 0), so using at most `r` within `t` seconds is always safe.
The buckets themselves are in api/edge/token_buckets.py.

Limits are per process (one per instance). The middleware runs on the event loop and nothing
between reading and writing a bucket awaits, so no lock is needed.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Literal

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.bearer import AUTHENTICATED_HOOK, IDENTITY_VERIFIED_HOOK, bearer_token
from api.edge.metrics import Metrics
from api.edge.token_buckets import BucketTable, Policy
from api.problems.schema import problem_response
from config.settings import Settings
from identity.token_verifier import is_identity_token

_OPEN_PATHS = frozenset({"/docs", "/redoc", "/openapi.json"})
_OPEN_PREFIXES = ("/health/", "/docs/")
_METRICS_PATH = "/metrics"

Reason = Literal["budget", "auth_failures"]


class RateLimited(Exception):
    """An identity's budget is spent (found once its token is verified, inside the app):
    api/problems/handlers.py answers it as the middleware answers the others."""

    def __init__(self, detail: str, headers: dict[str, str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


def _table(name: str, rate: float, burst: int, settings: str) -> BucketTable | None:
    return BucketTable(Policy(name, rate, burst, settings)) if rate > 0 else None


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.clock = clock  # tests pass their own
        self.keys = _table(
            "per-key",
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
            "RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST",
        )
        self.addresses = _table(
            "per-address",
            settings.rate_limit_address_per_second,
            settings.rate_limit_address_burst,
            "RATE_LIMIT_ADDRESS_PER_SECOND, RATE_LIMIT_ADDRESS_BURST",
        )
        self.auth_failures = _table(
            "auth-failures",
            settings.rate_limit_auth_failures_per_minute / 60,
            settings.rate_limit_auth_failures_burst,
            "RATE_LIMIT_AUTH_FAILURES_PER_MINUTE, RATE_LIMIT_AUTH_FAILURES_BURST",
        )
        self.enabled = any(
            table is not None for table in (self.keys, self.addresses, self.auth_failures)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not self.enabled or _is_open(path):
            await self.app(scope, receive, send)
            return
        now = self.clock()
        address = client_address(scope)
        token = presented_token(scope)
        failures = self.auth_failures
        budget = None if path == _METRICS_PATH else self.keys if token else self.addresses
        # An identity token is counted by the subject it proves, once verified (below).
        identity_token = token is not None and is_identity_token(token)
        caller = address if token is None else _short_hash(token)
        entries: list[tuple[BucketTable, str]] = []
        if budget is not None and not identity_token:
            entries.append((budget, caller))
        if failures is not None:
            entries.append((failures, address))

        # A failed authentication's token is taken before the request goes on, so requests sent
        # at once cannot all pass a check made before any of them failed; it is given back as
        # soon as the key is known to be good (or the answer is not a 401).
        if failures is not None and not failures.take(address, now):
            await self._refuse(scope, receive, send, "auth_failures", failures, entries, now)
            return
        if budget is not None and not identity_token and not budget.take(caller, now):
            if failures is not None:
                failures.give_back(address, now)
            await self._refuse(scope, receive, send, "budget", budget, entries, now)
            return
        reserved = failures is not None

        def release() -> None:
            nonlocal reserved
            if reserved and failures is not None:
                reserved = False
                failures.give_back(address, self.clock())

        def identity_verified(identity: str) -> None:
            if budget is None:
                return
            entries.insert(0, (budget, "identity:" + _short_hash(identity)))
            if not budget.take(entries[0][1], self.clock()):
                detail, headers = self._refusal("budget", budget, entries, self.clock())
                raise RateLimited(detail, headers)

        state = scope.setdefault("state", {})
        state[AUTHENTICATED_HOOK] = release
        state[IDENTITY_VERIFIED_HOOK] = identity_verified

        async def send_with_rate_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] != HTTPStatus.UNAUTHORIZED:
                    release()
                if entries and path != _METRICS_PATH:
                    headers = MutableHeaders(scope=message)
                    headers.update(_rate_limit_headers(entries, self.clock()))
            await send(message)

        await self.app(scope, receive, send_with_rate_limits)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        reason: Reason,
        table: BucketTable,
        entries: list[tuple[BucketTable, str]],
        now: float,
    ) -> None:
        detail, headers = self._refusal(reason, table, entries, now)
        response = problem_response(
            Request(scope),
            status=HTTPStatus.TOO_MANY_REQUESTS,
            slug="rate-limited",
            title="Too many requests",
            detail=detail,
            headers=headers,
        )
        await response(scope, receive, send)

    def _refusal(
        self,
        reason: Reason,
        table: BucketTable,
        entries: list[tuple[BucketTable, str]],
        now: float,
    ) -> tuple[str, dict[str, str]]:
        """The 429's detail and headers (counted in the metrics)."""
        self.metrics.rate_limited.labels(reason=reason).inc()
        policy = table.policy
        who = next(who for entry, who in entries if entry is table)
        retry_after = max(1, math.ceil((1 - table.peek(who, now)) / policy.rate))
        if reason == "auth_failures":
            what = (
                "too many failed authentication attempts from this address: at most "
                f"{policy.burst}, then {policy.rate * 60:g} a minute"
            )
        else:
            caller = (
                "this address without a key"
                if policy.name != "per-key"
                else "this identity"
                if who.startswith("identity:")
                else "this key"
            )
            what = (
                f"too many requests for {caller}: at most {policy.burst} at once, then "
                f"{policy.rate:g} a second"
            )
        headers = _rate_limit_headers(entries, now, refused=(table, retry_after))
        detail = f"{what} ({policy.settings}); retry after {retry_after} s"
        return detail, {**headers, "Retry-After": str(retry_after)}


def _rate_limit_headers(
    entries: list[tuple[BucketTable, str]],
    now: float,
    *,
    refused: tuple[BucketTable, int] | None = None,
) -> dict[str, str]:
    """RateLimit-Policy and RateLimit; a refusing policy's `t` is the Retry-After, since the
    draft wants Retry-After no earlier than the end of the effective window."""
    limits = []
    for table, who in entries:
        if refused is not None and table is refused[0]:
            limits.append(f'"{table.policy.name}";r=0;t={refused[1]}')
        else:
            limits.append(table.service_limit(table.peek(who, now)))
    return {
        "RateLimit-Policy": ", ".join(table.quota_policy() for table, _ in entries),
        "RateLimit": ", ".join(limits),
    }


def _is_open(path: str) -> bool:
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)


def is_rate_limited_path(path: str) -> bool:
    """Everything but health, docs and `/metrics` (which only the auth-failure limit guards)."""
    return not _is_open(path) and path != _METRICS_PATH


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def presented_token(scope: Scope) -> str | None:
    """The `Authorization: Bearer` token, or None without one."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bearer_token(value.decode("latin-1"))
    return None


def bearer_token_hash(scope: Scope) -> str | None:
    """A short SHA-256 of the `Authorization: Bearer` token, or None without one."""
    token = presented_token(scope)
    return None if token is None else _short_hash(token)


def _short_hash(text: str) -> str:
    # surrogatepass: an identity's subject is JSON from a token, which may hold a lone one.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
