"""What identity tokens need in a running process, made once by main: the trusted issuers'
keys (fetched and refreshed in the background from start-up), the verifier, and the bindings
cache."""

from __future__ import annotations

from api.auth.binding_cache import BindingCache
from config.settings import Settings
from identity.issuer_keys import IssuerDirectory
from identity.token_verifier import TokenVerifier


class Identities:
    def __init__(self, settings: Settings) -> None:
        self.trusted_issuers = frozenset(entry.issuer for entry in settings.oidc_issuers)
        self.bindings = BindingCache(seconds=settings.api_key_cache_seconds)
        self._settings = settings
        self._directory: IssuerDirectory | None = None
        self._verifier: TokenVerifier | None = None

    @property
    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            raise RuntimeError("identity tokens are verified only once the app has started")
        return self._verifier

    async def start(self) -> None:
        """Begin fetching the issuers' keys; start-up never waits on a provider."""
        self._directory = IssuerDirectory(self._settings.oidc_issuers)
        self._verifier = TokenVerifier(
            self._directory,
            leeway_seconds=self._settings.oidc_leeway_seconds,
            max_lifetime_seconds=self._settings.oidc_max_token_lifetime_seconds,
        )
        await self._directory.start()

    async def stop(self) -> None:
        if self._directory is not None:
            await self._directory.stop()
