"""One secret value sealed and opened: AES-256-GCM bound to its configuration and location."""

from __future__ import annotations

import base64
import json

import pytest

from config.secrets_keys import SecretsKey
from services.secret_values.cipher import (
    ENVELOPE_PREFIX,
    NONCE_BYTES,
    TAG_BYTES,
    SecretCipher,
    envelope_key_id,
)
from services.secret_values.errors import (
    SecretKeyUnavailable,
    SecretsKeysNotSet,
    SecretUndecryptable,
)

OLD = SecretsKey("old", bytes(range(32)))
NEW = SecretsKey("new", bytes(range(100, 132)))
CONFIGURATION = "01JQ3V7B2D4F6H8K0M2P4R6T8V"
OTHER_CONFIGURATION = "01JQ3V7B2D4F6H8K0M2P4R6T8W"
PASSWORD = "hunter2-canary"


def cipher(*keys: SecretsKey) -> SecretCipher:
    return SecretCipher(keys)


def sealed_bytes(envelope: str) -> bytes:
    text = envelope.rsplit(":", 1)[1]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize(
    "value",
    [
        PASSWORD,
        {"user": "app", "password": PASSWORD},
        [1, 2.5, None, True],
        12345678901234567890,
        "",
    ],
)
def test_a_value_opens_to_itself(value: object) -> None:
    keys = cipher(NEW, OLD)
    envelope = keys.seal(value, configuration_id=CONFIGURATION, location="/db/password")

    assert keys.open(envelope, configuration_id=CONFIGURATION, location="/db/password") == value


def test_the_envelope_names_its_key_and_hides_the_value() -> None:
    envelope = cipher(NEW, OLD).seal(PASSWORD, configuration_id=CONFIGURATION, location="/p")

    assert envelope.startswith(ENVELOPE_PREFIX + "new:")
    assert envelope_key_id(envelope) == "new"
    assert PASSWORD not in envelope
    assert base64.b64encode(PASSWORD.encode()).decode()[:12] not in envelope
    # nonce + the value's JSON + tag: nothing else
    assert len(sealed_bytes(envelope)) == NONCE_BYTES + len(json.dumps(PASSWORD)) + TAG_BYTES


def test_each_seal_has_a_fresh_nonce() -> None:
    keys = cipher(NEW)
    envelopes = {
        keys.seal(PASSWORD, configuration_id=CONFIGURATION, location="/p") for _ in range(50)
    }

    assert len(envelopes) == 50
    assert len({sealed_bytes(envelope)[:NONCE_BYTES] for envelope in envelopes}) == 50


def test_an_old_key_still_opens_what_it_sealed() -> None:
    envelope = cipher(OLD).seal(PASSWORD, configuration_id=CONFIGURATION, location="/p")

    rotated = cipher(NEW, OLD)

    assert rotated.open(envelope, configuration_id=CONFIGURATION, location="/p") == PASSWORD
    assert rotated.is_current(envelope) is False
    assert rotated.is_current(rotated.seal(1, configuration_id=CONFIGURATION, location="/p"))


@pytest.mark.parametrize(
    ("configuration_id", "location"),
    [(OTHER_CONFIGURATION, "/db/password"), (CONFIGURATION, "/db/user"), (CONFIGURATION, "")],
)
def test_a_value_does_not_open_elsewhere(configuration_id: str, location: str) -> None:
    keys = cipher(NEW)
    envelope = keys.seal(PASSWORD, configuration_id=CONFIGURATION, location="/db/password")

    with pytest.raises(SecretUndecryptable) as raised:
        keys.open(envelope, configuration_id=configuration_id, location=location)

    assert raised.value.key_id == "new"
    assert raised.value.location == location
    assert PASSWORD not in str(raised.value)
    assert "SECRETS_KEYS" in str(raised.value)


def test_a_removed_key_is_named() -> None:
    envelope = cipher(OLD).seal(PASSWORD, configuration_id=CONFIGURATION, location="/p")

    with pytest.raises(SecretKeyUnavailable) as raised:
        cipher(NEW).open(envelope, configuration_id=CONFIGURATION, location="/p")

    assert str(raised.value) == (
        f"a secret of configuration {CONFIGURATION} is encrypted under the key 'old', which "
        "SECRETS_KEYS does not list; add that key back to SECRETS_KEYS (after the key that "
        "encrypts) to read or change it"
    )
    assert (raised.value.key_id, raised.value.configuration_id) == ("old", CONFIGURATION)


def test_with_no_keys_nothing_opens_and_nothing_is_sealed() -> None:
    envelope = cipher(OLD).seal(PASSWORD, configuration_id=CONFIGURATION, location="/p")
    empty = cipher()

    with pytest.raises(SecretKeyUnavailable):
        empty.open(envelope, configuration_id=CONFIGURATION, location="/p")
    with pytest.raises(SecretsKeysNotSet, match="set SECRETS_KEYS"):
        empty.seal(PASSWORD, configuration_id=CONFIGURATION, location="/p")
    assert (empty.can_seal, cipher(OLD).can_seal) == (False, True)


def test_other_material_under_the_same_id_does_not_open() -> None:
    envelope = cipher(OLD).seal(PASSWORD, configuration_id=CONFIGURATION, location="/p")
    impostor = SecretsKey("old", bytes(32))

    with pytest.raises(SecretUndecryptable) as raised:
        cipher(impostor).open(envelope, configuration_id=CONFIGURATION, location="/p")

    assert raised.value.key_id == "old"


def flip_character(envelope: str, index: int) -> str:
    character = envelope[index]
    return envelope[:index] + ("A" if character != "A" else "B") + envelope[index + 1 :]


@pytest.mark.parametrize(
    "envelope",
    [
        PASSWORD,
        12,
        None,
        {"not": "an envelope"},
        ENVELOPE_PREFIX + "old:",
        ENVELOPE_PREFIX + "old:AAAA",
        ENVELOPE_PREFIX + "old:A",
        "cs-secret:v2:old:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_what_is_no_envelope_does_not_open(envelope: object) -> None:
    with pytest.raises(SecretUndecryptable) as raised:
        cipher(OLD).open(envelope, configuration_id=CONFIGURATION, location="/p")

    assert raised.value.key_id in (None, "old")


def test_a_changed_ciphertext_does_not_open() -> None:
    keys = cipher(OLD)
    envelope = keys.seal(PASSWORD, configuration_id=CONFIGURATION, location="/p")

    for index in (-1, -10, len(ENVELOPE_PREFIX) + len("old:") + 20):
        with pytest.raises(SecretUndecryptable, match="was altered"):
            keys.open(
                flip_character(envelope, index), configuration_id=CONFIGURATION, location="/p"
            )


@pytest.mark.parametrize("value", [None, 3, "cs-secret:v1:", "cs-secret:v1:bad id!:AAAA"])
def test_envelope_key_id_of_what_is_none(value: object) -> None:
    assert envelope_key_id(value) is None
