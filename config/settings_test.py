"""Settings: defaults, environment and .env overrides, and messages that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import PROJECT_ROOT, Settings, SettingsError, load_settings

CANARY_URL = "postgresql://u:canary-secret-123@h/db"
CANARY_PASSWORD = "canary-secret-123"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting from the developer's environment, and no .env file but the test's own."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


DEFAULTS = {
    "database_url": None,
    "embedded_postgres_dir": PROJECT_ROOT / ".postgres",
    "database_pool_min_size": 10,
    "database_pool_max_size": 20,
    "database_pool_timeout_seconds": 2.0,
    "database_connect_timeout_seconds": 5,
    "database_statement_timeout_ms": 5000,
    "database_lock_timeout_ms": 2000,
    "max_body_bytes": 1_048_576,
    "max_json_depth": 32,
    "max_header_bytes": 16_384,
    "host": "127.0.0.1",
    "port": 8000,
    "log_level": "info",
}


def test_defaults() -> None:
    settings = load_settings().model_dump()

    assert {name: settings[name] for name in DEFAULTS} == DEFAULTS


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("DATABASE_POOL_MIN_SIZE", "0", "database_pool_min_size", 0),
        ("DATABASE_POOL_MAX_SIZE", "50", "database_pool_max_size", 50),
        ("DATABASE_POOL_TIMEOUT_SECONDS", "0.5", "database_pool_timeout_seconds", 0.5),
        ("DATABASE_CONNECT_TIMEOUT_SECONDS", "9", "database_connect_timeout_seconds", 9),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "250", "database_statement_timeout_ms", 250),
        ("DATABASE_LOCK_TIMEOUT_MS", "125", "database_lock_timeout_ms", 125),
        ("MAX_BODY_BYTES", "2048", "max_body_bytes", 2048),
        ("MAX_JSON_DEPTH", "4", "max_json_depth", 4),
        ("MAX_HEADER_BYTES", "4096", "max_header_bytes", 4096),
        ("HOST", "192.0.2.10", "host", "192.0.2.10"),
        ("PORT", "65535", "port", 65535),
        ("LOG_LEVEL", "debug", "log_level", "debug"),
        ("EMBEDDED_POSTGRES_DIR", "/srv/pg", "embedded_postgres_dir", Path("/srv/pg")),
    ],
)
def test_environment_overrides_a_default(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)

    assert getattr(load_settings(), field) == expected


def test_database_url_comes_from_the_environment_as_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", CANARY_URL)

    database_url = load_settings().database_url

    assert isinstance(database_url, SecretStr)
    assert database_url.get_secret_value() == CANARY_URL


def test_a_dotenv_file_is_read_and_the_environment_wins_over_it(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    (clean_environment / ".env").write_text("PORT=9100\nLOG_LEVEL=warning\n", encoding="utf-8")
    monkeypatch.setenv("LOG_LEVEL", "error")

    settings = load_settings()

    assert (settings.port, settings.log_level) == (9100, "error")


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"DATABASE_POOL_MIN_SIZE": "-1"},
            "DATABASE_POOL_MIN_SIZE: Input should be greater than or equal to 0 (got '-1')",
        ),
        (
            {"DATABASE_POOL_MAX_SIZE": "-1"},
            "DATABASE_POOL_MAX_SIZE: Input should be greater than or equal to 1 (got '-1')",
        ),
        (
            {"DATABASE_POOL_MIN_SIZE": "10", "DATABASE_POOL_MAX_SIZE": "5"},
            "settings: DATABASE_POOL_MIN_SIZE must not exceed DATABASE_POOL_MAX_SIZE (got 10 > 5)",
        ),
        ({"PORT": "70000"}, "PORT: Input should be less than or equal to 65535 (got '70000')"),
        (
            {"PORT": "eighty"},
            "PORT: Input should be a valid integer, unable to parse string as an integer "
            "(got 'eighty')",
        ),
        (
            {"LOG_LEVEL": "loud"},
            "LOG_LEVEL: Input should be 'critical', 'error', 'warning', 'info' or 'debug' "
            "(got 'loud')",
        ),
        (
            {"DATABASE_POOL_TIMEOUT_SECONDS": "0"},
            "DATABASE_POOL_TIMEOUT_SECONDS: Input should be greater than 0 (got '0')",
        ),
        (
            {"MAX_BODY_BYTES": "1023"},
            "MAX_BODY_BYTES: Input should be greater than or equal to 1024 (got '1023')",
        ),
    ],
)
def test_an_invalid_value_names_the_setting_and_the_rule(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value) == f"Invalid settings:\n  {message}"


def test_every_invalid_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "70000")
    monkeypatch.setenv("LOG_LEVEL", "loud")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value).splitlines() == [
        "Invalid settings:",
        "  PORT: Input should be less than or equal to 65535 (got '70000')",
        "  LOG_LEVEL: Input should be 'critical', 'error', 'warning', 'info' or 'debug' "
        "(got 'loud')",
    ]


def test_the_database_url_never_shows_in_repr_or_str() -> None:
    settings = Settings(_env_file=None, database_url=CANARY_URL)  # type: ignore[call-arg, arg-type]

    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == CANARY_URL
    assert CANARY_PASSWORD not in repr(settings)
    assert CANARY_PASSWORD not in str(settings)
    assert "database_url=SecretStr('**********')" in repr(settings)


def test_a_settings_error_does_not_reveal_the_database_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", CANARY_URL)
    monkeypatch.setenv("DATABASE_POOL_MIN_SIZE", "30")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert CANARY_PASSWORD not in str(raised.value)
    assert str(raised.value) == (
        "Invalid settings:\n"
        "  settings: DATABASE_POOL_MIN_SIZE must not exceed DATABASE_POOL_MAX_SIZE (got 30 > 20)"
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:pass@db.example:5432/config",
        "postgres://db/config",
        "host=db port=5432 dbname=config user=app",
    ],
)
def test_a_postgresql_url_or_key_value_string_is_accepted(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    database_url = load_settings().database_url

    assert database_url is not None
    assert database_url.get_secret_value() == url


@pytest.mark.parametrize(
    "url",
    ["notaurl", f"mysql://u:{CANARY_PASSWORD}@db/config", "postgresql://[db/config", "host"],
)
def test_anything_else_is_refused_without_showing_the_value(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value) == (
        "Invalid settings:\n"
        "  DATABASE_URL: must be a postgresql:// or postgres:// URL, e.g. "
        "postgresql://user:password@localhost:5432/config, or libpq key=value pairs, e.g. "
        "host=localhost dbname=config (the value is not shown: it may hold a password)"
    )
