"""`OIDC_ISSUERS`: the identity providers whose tokens this service trusts, read strictly.

Each issuer is checked when the settings load, so a mistake stops start-up with a line naming
the issuer and the rule rather than turning every token into a 401 later: an unknown algorithm,
`none`, an HMAC algorithm without a long enough `hmac_secret`, an issuer or JWKS URL that is not
https (http only for localhost and 127.0.0.1, for development and tests), both `jwks_uri` and
`jwks_file`, or a JWKS file that does not parse. `hmac_secret` is never shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from identity.algorithms import (
    ASYMMETRIC_ALGORITHMS,
    HMAC_MINIMUM_SECRET_BYTES,
    KNOWN_ALGORITHMS,
    is_hmac,
)
from identity.key_set import InvalidKeySet, KeySet, parse_jwks_text

DEVELOPMENT_HOSTS = frozenset({"localhost", "127.0.0.1"})
MAX_URL_LENGTH = 2048
MAX_AUDIENCES = 100
MAX_JWKS_FILE_BYTES = 1_048_576
MAX_ISSUERS = 100
EXAMPLE = '[{"issuer": "https://id.example.com", "audiences": ["config-service"]}]'

Audience = Annotated[str, Field(min_length=1, max_length=1024)]


class TrustedIssuer(BaseModel):
    """One entry of OIDC_ISSUERS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    audiences: list[Audience] = Field(min_length=1, max_length=MAX_AUDIENCES)
    jwks_uri: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    jwks_file: Path | None = None
    algorithms: list[str] | None = Field(default=None, min_length=1, max_length=20)
    hmac_secret: SecretStr | None = None

    @property
    def allowed_algorithms(self) -> frozenset[str]:
        """As configured; by default the asymmetric set, and with `hmac_secret` also the HMAC
        algorithms it is long enough for."""
        if self.algorithms is not None:
            return frozenset(self.algorithms)
        allowed = set(ASYMMETRIC_ALGORITHMS)
        if self.hmac_secret is not None:
            length = len(self.hmac_secret.get_secret_value().encode())
            allowed |= {
                name for name, least in HMAC_MINIMUM_SECRET_BYTES.items() if length >= least
            }
        return frozenset(allowed)

    @property
    def needs_published_keys(self) -> bool:
        """Whether any allowed algorithm verifies with a key the issuer publishes."""
        return any(not is_hmac(name) for name in self.allowed_algorithms)

    @property
    def hmac_key(self) -> bytes | None:
        return None if self.hmac_secret is None else self.hmac_secret.get_secret_value().encode()

    @field_validator("issuer")
    @classmethod
    def _issuer_is_an_https_url(cls, value: str) -> str:
        parts = check_url(value, "issuer")
        if parts.query or parts.fragment:
            raise ValueError("issuer must have no query or fragment")
        return value

    @field_validator("jwks_uri")
    @classmethod
    def _jwks_uri_is_an_https_url(cls, value: str | None) -> str | None:
        if value is not None and check_url(value, "jwks_uri").fragment:
            raise ValueError("jwks_uri must have no fragment")
        return value

    @field_validator("algorithms")
    @classmethod
    def _algorithms_are_known(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if name.lower() == "none":
                raise ValueError(
                    "algorithm 'none' is never allowed: it would accept unsigned tokens"
                )
            if name not in KNOWN_ALGORITHMS:
                raise ValueError(
                    f"unknown algorithm {name!r} (known: {', '.join(KNOWN_ALGORITHMS)})"
                )
        return value

    @model_validator(mode="after")
    def _keys_fit_the_algorithms(self) -> TrustedIssuer:
        secret_bytes = None if self.hmac_key is None else len(self.hmac_key)
        if secret_bytes is not None and secret_bytes < min(HMAC_MINIMUM_SECRET_BYTES.values()):
            raise ValueError(
                f"issuer {self.issuer!r}: hmac_secret must be at least 32 bytes "
                f"(got {secret_bytes}; the secret itself is not shown)"
            )
        for name in sorted(self.allowed_algorithms):
            if not is_hmac(name):
                continue
            least = HMAC_MINIMUM_SECRET_BYTES[name]
            if secret_bytes is None:
                raise ValueError(
                    f"issuer {self.issuer!r}: algorithm {name} needs hmac_secret (HMAC "
                    "algorithms are allowed only with a shared secret for that issuer)"
                )
            if secret_bytes < least:
                raise ValueError(
                    f"issuer {self.issuer!r}: algorithm {name} needs an hmac_secret of at "
                    f"least {least} bytes (got {secret_bytes})"
                )
        if self.jwks_uri is not None and self.jwks_file is not None:
            raise ValueError(f"issuer {self.issuer!r}: give jwks_uri or jwks_file, not both")
        if self.jwks_file is not None:
            try:
                read_jwks_file(self.jwks_file)
            except InvalidKeySet as error:
                raise ValueError(f"issuer {self.issuer!r}: jwks_file {error}") from None
        return self


def read_jwks_file(path: Path) -> KeySet:
    """The keys in a JWKS file; InvalidKeySet (naming the file) when it cannot be used."""
    try:
        with path.open("rb") as file:
            text = file.read(MAX_JWKS_FILE_BYTES + 1)
    except OSError as error:
        raise InvalidKeySet(f"{str(path)!r} cannot be read: {error.strerror}") from None
    if len(text) > MAX_JWKS_FILE_BYTES:
        raise InvalidKeySet(f"{str(path)!r} is larger than {MAX_JWKS_FILE_BYTES} bytes")
    try:
        return parse_jwks_text(text)
    except InvalidKeySet as error:
        raise InvalidKeySet(f"{str(path)!r} {error}") from None


def parse_issuers(value: Any) -> Any:
    """OIDC_ISSUERS as text from the environment: JSON, read here so that a mistake gets a
    message naming the setting (the value is never shown: it may hold an hmac_secret)."""
    if not isinstance(value, str | bytes):
        return value
    if not value.strip():
        return []
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as error:
        raise ValueError(
            f"must be a JSON list of issuer objects, e.g. {EXAMPLE} ({error})"
        ) from None


def check_distinct(issuers: list[TrustedIssuer]) -> list[TrustedIssuer]:
    seen: set[str] = set()
    for entry in issuers:
        if entry.issuer in seen:
            raise ValueError(f"issuer {entry.issuer!r} is listed twice")
        seen.add(entry.issuer)
    return issuers


def check_url(value: str, field: str) -> SplitResult:
    rule = f"{field} must be an https:// URL (http:// only for localhost or 127.0.0.1)"
    if any(character.isspace() or not character.isprintable() for character in value):
        raise ValueError(f"{field} must not hold white space or control characters")
    try:
        parts = urlsplit(value)
        _ = parts.port  # a malformed port raises here
    except ValueError:
        raise ValueError(rule) from None
    secure = parts.scheme == "https" and bool(parts.hostname)
    local = parts.scheme == "http" and parts.hostname in DEVELOPMENT_HOSTS
    if not (secure or local):
        raise ValueError(rule)
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{field} must not hold a user name or password")
    return parts
