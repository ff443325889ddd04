"""How a caller sees a stored configuration or revision: with the placeholder at each secret
location (masked: no key needed), or with the values themselves (revealed). Only a stored
config's envelopes are ever replaced; one without secrets is returned as it is."""

from __future__ import annotations

from typing import TypeVar

from models.configuration import Configuration, ConfigurationRevision
from services.secret_values.cipher import SecretCipher
from services.secret_values.locations import SecretLocations, mask
from services.secret_values.sealing import SealedConfig, open_config

Stored = TypeVar("Stored", Configuration, ConfigurationRevision)


def configuration_id_of(item: Configuration | ConfigurationRevision) -> str:
    return item.id if isinstance(item, Configuration) else item.configuration_id


def masked(item: Stored) -> Stored:
    if not item.secrets:
        return item
    return item.model_copy(update={"config": mask(item.config, SecretLocations.of(item.secrets))})


def revealed(item: Stored, cipher: SecretCipher) -> Stored:
    """Raises SecretKeyUnavailable or SecretUndecryptable when a value does not open."""
    if not item.secrets:
        return item
    sealed = SealedConfig(item.config, SecretLocations.of(item.secrets))
    plain = open_config(sealed, cipher=cipher, configuration_id=configuration_id_of(item))
    return item.model_copy(update={"config": plain})


def view(item: Stored, *, reveal: bool, cipher: SecretCipher) -> Stored:
    return revealed(item, cipher) if reveal else masked(item)
