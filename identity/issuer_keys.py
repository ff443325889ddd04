"""Each trusted issuer's keys, kept fresh: fetched at start, refreshed periodically, and
fetched again (at most once a minute per issuer) when a token names a key not yet seen.

The last good keys stay in use while the provider is down, so an outage of the identity
provider never stops tokens it has already signed; an issuer whose keys never arrived makes its
tokens fail with `keys_unavailable` until they do. Concurrent requests that need a fetch share
the one under way, and a request that gives up (a client that disconnects) does not cancel it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from jwt import PyJWK

from identity.key_fetcher import KeyFetcher, KeyFetchFailed
from identity.key_set import KeyDoesNotFit, KeySet, NoSuchKey
from identity.rejections import TokenRejected, TokenRejection
from identity.trusted_issuers import TrustedIssuer

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 300.0
FIRST_RETRY_SECONDS = 5.0
REFETCH_INTERVAL_SECONDS = 60.0


class IssuerKeys:
    def __init__(
        self,
        issuer: TrustedIssuer,
        *,
        fetcher: KeyFetcher,
        refresh_seconds: float = REFRESH_SECONDS,
        first_retry_seconds: float = FIRST_RETRY_SECONDS,
        refetch_interval_seconds: float = REFETCH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.key_set: KeySet | None = None
        self.last_error: str | None = None
        self.fetches = 0
        self._fetcher = fetcher
        self._refresh_seconds = refresh_seconds
        self._first_retry_seconds = first_retry_seconds
        self._refetch_interval_seconds = refetch_interval_seconds
        self._clock = clock
        self._loading: asyncio.Task[None] | None = None
        self._last_started: float | None = None

    async def refresh(self) -> None:
        """Fetch the keys now, or join the fetch under way; never raises for a failed fetch."""
        if self._loading is None or self._loading.done():
            self._last_started = self._clock()
            self._loading = asyncio.get_running_loop().create_task(self._load())
        await asyncio.shield(self._loading)

    async def keep_fresh(self) -> None:
        """Fetch, then again every refresh period (sooner, backing off, after a failure)."""
        retry = self._first_retry_seconds
        while True:
            await self.refresh()
            if self.last_error is None:
                retry = self._first_retry_seconds
                await asyncio.sleep(self._refresh_seconds)
            else:
                await asyncio.sleep(retry)
                retry = min(retry * 2, self._refresh_seconds)

    async def stop(self) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loading

    async def key_for(self, *, kid: str | None, algorithm: str) -> PyJWK:
        """The published key to verify a token of `algorithm` naming `kid` with."""
        key_set = self.key_set
        if key_set is not None:
            with contextlib.suppress(NoSuchKey):
                return self._find(key_set, kid=kid, algorithm=algorithm)
        if self._may_fetch_again():
            await self.refresh()
        key_set = self.key_set
        if key_set is None:
            raise TokenRejected(
                TokenRejection.KEYS_UNAVAILABLE,
                f"the keys of issuer {self.issuer.issuer!r} could not be fetched yet; retry later",
            )
        try:
            return self._find(key_set, kid=kid, algorithm=algorithm)
        except NoSuchKey as error:
            raise TokenRejected(TokenRejection.UNKNOWN_KEY, str(error)) from None

    @staticmethod
    def _find(key_set: KeySet, *, kid: str | None, algorithm: str) -> PyJWK:
        try:
            return key_set.find(kid=kid, algorithm=algorithm)
        except KeyDoesNotFit as error:
            raise TokenRejected(TokenRejection.KEY_TYPE_MISMATCH, str(error)) from None

    def _may_fetch_again(self) -> bool:
        """A fetch under way may be joined; a new one starts at most once a refetch interval,
        so a flood of made-up key ids is no flood of requests to the provider."""
        if self._loading is not None and not self._loading.done():
            return True
        return (
            self._last_started is None
            or self._clock() - self._last_started >= self._refetch_interval_seconds
        )

    async def _load(self) -> None:
        self.fetches += 1
        try:
            key_set = await self._fetcher.fetch(self.issuer)
        except KeyFetchFailed as error:
            self._failed(str(error))
            return
        except Exception as error:  # whatever a provider does must not reach a request
            logger.warning(
                "fetching the keys of %s failed unexpectedly", self.issuer.issuer, exc_info=True
            )
            self._failed(type(error).__name__)
            return
        if key_set.notes and (self.key_set is None or self.key_set.notes != key_set.notes):
            logger.warning(
                "issuer %s: %d published keys skipped: %s",
                self.issuer.issuer,
                len(key_set.notes),
                "; ".join(key_set.notes),
            )
        if self.key_set is None or self.last_error is not None:
            logger.info("issuer %s: %d keys loaded", self.issuer.issuer, len(key_set.keys))
        self.key_set = key_set
        self.last_error = None

    def _failed(self, message: str) -> None:
        kept = "the last good keys stay in use" if self.key_set else "no keys yet"
        logger.warning("issuer %s: keys not fetched (%s): %s", self.issuer.issuer, kept, message)
        self.last_error = message


class IssuerDirectory:
    """The trusted issuers by their exact `iss`, and the keys of those that publish keys."""

    def __init__(
        self,
        issuers: Sequence[TrustedIssuer],
        *,
        fetcher: KeyFetcher | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        first_retry_seconds: float = FIRST_RETRY_SECONDS,
        refetch_interval_seconds: float = REFETCH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuers = {entry.issuer: entry for entry in issuers}
        self._fetcher: KeyFetcher | None = None
        self._keys: dict[str, IssuerKeys] = {}
        publishing = [entry for entry in issuers if entry.needs_published_keys]
        if publishing:
            shared = self._fetcher = fetcher or KeyFetcher()
            self._keys = {
                entry.issuer: IssuerKeys(
                    entry,
                    fetcher=shared,
                    refresh_seconds=refresh_seconds,
                    first_retry_seconds=first_retry_seconds,
                    refetch_interval_seconds=refetch_interval_seconds,
                    clock=clock,
                )
                for entry in publishing
            }
        self._tasks: list[asyncio.Task[None]] = []

    def find(self, issuer: str) -> TrustedIssuer | None:
        return self._issuers.get(issuer)

    def keys_of(self, issuer: str) -> IssuerKeys:
        return self._keys[issuer]

    async def start(self) -> None:
        """Begin fetching every issuer's keys (in the background: start-up never waits on a
        provider, and tokens that arrive meanwhile join the first fetch)."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(keys.keep_fresh()) for keys in self._keys.values()]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for keys in self._keys.values():
            await keys.stop()
        if self._fetcher is not None:
            await self._fetcher.aclose()
