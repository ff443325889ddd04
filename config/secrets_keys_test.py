"""SECRETS_KEYS: the keyring it names, and messages that never show key material."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from config.secrets_keys import Keyring, SecretsKey, parse_keyring
from config.settings import Settings, SettingsError, load_settings

MATERIAL = bytes(range(32))
ENCODED = base64.b64encode(MATERIAL).decode()  # ends in "="
URLSAFE = base64.urlsafe_b64encode(bytes(range(200, 232))).decode().rstrip("=")
CANARY = base64.b64encode(b"canary-key-material-0123456789!!").decode()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_keys_in_order_the_first_encrypts() -> None:
    keyring = parse_keyring(f"new:{URLSAFE}, old:{ENCODED}")

    assert [key.id for key in keyring.keys] == ["new", "old"]
    assert keyring.keys[1].material == MATERIAL
    assert keyring.keys[0].material == bytes(range(200, 232))
    assert keyring.current == SecretsKey("new", bytes(range(200, 232)))


@pytest.mark.parametrize("text", ["", "   "])
def test_blank_is_an_empty_keyring(text: str) -> None:
    assert parse_keyring(text) == Keyring()
    assert parse_keyring(text).current is None


def test_the_material_is_never_in_a_repr() -> None:
    keyring = parse_keyring(f"k1:{CANARY}")

    assert repr(keyring) == "Keyring(ids=['k1'])"
    assert CANARY not in repr(keyring.keys[0])
    assert "canary" not in repr(keyring.keys[0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            CANARY,
            "entry 1: each key must be written <id>:<base64 of 32 bytes>, separated by commas",
        ),
        (
            f"{CANARY}:k1",
            "entry 1: the key id (before the ':') must be 1 to 32 letters, digits, '-' or '_'",
        ),
        (
            f"k1:{CANARY},",
            "entry 2: each key must be written <id>:<base64 of 32 bytes>, separated by commas",
        ),
        (
            f"k1:{CANARY},k1:{ENCODED}",
            "entry 2 (key id 'k1'): the key id is listed twice",
        ),
        (
            "k1:" + base64.b64encode(b"canary-short").decode(),
            "entry 1 (key id 'k1'): the key must be base64 of exactly 32 random bytes "
            "(it decodes to 12 bytes)",
        ),
        (
            "k1:canary!material",
            "entry 1 (key id 'k1'): the key must be base64 (A-Z, a-z, 0-9, + and /, or - and _)",
        ),
        ("k1:" + "c" * 45, "entry 1 (key id 'k1'): the key is not valid base64"),
        (",".join(f"k{n}:{ENCODED}" for n in range(33)), "at most 32 keys may be listed (got 33)"),
    ],
)
def test_an_invalid_keyring_is_refused_without_its_material(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        parse_keyring(text)

    assert str(raised.value) == message
    assert CANARY not in str(raised.value)
    assert "canary" not in str(raised.value)


def test_the_setting_gives_the_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_KEYS", f"k2:{ENCODED}")

    settings = load_settings()

    assert settings.secrets_keyring == Keyring((SecretsKey("k2", MATERIAL),))
    assert ENCODED not in repr(settings)


def test_unset_the_keyring_is_empty() -> None:
    assert load_settings().secrets_keyring == Keyring()


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (f"k1:{CANARY[:-8]}", "  SECRETS_KEYS: entry 1 (key id 'k1'): the key must be base64"),
        (f"k1:{CANARY},{CANARY}", "  SECRETS_KEYS: entry 2: each key must be written"),
    ],
)
def test_an_invalid_setting_stops_start_up_naming_it_never_the_material(
    monkeypatch: pytest.MonkeyPatch, value: str, line: str
) -> None:
    monkeypatch.setenv("SECRETS_KEYS", value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    assert message.splitlines()[0] == "Invalid settings:"
    assert message.splitlines()[1].startswith(line)
    assert len(message.splitlines()) == 2
    assert "canary" not in message
    assert CANARY[:-8] not in message
    assert CANARY[:20] not in message
