"""Credentials: a key, a token file read again when it changes, or a callable; settings from
the environment; the token never in a repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from config_service_client.credentials import (
    MAX_TOKEN_FILE_BYTES,
    CredentialsError,
    StaticToken,
    TokenFile,
    header_source,
)
from config_service_client.settings import ClientSettings


def test_a_token_file_is_read_again_when_it_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first-token\n")
    source = TokenFile(path)
    assert source() == "Bearer first-token"
    # A rotation as Kubernetes does it: a new file renamed over the old one.
    replacement = tmp_path / "token.new"
    replacement.write_text("second-token-longer")
    replacement.replace(path)
    assert source() == "Bearer second-token-longer"
    assert "token-longer" not in repr(source)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "must hold one token on one line"),
        (b"a\nb", "must hold one token on one line"),
        (b"x" * (MAX_TOKEN_FILE_BYTES + 1), f"is larger than {MAX_TOKEN_FILE_BYTES} bytes"),
    ],
)
def test_a_token_file_that_holds_no_token_is_refused(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "token"
    path.write_bytes(content)
    with pytest.raises(CredentialsError, match=message):
        TokenFile(path)()


def test_a_missing_token_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match=f"cannot read the token file {tmp_path}/nothing"):
        TokenFile(tmp_path / "nothing")()


def test_a_static_token_hides_in_its_repr_and_must_not_be_empty() -> None:
    assert StaticToken(" cs_abc ")() == "Bearer cs_abc"
    assert "cs_abc" not in repr(StaticToken("cs_abc"))
    with pytest.raises(CredentialsError, match="the token is empty"):
        StaticToken("  ")


def test_arguments_win_over_the_environment_and_a_callable_is_called_each_time(
    tmp_path: Path,
) -> None:
    calls: list[int] = []

    def header() -> str:
        calls.append(1)
        return f"Bearer call-{len(calls)}"

    environment = {"CONFIG_SERVICE_TOKEN": "from-environment"}
    source = header_source(header, None, environment)
    assert source is not None
    assert (source(), source()) == ("Bearer call-1", "Bearer call-2")
    from_environment = header_source(None, None, environment)
    assert from_environment is not None
    assert from_environment() == "Bearer from-environment"
    path = tmp_path / "token"
    path.write_text("in-file")
    from_file = header_source(None, None, {"CONFIG_SERVICE_TOKEN_FILE": str(path)})
    assert from_file is not None
    assert from_file() == "Bearer in-file"
    assert header_source(None, None, {}) is None


def test_two_sources_at_once_are_refused() -> None:
    with pytest.raises(ValueError, match="pass token or token_file, not both"):
        header_source("a", "b", {})
    with pytest.raises(ValueError, match="are both set: set only one"):
        header_source(None, None, {"CONFIG_SERVICE_TOKEN": "a", "CONFIG_SERVICE_TOKEN_FILE": "b"})


def test_settings_come_from_the_environment_and_are_checked() -> None:
    settings = ClientSettings.resolve(
        None,
        token=None,
        token_file=None,
        cache_dir=None,
        timeout=3,
        environment={"CONFIG_SERVICE_URL": "http://config:8000/", "CONFIG_SERVICE_TOKEN": "k"},
    )
    assert (settings.base_url, settings.timeout) == ("http://config:8000", 3.0)
    assert settings.credentials is not None
    assert settings.credentials() == "Bearer k"
    for url, message in [
        ("", "no service URL: pass base_url or set CONFIG_SERVICE_URL"),
        ("localhost:8000", "must be http:// or https:// with a host"),
        ("http://x/?a=1", "must have no query or fragment"),
    ]:
        with pytest.raises(ValueError, match=message):
            ClientSettings.resolve(
                url, token=None, token_file=None, cache_dir=None, timeout=1, environment={}
            )
    with pytest.raises(ValueError, match=r"timeout must be a positive number of seconds \(got 0\)"):
        ClientSettings.resolve(
            "http://x", token=None, token_file=None, cache_dir=None, timeout=0, environment={}
        )
