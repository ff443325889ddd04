"""What identity tokens need in a running process, made once by main: the trusted issuers'
keys (fetched and refreshed in the background from start-up), the verifier, the tokens it
verified lately, and the bindings cache."""

from __future__ import annotations

from api.auth.binding_cache import BindingCache
from api.auth.token_cache import VerifiedTokens
from config.settings import Settings
from identity.issuer_keys import IssuerDirectory
from identity.token_verifier import TokenVerifier


class Identities:
    def __init__(self, settings: Settings) -> None:
        self.trusted_issuers = frozenset(entry.issuer for entry in settings.oidc_issuers)
        self.bindings = BindingCache(seconds=settings.api_key_cache_seconds)
        self.verified = VerifiedTokens(seconds=settings.api_key_cache_seconds)
        self._directory = IssuerDirectory(settings.oidc_issuers)
        self.verifier = TokenVerifier(
            self._directory,
            leeway_seconds=settings.oidc_leeway_seconds,
            max_lifetime_seconds=settings.oidc_max_token_lifetime_seconds,
        )

    async def start(self) -> None:
        """Begin fetching the issuers' keys; start-up never waits on a provider."""
        await self._directory.start()

    async def stop(self) -> None:
        await self._directory.stop()
