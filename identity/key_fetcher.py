"""Fetching an issuer's keys: OpenID discovery, a JWKS URL, or a JWKS file, always bounded.

Every fetch is async (httpx.AsyncClient) and bounded: a timeout on each step and on the whole,
a cap on the bytes read (counted as they arrive, after any decompression), and no redirects
(a JWKS found by following a redirect to another host would be trusted on that host's word;
configure the final URL as `jwks_uri` instead). A discovery document must name the configured
issuer exactly (OpenID Connect Discovery 1.0, section 4.3), and its `jwks_uri` must be https
(http only for localhost). HTTPS certificates are checked against certifi's roots, or
SSL_CERT_FILE / SSL_CERT_DIR when set (a private cluster's CA).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from identity.key_set import InvalidKeySet, KeySet, parse_jwks
from identity.trusted_issuers import TrustedIssuer, check_url, read_jwks_file

DISCOVERY_PATH = "/.well-known/openid-configuration"
TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024
USER_AGENT = "config-service (OpenID key fetch)"


class KeyFetchFailed(Exception):
    """The keys could not be fetched; the message names the URL and what went wrong."""


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + DISCOVERY_PATH


class KeyFetcher:
    def __init__(
        self,
        *,
        timeout_seconds: float = TIMEOUT_SECONDS,
        max_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        self._http: httpx.AsyncClient | None = None  # made at the first fetch, on its loop

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_seconds),
                follow_redirects=False,
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def fetch(self, issuer: TrustedIssuer) -> KeySet:
        """The issuer's keys now; KeyFetchFailed when they cannot be had."""
        if issuer.jwks_file is not None:
            try:
                return await asyncio.to_thread(read_jwks_file, issuer.jwks_file)
            except InvalidKeySet as error:
                raise KeyFetchFailed(f"jwks_file {error}") from None
        # Discovery and the JWKS together: twice a step's timeout at most.
        try:
            async with asyncio.timeout(2 * self.timeout_seconds):
                jwks_uri = issuer.jwks_uri or await self._discover(issuer)
                document = await self._get_json(jwks_uri)
        except TimeoutError:
            raise KeyFetchFailed(
                f"fetching the keys of {issuer.issuer} took longer than "
                f"{2 * self.timeout_seconds:g} s"
            ) from None
        try:
            return parse_jwks(document)
        except InvalidKeySet as error:
            raise KeyFetchFailed(f"the JWKS at {jwks_uri} {error}") from None

    async def _discover(self, issuer: TrustedIssuer) -> str:
        url = discovery_url(issuer.issuer)
        document = await self._get_json(url)
        if not isinstance(document, dict):
            raise KeyFetchFailed(f"the discovery document at {url} is not a JSON object")
        if document.get("issuer") != issuer.issuer:
            raise KeyFetchFailed(
                f"the discovery document at {url} names another issuer: it must be exactly "
                f"{issuer.issuer!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise KeyFetchFailed(f"the discovery document at {url} has no jwks_uri")
        try:
            check_url(jwks_uri, "jwks_uri")
        except ValueError as error:
            raise KeyFetchFailed(f"the discovery document at {url}: {error}") from None
        return jwks_uri

    async def _get_json(self, url: str) -> Any:
        body = bytearray()
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != httpx.codes.OK:
                    moved = " (redirects are not followed)" if response.is_redirect else ""
                    raise KeyFetchFailed(f"{url} answered {response.status_code}{moved}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise KeyFetchFailed(f"{url} sent more than {self.max_bytes} bytes")
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise KeyFetchFailed(f"{url} sent more than {self.max_bytes} bytes")
        except httpx.HTTPError as error:
            reason = str(error)[:200] or type(error).__name__
            raise KeyFetchFailed(f"{url} could not be fetched: {reason}") from None
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise KeyFetchFailed(f"{url} did not answer JSON") from None
