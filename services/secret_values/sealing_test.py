"""A whole config sealed and opened, envelopes kept for unchanged values, and rotation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.secrets_keys import SecretsKey
from services.secret_values.cipher import SecretCipher, envelope_key_id
from services.secret_values.errors import SecretKeyUnavailable, SecretsKeysNotSet
from services.secret_values.locations import SecretLocations
from services.secret_values.sealing import SealedConfig, open_config, reseal_config, seal_config

OLD = SecretsKey("old", bytes(range(32)))
NEW = SecretsKey("new", bytes(range(100, 132)))
CONFIGURATION = "01JQ3V7B2D4F6H8K0M2P4R6T8V"
PLAIN: dict[str, Any] = {
    "database": {"host": "db", "password": "hunter2-canary"},
    "credentials": {"user": "app", "token": "t0ken-canary"},
    "pool_size": 20,
}
LOCATIONS = SecretLocations.of(["/database/password", "/credentials"])


def cipher(*keys: SecretsKey) -> SecretCipher:
    return SecretCipher(keys)


def seal(plain: Any, keys: SecretCipher, **previous: Any) -> SealedConfig:
    return seal_config(plain, LOCATIONS, cipher=keys, configuration_id=CONFIGURATION, **previous)


def test_sealed_holds_envelopes_at_the_locations_only() -> None:
    sealed = seal(PLAIN, cipher(OLD))

    text = json.dumps(sealed.config)
    assert "canary" not in text
    assert "app" not in text
    assert sealed.config["database"]["host"] == "db"
    assert sealed.config["pool_size"] == 20
    assert envelope_key_id(sealed.config["database"]["password"]) == "old"
    assert envelope_key_id(sealed.config["credentials"]) == "old"
    assert PLAIN["database"]["password"] == "hunter2-canary"  # the plain config is not changed


def test_sealed_opens_to_the_plain_config() -> None:
    keys = cipher(OLD)

    assert open_config(seal(PLAIN, keys), cipher=keys, configuration_id=CONFIGURATION) == PLAIN


def test_without_locations_nothing_is_sealed_and_no_key_is_needed() -> None:
    sealed = seal_config(PLAIN, SecretLocations(), cipher=cipher(), configuration_id=CONFIGURATION)

    assert sealed.config is PLAIN
    assert open_config(sealed, cipher=cipher(), configuration_id=CONFIGURATION) is PLAIN


def test_sealing_needs_a_key() -> None:
    with pytest.raises(SecretsKeysNotSet):
        seal(PLAIN, cipher())


def test_opening_needs_the_key_it_was_sealed_with() -> None:
    sealed = seal(PLAIN, cipher(OLD))

    with pytest.raises(SecretKeyUnavailable) as raised:
        open_config(sealed, cipher=cipher(NEW), configuration_id=CONFIGURATION)

    assert raised.value.key_id == "old"


def test_an_unchanged_value_keeps_its_envelope_a_changed_one_gets_a_new_one() -> None:
    keys = cipher(OLD)
    previous = seal(PLAIN, keys)
    changed = {**PLAIN, "credentials": {"user": "app", "token": "other-canary"}}

    sealed = seal(changed, keys, previous=previous, previous_plain=PLAIN)

    assert sealed.config["database"]["password"] == previous.config["database"]["password"]
    assert sealed.config["credentials"] != previous.config["credentials"]
    assert open_config(sealed, cipher=keys, configuration_id=CONFIGURATION) == changed


def test_an_envelope_under_an_old_key_is_sealed_again_when_written() -> None:
    previous = seal(PLAIN, cipher(OLD))
    rotated = cipher(NEW, OLD)

    sealed = seal(PLAIN, rotated, previous=previous, previous_plain=PLAIN)

    assert envelope_key_id(sealed.config["database"]["password"]) == "new"
    assert open_config(sealed, cipher=rotated, configuration_id=CONFIGURATION) == PLAIN


def test_a_value_equal_but_newly_secret_is_sealed() -> None:
    previous = SealedConfig(PLAIN, SecretLocations())
    keys = cipher(OLD)

    sealed = seal(PLAIN, keys, previous=previous, previous_plain=PLAIN)

    assert envelope_key_id(sealed.config["database"]["password"]) == "old"


def test_reseal_moves_every_envelope_to_the_current_key() -> None:
    sealed = seal(PLAIN, cipher(OLD))
    rotated = cipher(NEW, OLD)

    config, count = reseal_config(sealed, cipher=rotated, configuration_id=CONFIGURATION)

    assert count == 2
    assert envelope_key_id(config["database"]["password"]) == "new"
    assert envelope_key_id(config["credentials"]) == "new"
    assert (
        open_config(
            SealedConfig(config, LOCATIONS), cipher=cipher(NEW), configuration_id=CONFIGURATION
        )
        == PLAIN
    )


def test_reseal_of_what_is_current_changes_nothing() -> None:
    keys = cipher(NEW, OLD)
    sealed = seal(PLAIN, keys)

    assert reseal_config(sealed, cipher=keys, configuration_id=CONFIGURATION) == (sealed.config, 0)
    empty = SealedConfig(PLAIN, SecretLocations())
    assert reseal_config(empty, cipher=keys, configuration_id=CONFIGURATION) == (PLAIN, 0)


def test_reseal_needs_the_old_key() -> None:
    sealed = seal(PLAIN, cipher(OLD))

    with pytest.raises(SecretKeyUnavailable):
        reseal_config(sealed, cipher=cipher(NEW), configuration_id=CONFIGURATION)
