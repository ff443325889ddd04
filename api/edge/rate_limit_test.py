"""Rate limits: the token bucket and its table, then the middleware around a tiny app that
answers 401 for a wrong key (the failed-authentication limit), with a clock the test moves.
The live service's limits are tested over real HTTP in rate_limit_live_test.py."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.auth.bearer import AUTHENTICATED_HOOK, bearer_token
from api.edge.metrics import Metrics
from api.edge.rate_limit import RateLimitMiddleware, bearer_token_hash
from api.edge.request_context import RequestContextMiddleware
from api.edge.token_buckets import BucketTable, Policy
from checks.operations_test import metric
from config.settings import Settings

RATE_LIMITED = "urn:config-service:problem:rate-limited"
CANARY_KEY = "cs_canary_3f9a1c7e5b2d4f60"


def table(rate: float = 2, burst: int = 4, capacity: int = 1000) -> BucketTable:
    return BucketTable(Policy("p", rate, burst, "SETTINGS"), capacity)


def test_a_bucket_allows_its_burst_then_refuses_until_it_refills() -> None:
    bucket = table(rate=2, burst=4)

    assert [bucket.take("a", 0.0) for _ in range(5)] == [True, True, True, True, False]
    assert bucket.take("a", 0.4) is False  # 0.8 of a token
    assert bucket.take("a", 0.5) is True  # one whole token after half a second at 2/s
    assert bucket.peek("a", 100.0) == 4  # never more than the burst


def test_service_limits_say_what_is_left_and_when_it_is_full_again() -> None:
    bucket = table(rate=2, burst=4)
    assert bucket.quota_policy() == '"p";q=4;w=2'
    assert bucket.service_limit(4) == '"p";r=4;t=0'
    assert bucket.service_limit(3) == '"p";r=3;t=1'
    assert bucket.service_limit(0.5) == '"p";r=0;t=1'  # empty: until one request is allowed
    assert table(rate=0.1, burst=3).service_limit(1) == '"p";r=1;t=20'
    assert table(rate=3, burst=10).quota_policy() == '"p";q=10;w=4'  # 10/4 s: not above 3/s


def test_the_table_keeps_at_most_its_capacity_dropping_the_least_recently_used() -> None:
    bucket = table(capacity=3)
    for caller in ("a", "b", "c"):
        bucket.take(caller, 0.0)
    bucket.take("a", 0.0)  # a is now the most recently used

    bucket.take("d", 0.0)

    assert len(bucket) == 3
    assert bucket.peek("b", 0.0) == 4  # b was dropped: a new bucket starts full
    assert bucket.peek("a", 0.0) == 2
    assert bucket.peek("c", 0.0) == 3


def test_a_flood_of_distinct_callers_does_not_grow_the_table() -> None:
    bucket = table(capacity=100)
    for number in range(10_000):
        assert bucket.take(f"caller-{number}", 0.0) is True
    assert len(bucket) == 100


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        ("Bearer abc", "ba7816bf8f01cfea414140de5dae2223"),  # SHA-256("abc"), shortened
        ("bearer   abc", "ba7816bf8f01cfea414140de5dae2223"),
        ("Bearer ", None),
        ("Basic abc", None),
        (None, None),
    ],
)
def test_a_caller_is_its_bearer_token_hash(authorization: str | None, expected: str | None) -> None:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    assert bearer_token_hash({"type": "http", "headers": headers}) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _answer(request: Request) -> JSONResponse:
    """401 unless the key is `good`, as the authentication will."""
    if request.headers.get("authorization") != "Bearer good":
        return JSONResponse({"status": 401}, status_code=401)
    return JSONResponse({"path": request.url.path})


def limited_app(clock: Clock, **settings: object) -> tuple[RequestContextMiddleware, Metrics]:
    values: dict[str, object] = {
        "rate_limit_per_second": 0,
        "rate_limit_address_per_second": 0,
        "rate_limit_auth_failures_per_minute": 0,
        **settings,
    }
    metrics = Metrics()
    app = Starlette(routes=[Route("/{path:path}", _answer)])
    limited = RateLimitMiddleware(
        app,
        settings=Settings(_env_file=None, **values),  # type: ignore[call-arg, arg-type]
        metrics=metrics,
        clock=clock,
    )
    return RequestContextMiddleware(limited), metrics


def get(
    app: RequestContextMiddleware, path: str, *, address: str = "192.0.2.1", key: str | None = None
) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
            return await client.get(path, headers=headers)

    return asyncio.run(call())


def test_failed_authentications_lock_the_address_out_before_authentication() -> None:
    clock = Clock()
    app, metrics = limited_app(
        clock, rate_limit_auth_failures_per_minute=6, rate_limit_auth_failures_burst=3
    )

    failures = [get(app, "/api/v1/applications", key=CANARY_KEY) for _ in range(3)]
    assert [response.status_code for response in failures] == [401, 401, 401]
    assert [response.headers["ratelimit"] for response in failures] == [
        '"auth-failures";r=2;t=10',
        '"auth-failures";r=1;t=20',
        '"auth-failures";r=0;t=10',
    ]
    assert failures[0].headers["ratelimit-policy"] == '"auth-failures";q=3;w=30'

    for key in ("good", None, CANARY_KEY):  # a right key, none, a wrong one: all refused
        refused = get(app, "/api/v1/applications", key=key)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "10"
        assert refused.headers["ratelimit"] == '"auth-failures";r=0;t=10'
        assert refused.headers["ratelimit-policy"] == '"auth-failures";q=3;w=30'
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert CANARY_KEY not in refused.text
        assert refused.json() == {
            "type": RATE_LIMITED,
            "title": "Too many requests",
            "status": 429,
            "detail": "too many failed authentication attempts from this address: at most 3, "
            "then 6 a minute (RATE_LIMIT_AUTH_FAILURES_PER_MINUTE, "
            "RATE_LIMIT_AUTH_FAILURES_BURST); retry after 10 s",
            "instance": "/api/v1/applications",
            "request_id": refused.headers["x-request-id"],
        }
    exposition = metrics.exposition().decode()
    assert metric(exposition, 'config_service_rate_limited_total{reason="auth_failures"}') == 3
    assert metric(exposition, 'config_service_rate_limited_total{reason="budget"}') == 0

    # Another address is not affected; health and docs stay open for the locked one.
    assert get(app, "/api/v1/applications", key="good", address="192.0.2.2").status_code == 200
    for open_path in ("/health/live", "/docs", "/openapi.json", "/docs/assets/swagger-ui.css"):
        assert get(app, open_path).status_code == 401  # reached the app: not refused
    assert get(app, "/metrics", key="good").status_code == 429  # /metrics may need a key

    clock.now += 10  # one failure's worth refilled (6 a minute); the 429s did not count
    assert get(app, "/api/v1/applications", key="good").status_code == 200
    assert get(app, "/api/v1/applications", key=CANARY_KEY).status_code == 401
    assert get(app, "/api/v1/applications", key="good").status_code == 429


def test_each_key_and_each_keyless_address_has_its_own_budget() -> None:
    clock = Clock()
    app, metrics = limited_app(
        clock,
        rate_limit_per_second=1,
        rate_limit_burst=2,
        rate_limit_address_per_second=0.5,
        rate_limit_address_burst=1,
    )

    first, second, third = (get(app, "/api/v1/x", key="good") for _ in range(3))

    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert first.headers["ratelimit-policy"] == '"per-key";q=2;w=2'
    assert [first.headers["ratelimit"], second.headers["ratelimit"]] == [
        '"per-key";r=1;t=1',
        '"per-key";r=0;t=1',
    ]
    assert third.headers["retry-after"] == "1"
    assert third.headers["ratelimit"] == '"per-key";r=0;t=1'
    assert third.json()["detail"] == (
        "too many requests for this key: at most 2 at once, then 1 a second "
        "(RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST); retry after 1 s"
    )
    assert get(app, "/api/v1/x", key="another").headers["ratelimit"] == '"per-key";r=1;t=1'

    keyless = [get(app, "/api/v1/x") for _ in range(2)]
    assert [response.status_code for response in keyless] == [401, 429]
    assert keyless[0].headers["ratelimit-policy"] == '"per-address";q=1;w=2'
    assert keyless[1].headers["retry-after"] == "2"
    assert "this address without a key" in keyless[1].json()["detail"]
    assert get(app, "/api/v1/x", address="192.0.2.9").status_code == 401  # its own budget

    for open_path in ("/health/ready", "/metrics", "/redoc"):
        response = get(app, open_path, key="good")
        assert response.status_code == 200
        assert "ratelimit" not in response.headers

    clock.now += 1
    assert get(app, "/api/v1/x", key="good").status_code == 200
    exposition = metrics.exposition().decode()
    assert metric(exposition, 'config_service_rate_limited_total{reason="budget"}') == 2


def test_with_every_limit_off_nothing_is_added() -> None:
    app, _ = limited_app(Clock())
    responses = [get(app, "/api/v1/x", key="good") for _ in range(50)]
    assert {response.status_code for response in responses} == {200}
    assert "ratelimit" not in responses[0].headers


@pytest.mark.parametrize("padding", ["\xa0", "\x85", "\xa0\x85"])
def test_a_key_padded_with_non_ascii_white_space_is_another_token_for_both_readers(
    padding: str,
) -> None:
    """Authentication and the rate limiter read the token the same way, so padding a key with
    characters str.strip() would remove neither passes for a fresh caller with the same key."""
    header = f"Bearer abc{padding}"
    assert bearer_token(header) == f"abc{padding}"
    assert bearer_token("Bearer \tabc ") == "abc"
    scope = {"type": "http", "headers": [(b"authorization", header.encode("latin-1"))]}
    assert bearer_token_hash(scope) != bearer_token_hash(
        {"type": "http", "headers": [(b"authorization", b"Bearer abc")]}
    )


def test_failed_authentications_sent_at_once_cannot_pass_the_limit_together() -> None:
    """Each request holds one failure's worth until its key is known to be good, so a burst of
    concurrent guesses gets only the budget's worth through to authentication."""
    reached: list[str] = []
    events: list[asyncio.Event] = []

    async def slow_check(request: Request) -> JSONResponse:
        reached.append(request.headers.get("authorization", ""))
        if request.headers.get("authorization") == "Bearer good":
            request.scope["state"][AUTHENTICATED_HOOK]()  # as authenticate() does
            await events[-1].wait()
            return JSONResponse({"ok": True})
        await events[-1].wait()
        return JSONResponse({"status": 401}, status_code=401)

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rate_limit_per_second=0,
        rate_limit_address_per_second=0,
        rate_limit_auth_failures_per_minute=6,
        rate_limit_auth_failures_burst=3,
    )
    app = RateLimitMiddleware(
        Starlette(routes=[Route("/{path:path}", slow_check)]),
        settings=settings,
        metrics=Metrics(),
        clock=Clock(),
    )

    async def burst(key: str, count: int) -> list[int]:
        events.append(asyncio.Event())
        transport = httpx.ASGITransport(app=app, client=("192.0.2.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            calls = [
                asyncio.create_task(
                    client.get("/api/v1/applications", headers={"Authorization": f"Bearer {key}"})
                )
                for _ in range(count)
            ]
            await asyncio.sleep(0.05)
            events[-1].set()
            return sorted(response.status_code for response in await asyncio.gather(*calls))

    async def both() -> tuple[list[int], list[int]]:
        good = await burst("good", 10)
        reached.clear()
        return good, await burst("guess", 10)

    good, guesses = asyncio.run(both())
    # Good keys give their reservation back at once: many may wait together.
    assert good == [200] * 10
    # Guesses: only the budget's worth reaches authentication, the rest are refused at once.
    assert guesses == [401] * 3 + [429] * 7
    assert reached == ["Bearer guess"] * 3
