"""Service settings, read from the environment and an optional `.env` file.

Every field here is documented in README.md and mirrored in `.env.example`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from psycopg2 import ProgrammingError
from psycopg2.extensions import parse_dsn
from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.secrets_keys import Keyring, parse_keyring
from identity.trusted_issuers import TrustedIssuer, check_distinct, parse_issuers

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LogLevel = Literal["critical", "error", "warning", "info", "debug"]
LogFormat = Literal["json", "text"]

_URL_SCHEMES = ("postgresql://", "postgres://")
# Settings whose value may hold a password: an error about them never shows the value.
_SECRET_SETTINGS = frozenset({"DATABASE_URL", "API_KEY_PEPPER", "OIDC_ISSUERS", "SECRETS_KEYS"})
# Inside OIDC_ISSUERS, the members whose value an error may show (never `hmac_secret`).
_SHOWN_ISSUER_MEMBERS = frozenset({"issuer", "audiences", "jwks_uri", "jwks_file", "algorithms"})
# Used when API_KEY_PEPPER is unset, so that `dev` and the tests need no setup; `serve` warns.
DEVELOPMENT_PEPPER = "config-service-development-pepper"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql:// or postgres://) or libpq key=value "
        "string. Unset: an embedded PostgreSQL is started in EMBEDDED_POSTGRES_DIR.",
    )
    embedded_postgres_dir: Path = Field(
        default=PROJECT_ROOT / ".postgres",
        description="Where the embedded PostgreSQL keeps its data when DATABASE_URL is unset.",
    )
    database_pool_min_size: int = Field(default=10, ge=0, le=1000)
    database_pool_max_size: int = Field(default=20, ge=1, le=1000)
    database_pool_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="How long a request waits for a free connection before a 503.",
    )
    database_pool_idle_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="A pooled connection above the min size is closed once idle this long.",
    )
    database_connect_timeout_seconds: int = Field(
        default=5,
        ge=1,
        le=300,
        description="Give up opening any connection (pool, migrations, schema check, readiness) "
        "after this long.",
    )
    database_statement_timeout_ms: int = Field(default=5000, ge=1, le=3_600_000)
    database_lock_timeout_ms: int = Field(
        default=2000,
        ge=1,
        le=3_600_000,
        description="The most a request waits for database locks, in all, however many locks, "
        "statements and retries it takes: once its database work has run this long, a statement "
        "of it still waiting for a lock is cancelled (503).",
    )
    database_keepalives_idle_seconds: int = Field(
        default=10, ge=1, le=7200, description="Idle seconds before TCP keepalive probes start."
    )
    database_keepalives_interval_seconds: int = Field(default=5, ge=1, le=600)
    database_keepalives_count: int = Field(default=3, ge=1, le=100)
    database_tcp_user_timeout_ms: int = Field(
        default=20_000,
        ge=0,
        le=3_600_000,
        description="Drop the link when sent data stays unacknowledged this long (0: OS default).",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=1_073_741_824)
    max_json_depth: int = Field(default=32, ge=1, le=200)
    max_header_bytes: int = Field(
        default=16_384,
        ge=1024,
        le=1_048_576,
        description="Requests whose headers (names and values) add up to more get 431.",
    )
    require_if_match: bool = Field(
        default=False,
        description="Refuse writes (PUT, PATCH, DELETE, restore) without If-Match, with 428.",
    )
    config_cache_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        le=2**40,
        description="Memory for cached configuration responses per process (0: no cache).",
    )
    change_log_retention_hours: float = Field(
        default=168.0,
        gt=0,
        le=24 * 366,
        description="How long change log records are kept for clients that resume.",
    )
    long_poll_max_seconds: int = Field(
        default=60, ge=1, le=3600, description="The longest `Prefer: wait` honoured."
    )
    events_heartbeat_seconds: float = Field(
        default=15.0, gt=0, le=3600, description="Idle event streams get a comment this often."
    )
    rate_limit_per_second: float = Field(
        default=100.0,
        ge=0,
        le=1_000_000,
        description="Requests a second each API key may make on average (0: no limit).",
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, le=1_000_000, description="Requests a key may make at once."
    )
    rate_limit_address_per_second: float = Field(
        default=50.0,
        ge=0,
        le=1_000_000,
        description="Requests a second each client address may make without a key (0: no limit).",
    )
    rate_limit_address_burst: int = Field(default=100, ge=1, le=1_000_000)
    rate_limit_auth_failures_per_minute: float = Field(
        default=10.0,
        ge=0,
        le=1_000_000,
        description="Failed authentications (401) a minute each client address may have on "
        "average before its requests get 429 (0: no limit).",
    )
    rate_limit_auth_failures_burst: int = Field(default=20, ge=1, le=1_000_000)
    api_key_pepper: SecretStr | None = Field(
        default=None,
        description="Secret key of the HMAC that API keys are stored as. Changing it makes "
        "every key invalid. Unset: a fixed development value (serve warns).",
    )
    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="How long a worker trusts a key or bindings it has checked; a revocation "
        "or binding change empties every worker's cache at once, unless its listening "
        "connection is down (0: check every request in PostgreSQL).",
    )
    metrics_require_key: bool = Field(
        default=False, description="true: GET /metrics needs an admin key."
    )
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: LogLevel = "info"
    log_format: LogFormat = Field(
        default="json", description="json: one JSON object a line; text: for people (dev)."
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Worker processes `serve` runs, each with its own cache and listener. "
        "Unset: the CPUs this process may use (affinity and cgroup quota), at least 1.",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="On SIGTERM, how long in-flight requests may take; then their database work "
        "is cancelled (503) and the process exits.",
    )
    oidc_issuers: Annotated[list[TrustedIssuer], NoDecode, BeforeValidator(parse_issuers)] = Field(
        default=[],
        max_length=100,
        description="Identity providers whose tokens (JWTs) are accepted, as a JSON list of "
        "objects: issuer, audiences, and optionally jwks_uri, jwks_file, algorithms, "
        "hmac_secret. Empty: no tokens, API keys only.",
    )
    oidc_leeway_seconds: int = Field(
        default=30,
        ge=0,
        le=60,
        description="Clock skew allowed when checking a token's exp, nbf and iat.",
    )
    oidc_max_token_lifetime_seconds: int = Field(
        default=86_400,
        ge=60,
        le=31_622_400,
        description="Tokens valid for longer (exp minus iat, or nbf, or now) are refused.",
    )

    secrets_keys: SecretStr | None = Field(
        default=None,
        description="Keyring for secret values in configurations: comma-separated "
        "<id>:<base64 of 32 bytes>; the first encrypts, every one decrypts. Unset: "
        "configurations cannot hold secrets.",
    )

    @property
    def secrets_keyring(self) -> Keyring:
        return parse_keyring(self.secrets_keys.get_secret_value() if self.secrets_keys else "")

    @field_validator("secrets_keys")
    @classmethod
    def _secrets_keys_are_a_keyring(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_keyring(value.get_secret_value())  # the message never holds key material
        return value

    @property
    def pepper(self) -> bytes:
        secret = self.api_key_pepper.get_secret_value() if self.api_key_pepper else ""
        return (secret or DEVELOPMENT_PEPPER).encode()

    @field_validator("database_url")
    @classmethod
    def _database_url_has_a_known_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not is_database_url(value.get_secret_value()):
            raise ValueError(
                "must be a postgresql:// or postgres:// URL, e.g. "
                "postgresql://user:password@localhost:5432/config, or libpq key=value pairs, "
                "e.g. host=localhost dbname=config (the value is not shown: it may hold a "
                "password)"
            )
        return value

    @field_validator("oidc_issuers")
    @classmethod
    def _issuers_are_distinct(cls, value: list[TrustedIssuer]) -> list[TrustedIssuer]:
        return check_distinct(value)

    @model_validator(mode="after")
    def _pool_bounds_are_ordered(self) -> Settings:
        if self.database_pool_min_size > self.database_pool_max_size:
            raise ValueError(
                "DATABASE_POOL_MIN_SIZE must not exceed DATABASE_POOL_MAX_SIZE "
                f"(got {self.database_pool_min_size} > {self.database_pool_max_size})"
            )
        return self


def is_database_url(text: str) -> bool:
    """A postgresql:// or postgres:// URL, or a libpq `key=value` string libpq can parse."""
    scheme, separator, _ = text.partition("://")
    if separator and f"{scheme}://" not in _URL_SCHEMES:
        return False
    if not separator and "=" not in text:
        return False
    try:
        parse_dsn(text)
    except ProgrammingError:
        return False
    return True


class SettingsError(Exception):
    """Settings could not be loaded; the message names each setting and the rule broken."""


def describe_settings_error(error: ValidationError) -> str:
    lines = ["Invalid settings:"]
    for item in error.errors(include_url=False):
        root, *inner = item["loc"] or ("",)
        setting = str(root).upper() + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in inner
        )
        message = item["msg"].removeprefix("Value error, ")
        value = item.get("input")
        hidden = (
            not setting
            or isinstance(value, dict | list)
            or (
                str(root).upper() in _SECRET_SETTINGS
                and not any(part in _SHOWN_ISSUER_MEMBERS for part in inner)
            )
        )
        shown = "" if hidden else f" (got {value!r})"
        lines.append(f"  {setting or 'settings'}: {message}{shown}")
    return "\n".join(lines)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe_settings_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
