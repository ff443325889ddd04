"""OIDC_ISSUERS and the other OIDC settings: what loads, and the line that stops start-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings, SettingsError, load_settings
from identity.algorithms import ASYMMETRIC_ALGORITHMS
from testing.oidc_issuer import OidcIssuer

CANARY_SECRET = "canary-hmac-secret-0123456789-abcdefghij"  # 40 bytes
ISSUER = "https://id.example.com"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load_issuers(monkeypatch: pytest.MonkeyPatch, issuers: Any) -> Settings:
    text = issuers if isinstance(issuers, str) else json.dumps(issuers)
    monkeypatch.setenv("OIDC_ISSUERS", text)
    return load_settings()


def refusal(monkeypatch: pytest.MonkeyPatch, issuers: Any) -> str:
    with pytest.raises(SettingsError) as raised:
        load_issuers(monkeypatch, issuers)
    return str(raised.value)


def test_the_defaults_trust_no_issuer() -> None:
    settings = load_settings()

    assert (
        settings.oidc_issuers,
        settings.oidc_leeway_seconds,
        settings.oidc_max_token_lifetime_seconds,
    ) == ([], 30, 86_400)


@pytest.mark.parametrize("text", ["", "  ", "[]"])
def test_an_empty_value_trusts_no_issuer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    assert load_issuers(monkeypatch, text).oidc_issuers == []


def test_an_issuer_with_the_required_members_gets_the_asymmetric_algorithms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [issuer] = load_issuers(
        monkeypatch, [{"issuer": ISSUER, "audiences": ["config-service"]}]
    ).oidc_issuers

    assert (issuer.issuer, issuer.audiences, issuer.jwks_uri, issuer.jwks_file) == (
        ISSUER,
        ["config-service"],
        None,
        None,
    )
    assert issuer.allowed_algorithms == frozenset(ASYMMETRIC_ALGORITHMS)
    assert issuer.needs_published_keys is True
    assert issuer.hmac_key is None


@pytest.mark.parametrize(
    ("secret_bytes", "hmac_algorithms"),
    [(32, {"HS256"}), (48, {"HS256", "HS384"}), (64, {"HS256", "HS384", "HS512"})],
)
def test_an_hmac_secret_adds_the_hmac_algorithms_it_is_long_enough_for(
    monkeypatch: pytest.MonkeyPatch, secret_bytes: int, hmac_algorithms: set[str]
) -> None:
    secret = "s" * secret_bytes
    [issuer] = load_issuers(
        monkeypatch, [{"issuer": ISSUER, "audiences": ["a"], "hmac_secret": secret}]
    ).oidc_issuers

    assert issuer.allowed_algorithms == frozenset(ASYMMETRIC_ALGORITHMS) | hmac_algorithms
    assert issuer.hmac_key == secret.encode()


def test_an_issuer_allowing_only_hmac_fetches_no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    [issuer] = load_issuers(
        monkeypatch,
        [
            {
                "issuer": "http://localhost:9000",
                "audiences": ["a"],
                "algorithms": ["HS256"],
                "hmac_secret": CANARY_SECRET,
            }
        ],
    ).oidc_issuers

    assert (issuer.allowed_algorithms, issuer.needs_published_keys) == (
        frozenset({"HS256"}),
        False,
    )


@pytest.mark.parametrize(
    "url", ["http://localhost", "http://127.0.0.1:8080/realms/x", "https://id.example.com/a/"]
)
def test_https_issuers_and_local_http_ones_are_accepted(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    [issuer] = load_issuers(monkeypatch, [{"issuer": url, "audiences": ["a"]}]).oidc_issuers

    assert issuer.issuer == url


def test_a_jwks_file_is_read_when_the_settings_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(OidcIssuer(families=("P-256",)).jwks()), encoding="utf-8")

    [issuer] = load_issuers(
        monkeypatch, [{"issuer": ISSUER, "audiences": ["a"], "jwks_file": str(path)}]
    ).oidc_issuers

    assert issuer.jwks_file == path


LINE = "Invalid settings:\n  "


@pytest.mark.parametrize(
    ("issuers", "message"),
    [
        (
            "[{",
            'OIDC_ISSUERS: must be a JSON list of issuer objects, e.g. [{"issuer": '
            '"https://id.example.com", "audiences": ["config-service"]}] (Expecting '
            "property name enclosed in double quotes: line 1 column 3 (char 2))",
        ),
        ({"issuer": ISSUER}, "OIDC_ISSUERS: Input should be a valid list"),
        ([{"audiences": ["a"]}], "OIDC_ISSUERS[0].issuer: Field required"),
        (
            [{"issuer": ISSUER}],
            "OIDC_ISSUERS[0].audiences: Field required",
        ),
        (
            [{"issuer": ISSUER, "audiences": []}],
            "OIDC_ISSUERS[0].audiences: List should have at least 1 item after validation, not 0",
        ),
        (
            [{"issuer": ISSUER, "audiences": [""]}],
            "OIDC_ISSUERS[0].audiences[0]: String should have at least 1 character (got '')",
        ),
        (
            [{"issuer": "http://id.example.com", "audiences": ["a"]}],
            "OIDC_ISSUERS[0].issuer: issuer must be an https:// URL (http:// only for localhost "
            "or 127.0.0.1) (got 'http://id.example.com')",
        ),
        (
            [{"issuer": "id.example.com", "audiences": ["a"]}],
            "OIDC_ISSUERS[0].issuer: issuer must be an https:// URL (http:// only for localhost "
            "or 127.0.0.1) (got 'id.example.com')",
        ),
        (
            [{"issuer": "https://id.example.com:99999", "audiences": ["a"]}],
            "OIDC_ISSUERS[0].issuer: issuer must be an https:// URL (http:// only for localhost "
            "or 127.0.0.1) (got 'https://id.example.com:99999')",
        ),
        (
            [{"issuer": "https://id.example.com?x=1", "audiences": ["a"]}],
            "OIDC_ISSUERS[0].issuer: issuer must have no query or fragment "
            "(got 'https://id.example.com?x=1')",
        ),
        (
            [{"issuer": " https://id.example.com", "audiences": ["a"]}],
            "OIDC_ISSUERS[0].issuer: issuer must not hold white space or control characters "
            "(got ' https://id.example.com')",
        ),
        (
            [{"issuer": "https://u:p@id.example.com", "audiences": ["a"]}],
            "OIDC_ISSUERS[0].issuer: issuer must not hold a user name or password "
            "(got 'https://u:p@id.example.com')",
        ),
        (
            [{"issuer": ISSUER, "audiences": ["a"], "jwks_uri": "http://keys.example.com/"}],
            "OIDC_ISSUERS[0].jwks_uri: jwks_uri must be an https:// URL (http:// only for "
            "localhost or 127.0.0.1) (got 'http://keys.example.com/')",
        ),
        (
            [{"issuer": ISSUER, "audiences": ["a"], "jwks_uri": "https://keys.example.com/#k"}],
            "OIDC_ISSUERS[0].jwks_uri: jwks_uri must have no fragment "
            "(got 'https://keys.example.com/#k')",
        ),
        (
            [{"issuer": ISSUER, "audiences": ["a"], "algorithms": ["RS256", "none"]}],
            "OIDC_ISSUERS[0].algorithms: algorithm 'none' is never allowed: it would accept "
            "unsigned tokens",
        ),
        (
            [{"issuer": ISSUER, "audiences": ["a"], "algorithms": ["RS257"]}],
            "OIDC_ISSUERS[0].algorithms: unknown algorithm 'RS257' (known: RS256, RS384, RS512, "
            "PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512)",
        ),
        (
            [{"issuer": ISSUER, "audiences": ["a"], "algorithms": ["RS256", "HS256"]}],
            "OIDC_ISSUERS[0]: issuer 'https://id.example.com': algorithm HS256 needs hmac_secret "
            "(HMAC algorithms are allowed only with a shared secret for that issuer)",
        ),
        (
            [
                {
                    "issuer": ISSUER,
                    "audiences": ["a"],
                    "algorithms": ["HS512"],
                    "hmac_secret": CANARY_SECRET,
                }
            ],
            "OIDC_ISSUERS[0]: issuer 'https://id.example.com': algorithm HS512 needs an "
            "hmac_secret of at least 64 bytes (got 40)",
        ),
        (
            [{"issuer": ISSUER, "audiences": ["a"], "hmac_secret": CANARY_SECRET[:31]}],
            "OIDC_ISSUERS[0]: issuer 'https://id.example.com': hmac_secret must be at least 32 "
            "bytes (got 31; the secret itself is not shown)",
        ),
        (
            [{"issuer": ISSUER, "audiences": ["a"], "hmac_secret": 12345}],
            "OIDC_ISSUERS[0].hmac_secret: Input should be a valid string",
        ),
        (
            [
                {
                    "issuer": ISSUER,
                    "audiences": ["a"],
                    "jwks_uri": "https://id.example.com/keys",
                    "jwks_file": "/etc/jwks.json",
                }
            ],
            "OIDC_ISSUERS[0]: issuer 'https://id.example.com': give jwks_uri or jwks_file, "
            "not both",
        ),
        (
            [{"issuer": ISSUER, "audiences": ["a"], "hmac": CANARY_SECRET}],
            "OIDC_ISSUERS[0].hmac: Extra inputs are not permitted",
        ),
        (
            [{"issuer": ISSUER, "audiences": ["a"]}, {"issuer": ISSUER, "audiences": ["b"]}],
            "OIDC_ISSUERS: issuer 'https://id.example.com' is listed twice",
        ),
    ],
)
def test_an_invalid_issuer_names_the_setting_and_the_rule(
    monkeypatch: pytest.MonkeyPatch, issuers: Any, message: str
) -> None:
    assert refusal(monkeypatch, issuers) == LINE + message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot be read: No such file or directory"),
        ("{not json", "is not JSON (a JWKS is a JSON object with a `keys` list)"),
        ('{"keys": {}}', "is not a JWKS: it must be a JSON object with a `keys` list"),
        ('{"keys": []}', "holds no usable signing key (the list is empty)"),
        (
            '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}',
            "holds no usable signing key (key 0: is not an RSA, EC or OKP public key (kty))",
        ),
    ],
)
def test_a_jwks_file_that_does_not_parse_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    message = refusal(monkeypatch, [{"issuer": ISSUER, "audiences": ["a"], "jwks_file": str(path)}])

    assert message == (
        f"{LINE}OIDC_ISSUERS[0]: issuer 'https://id.example.com': jwks_file '{path}' {problem}"
    )


def test_a_jwks_file_larger_than_the_cap_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(b" " * 1_048_577)

    message = refusal(monkeypatch, [{"issuer": ISSUER, "audiences": ["a"], "jwks_file": str(path)}])

    assert message.endswith(f"jwks_file '{path}' is larger than 1048576 bytes")


@pytest.mark.parametrize(
    "issuers",
    [
        f'[{{"issuer": "{ISSUER}", "audiences": ["a"], "hmac_secret": "{CANARY_SECRET}"',
        [{"issuer": ISSUER, "audiences": [], "hmac_secret": CANARY_SECRET}],
        [{"issuer": ISSUER, "audiences": ["a"], "hmac_secret": CANARY_SECRET[:20]}],
        [{"issuer": ISSUER, "audiences": ["a"], "hmac_secret": [CANARY_SECRET]}],
        [{"issuer": ISSUER, "audiences": ["a"], "hmac_secrets": CANARY_SECRET}],
        [{"issuer": "ftp://x", "audiences": ["a"], "hmac_secret": CANARY_SECRET}],
    ],
)
def test_a_settings_error_never_shows_the_hmac_secret(
    monkeypatch: pytest.MonkeyPatch, issuers: Any
) -> None:
    message = refusal(monkeypatch, issuers)

    assert message.startswith(f"{LINE}OIDC_ISSUERS")
    assert CANARY_SECRET[:20] not in message


def test_the_hmac_secret_never_shows_in_repr() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        oidc_issuers=[{"issuer": ISSUER, "audiences": ["a"], "hmac_secret": CANARY_SECRET}],  # type: ignore[list-item]
    )

    assert settings.oidc_issuers[0].hmac_key == CANARY_SECRET.encode()
    assert CANARY_SECRET not in repr(settings)
    assert CANARY_SECRET not in str(settings)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "OIDC_LEEWAY_SECONDS",
            "61",
            "OIDC_LEEWAY_SECONDS: Input should be less than or equal to 60 (got '61')",
        ),
        (
            "OIDC_LEEWAY_SECONDS",
            "-1",
            "OIDC_LEEWAY_SECONDS: Input should be greater than or equal to 0 (got '-1')",
        ),
        (
            "OIDC_MAX_TOKEN_LIFETIME_SECONDS",
            "59",
            "OIDC_MAX_TOKEN_LIFETIME_SECONDS: Input should be greater than or equal to 60 "
            "(got '59')",
        ),
    ],
)
def test_the_time_settings_have_bounds(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value) == LINE + message
