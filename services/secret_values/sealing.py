"""Sealing a configuration's secret locations (each value encrypted where it stands, see
cipher.py), opening them again, and sealing them again under a new key (rotation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.json_document import same_document
from services.secret_values.cipher import SecretCipher
from services.secret_values.locations import MISSING, SecretLocations, value_at


@dataclass(frozen=True)
class SealedConfig:
    """A config as stored: each of its secret locations holds an envelope (see cipher.py)."""

    config: Any
    locations: SecretLocations


def open_config(sealed: SealedConfig, *, cipher: SecretCipher, configuration_id: str) -> Any:
    """The plain config (SecretKeyUnavailable or SecretUndecryptable when a value does not
    open)."""
    if not sealed.locations:
        return sealed.config
    return sealed.locations.replaced(
        sealed.config,
        lambda pointer, envelope: cipher.open(
            envelope, configuration_id=configuration_id, location=pointer
        ),
    )


def seal_config(
    plain: Any,
    locations: SecretLocations,
    *,
    cipher: SecretCipher,
    configuration_id: str,
    previous: SealedConfig | None = None,
    previous_plain: object | None = None,
) -> SealedConfig:
    """`plain` with each secret location sealed. A value equal to the one `previous` (whose
    plain form is `previous_plain`) held sealed at the same location keeps its envelope when
    that is under the current key: an unchanged secret stays byte for byte the same, and a
    write made after a new key was put first re-encrypts what it keeps."""
    if not locations:
        return SealedConfig(plain, locations)
    envelopes: dict[str, Any] = {}
    if previous is not None and previous_plain is not None:
        envelopes = dict(previous.locations.values(previous.config))

    def seal_one(pointer: str, value: Any) -> Any:
        envelope = envelopes.get(pointer, MISSING)
        if envelope is not MISSING and cipher.is_current(envelope):
            before = value_at(previous_plain, pointer)
            if before is not MISSING and same_document(before, value):
                return envelope
        return cipher.seal(value, configuration_id=configuration_id, location=pointer)

    return SealedConfig(locations.replaced(plain, seal_one), locations)


def reseal_config(
    sealed: SealedConfig, *, cipher: SecretCipher, configuration_id: str
) -> tuple[Any, int]:
    """`sealed`'s config with every envelope not under the current key opened and sealed again
    under it, and how many were; the config itself when none was."""
    count = 0

    def reseal_one(pointer: str, envelope: Any) -> Any:
        nonlocal count
        if cipher.is_current(envelope):
            return envelope
        count += 1
        value = cipher.open(envelope, configuration_id=configuration_id, location=pointer)
        return cipher.seal(value, configuration_id=configuration_id, location=pointer)

    if not sealed.locations:
        return sealed.config, 0
    config = sealed.locations.replaced(sealed.config, reseal_one)
    return (config, count) if count else (sealed.config, 0)
