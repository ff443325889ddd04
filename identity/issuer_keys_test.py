"""Keeping an issuer's keys: on demand, rotation, an unknown kid, a provider that is down."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from identity.issuer_keys import IssuerDirectory, IssuerKeys
from identity.key_fetcher import KeyFetcher
from identity.key_set import KeySet
from identity.rejections import TokenRejected, TokenRejection
from identity.trusted_issuers import TrustedIssuer
from testing.oidc_issuer import JWKS_PATH, CannedResponse, OidcIssuer, run_oidc_issuer

T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with run_oidc_issuer(families=("RSA", "P-256")) as running:
        yield running


def trusted(issuer: OidcIssuer) -> TrustedIssuer:
    return TrustedIssuer(
        issuer=issuer.url, audiences=["config-service"], jwks_uri=issuer.url + JWKS_PATH
    )


def run_with_keys(
    issuer: OidcIssuer,
    scenario: Callable[[IssuerKeys, Clock], Awaitable[T]],
    **options: Any,
) -> T:
    clock = Clock()

    async def main() -> T:
        fetcher = KeyFetcher()
        keys = IssuerKeys(trusted(issuer), fetcher=fetcher, clock=clock, **options)
        try:
            return await scenario(keys, clock)
        finally:
            await keys.stop()
            await fetcher.aclose()

    return asyncio.run(main())


async def rejection(keys: IssuerKeys, kid: str | None, algorithm: str = "RS256") -> TokenRejected:
    with pytest.raises(TokenRejected) as raised:
        await keys.key_for(kid=kid, algorithm=algorithm)
    return raised.value


def test_the_first_token_fetches_the_keys(issuer: OidcIssuer) -> None:
    async def scenario(keys: IssuerKeys, clock: Clock) -> tuple[str | None, int]:
        key = await keys.key_for(kid=issuer.key("RS256").kid, algorithm="RS256")
        return key.key_id, keys.fetches

    assert run_with_keys(issuer, scenario) == (issuer.key("RS256").kid, 1)


def test_requests_that_arrive_together_share_one_fetch(issuer: OidcIssuer) -> None:
    kid = issuer.key("ES256").kid

    async def scenario(keys: IssuerKeys, clock: Clock) -> tuple[set[str | None], int]:
        found = await asyncio.gather(*(keys.key_for(kid=kid, algorithm="ES256") for _ in range(20)))
        return {key.key_id for key in found}, keys.fetches

    assert run_with_keys(issuer, scenario) == ({kid}, 1)
    assert issuer.fetch_count() == 1


def test_a_rotated_key_is_fetched_when_a_token_first_names_it(issuer: OidcIssuer) -> None:
    async def scenario(keys: IssuerKeys, clock: Clock) -> tuple[str | None, int, TokenRejection]:
        old = issuer.key("RS256").kid
        await keys.key_for(kid=old, algorithm="RS256")
        issuer.rotate()
        clock.now += 60
        new = await keys.key_for(kid=issuer.key("RS256").kid, algorithm="RS256")
        gone = await rejection(keys, old)
        return new.key_id, keys.fetches, gone.reason

    new_kid, fetches, old_kid_now = run_with_keys(issuer, scenario)

    assert (new_kid, fetches) == (issuer.key("RS256").kid, 2)
    assert old_kid_now is TokenRejection.UNKNOWN_KEY


def test_made_up_kids_fetch_at_most_once_a_minute(issuer: OidcIssuer) -> None:
    async def scenario(keys: IssuerKeys, clock: Clock) -> list[int]:
        await keys.refresh()
        counts = []
        for step in range(3):
            await asyncio.gather(
                *(rejection(keys, f"made-up-{step}-{index}") for index in range(50))
            )
            counts.append(issuer.fetch_count())
            clock.now += 30
        return counts

    # At 0 s the keys were just fetched; at 30 s no minute has passed; at 60 s one fetch.
    assert run_with_keys(issuer, scenario) == [1, 1, 2]


def test_the_refetch_interval_is_measured_from_the_last_fetch(issuer: OidcIssuer) -> None:
    async def scenario(keys: IssuerKeys, clock: Clock) -> tuple[TokenRejected, int]:
        await keys.refresh()
        clock.now += 59.9
        refused = await rejection(keys, "made-up")
        return refused, issuer.fetch_count()

    refused, fetches = run_with_keys(issuer, scenario)

    assert (refused.reason, refused.message, fetches) == (
        TokenRejection.UNKNOWN_KEY,
        "the issuer publishes no key with kid 'made-up'",
        1,
    )


def test_a_kid_of_another_key_type_is_no_refetch(issuer: OidcIssuer) -> None:
    async def scenario(keys: IssuerKeys, clock: Clock) -> tuple[TokenRejected, int]:
        await keys.refresh()
        clock.now += 600
        refused = await rejection(keys, issuer.key("ES256").kid, "RS256")
        return refused, issuer.fetch_count()

    refused, fetches = run_with_keys(issuer, scenario)

    assert (refused.reason, fetches) == (TokenRejection.KEY_TYPE_MISMATCH, 1)
    assert refused.message == (
        f"the issuer's key {issuer.key('ES256').kid!r} is not an RSA key usable with RS256"
    )


def test_the_last_good_keys_stay_while_the_provider_is_down(
    issuer: OidcIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(keys: IssuerKeys, clock: Clock) -> tuple[str | None, str | None, Any]:
        await keys.refresh()
        issuer.go_down()
        clock.now += 60
        await keys.refresh()
        still = await keys.key_for(kid=issuer.key("RS256").kid, algorithm="RS256")
        issuer.rotate()
        clock.now += 60
        refused = await rejection(keys, issuer.key("RS256").kid)
        return still.key_id, keys.last_error, refused.reason

    old_kid = issuer.key("RS256").kid
    with caplog.at_level(logging.WARNING, logger="identity.issuer_keys"):
        still, error, rotated = run_with_keys(issuer, scenario)

    assert (still, error, rotated) == (
        old_kid,
        f"{issuer.url}{JWKS_PATH} answered 503",
        TokenRejection.UNKNOWN_KEY,
    )
    assert (
        f"issuer {issuer.url}: keys not fetched (the last good keys stay in use): "
        f"{issuer.url}{JWKS_PATH} answered 503"
    ) in caplog.messages


def test_keys_that_never_arrived_are_unavailable_until_they_do(issuer: OidcIssuer) -> None:
    async def scenario(keys: IssuerKeys, clock: Clock) -> tuple[TokenRejected, str | None]:
        issuer.go_down()
        refused = await rejection(keys, issuer.key("RS256").kid)
        issuer.come_back()
        clock.now += 60
        found = await keys.key_for(kid=issuer.key("RS256").kid, algorithm="RS256")
        return refused, found.key_id

    refused, later = run_with_keys(issuer, scenario)

    assert (refused.reason, refused.message) == (
        TokenRejection.KEYS_UNAVAILABLE,
        f"the keys of issuer {issuer.url!r} could not be fetched yet; retry later",
    )
    assert later == issuer.key("RS256").kid


def test_a_waiter_that_gives_up_does_not_cancel_the_fetch(issuer: OidcIssuer) -> None:
    issuer.answer(
        JWKS_PATH, CannedResponse(200, b"", delay_seconds=0.3)
    )  # replaced below, once the fetch is under way

    async def scenario(keys: IssuerKeys, clock: Clock) -> str | None:
        waiter = asyncio.create_task(keys.key_for(kid=issuer.key("RS256").kid, algorithm="RS256"))
        for _ in range(1000):  # until the fetch has reached the issuer (bounded: 10 s)
            if issuer.fetch_count() >= 1:
                break
            await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        issuer.answer(JWKS_PATH, None)
        for _ in range(1000):  # the first fetch ends (with the empty answer it was sent)
            if keys.last_error is not None:
                break
            await asyncio.sleep(0.01)
        return keys.last_error

    assert run_with_keys(issuer, scenario) == f"{issuer.url}{JWKS_PATH} did not answer JSON"


class BrokenFetcher(KeyFetcher):
    async def fetch(self, issuer: TrustedIssuer) -> KeySet:
        raise RuntimeError("a bug in a library")


def test_an_unexpected_failure_is_logged_and_kept_from_requests(
    issuer: OidcIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> tuple[TokenRejection, str | None]:
        fetcher = BrokenFetcher()
        keys = IssuerKeys(trusted(issuer), fetcher=fetcher)
        refused = await rejection(keys, "any")
        await fetcher.aclose()
        return refused.reason, keys.last_error

    with caplog.at_level(logging.WARNING, logger="identity.issuer_keys"):
        assert asyncio.run(main()) == (TokenRejection.KEYS_UNAVAILABLE, "RuntimeError")
    assert f"fetching the keys of {issuer.url} failed unexpectedly" in caplog.messages


def test_skipped_keys_are_logged_once(issuer: OidcIssuer, caplog: pytest.LogCaptureFixture) -> None:
    jwks = issuer.jwks()
    jwks["keys"].append({"kty": "oct", "k": "eA"})
    issuer.answer(JWKS_PATH, CannedResponse(200, json.dumps(jwks).encode()))

    async def scenario(keys: IssuerKeys, clock: Clock) -> int:
        await keys.refresh()
        clock.now += 60
        await keys.refresh()
        return keys.fetches

    with caplog.at_level(logging.INFO, logger="identity.issuer_keys"):
        assert run_with_keys(issuer, scenario) == 2
    skipped = [message for message in caplog.messages if "skipped" in message]
    assert skipped == [
        f"issuer {issuer.url}: 1 published keys skipped: key 2: is not an RSA, EC or OKP "
        "public key (kty)"
    ]
    assert caplog.messages.count(f"issuer {issuer.url}: 2 keys loaded") == 1


async def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.01)


def test_keys_rotate_without_a_restart_or_a_request(issuer: OidcIssuer) -> None:
    async def main() -> None:
        directory = IssuerDirectory([trusted(issuer)], refresh_seconds=0.05)
        keys = directory.keys_of(issuer.url)
        await directory.start()
        await eventually(lambda: keys.key_set is not None)
        issuer.rotate()
        new_kid = issuer.key("RS256").kid
        await eventually(lambda: keys.key_set is not None and new_kid in keys.key_set.key_ids)
        await directory.stop()

    asyncio.run(main())


def test_a_failing_provider_is_retried_sooner_and_backing_off(issuer: OidcIssuer) -> None:
    issuer.go_down()

    async def main() -> None:
        directory = IssuerDirectory(
            [trusted(issuer)], refresh_seconds=3600, first_retry_seconds=0.02
        )
        keys = directory.keys_of(issuer.url)
        await directory.start()
        await eventually(lambda: issuer.fetch_count() >= 3)
        issuer.come_back()
        await eventually(lambda: keys.key_set is not None)
        fetched = issuer.fetch_count()
        await asyncio.sleep(0.2)  # healthy now: the next refresh is an hour away
        assert issuer.fetch_count() == fetched
        await directory.stop()

    asyncio.run(main())


def test_the_directory_knows_issuers_by_their_exact_name(issuer: OidcIssuer) -> None:
    hmac_only = TrustedIssuer(
        issuer="http://localhost:1",
        audiences=["a"],
        algorithms=["HS256"],
        hmac_secret="s" * 32,  # type: ignore[arg-type]
    )
    directory = IssuerDirectory([trusted(issuer), hmac_only])

    assert directory.find(issuer.url) == trusted(issuer)
    assert directory.find(issuer.url + "/") is None
    assert directory.find("http://localhost:1") == hmac_only
    assert directory.keys_of(issuer.url).issuer == trusted(issuer)
    with pytest.raises(KeyError):
        directory.keys_of("http://localhost:1")  # its key is its secret: nothing to fetch
    asyncio.run(directory.stop())


def test_a_directory_of_secret_only_issuers_starts_and_stops_without_fetching() -> None:
    directory = IssuerDirectory([])

    async def main() -> None:
        await directory.start()
        await directory.stop()

    asyncio.run(main())


def test_stopping_cancels_a_fetch_under_way(issuer: OidcIssuer) -> None:
    issuer.answer(JWKS_PATH, CannedResponse(200, b"{}", delay_seconds=0.5))

    async def scenario(keys: IssuerKeys, clock: Clock) -> tuple[bool, str | None]:
        waiter = asyncio.create_task(keys.refresh())
        await asyncio.sleep(0.05)
        await keys.stop()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return keys.key_set is None, keys.last_error

    assert run_with_keys(issuer, scenario) == (True, None)
