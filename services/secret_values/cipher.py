"""Encrypting one secret value: AES-256-GCM from `cryptography`, never anything by hand.

A sealed value is one JSON string, the envelope `cs-secret:v1:<key id>:<base64url>`, where the
base64url text holds a fresh 96-bit random nonce followed by the ciphertext and its 128-bit tag.
The plain text is the value's compact JSON, so a secret may be any JSON value. The associated
data binds it to its place: the configuration's id and the JSON Pointer of its location, so
an envelope copied to another configuration or another location does not decrypt there.

Random 96-bit nonces keep GCM safe for about 2**32 encryptions under one key (NIST SP 800-38D);
rotate to a new key (`rotate-secrets`) long before a key has sealed that many values.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.secret_values.errors import (
    SecretKeyUnavailable,
    SecretsKeysNotSet,
    SecretUndecryptable,
)

ENVELOPE_PREFIX = "cs-secret:v1:"
NONCE_BYTES = 12
TAG_BYTES = 16
_ENVELOPE = re.compile(r"cs-secret:v1:([A-Za-z0-9_-]{1,32}):([A-Za-z0-9_-]+)")


def associated_data(configuration_id: str, location: str) -> bytes:
    """What a ciphertext is bound to, spelled unambiguously (a JSON array)."""
    return json.dumps(["config-service secret v1", configuration_id, location]).encode()


def envelope_key_id(envelope: object) -> str | None:
    """The key id an envelope names; None when `envelope` is not one."""
    if not isinstance(envelope, str):
        return None
    match = _ENVELOPE.fullmatch(envelope)
    return None if match is None else match.group(1)


def _plain_text(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _sealed_bytes(text: str) -> bytes | None:
    """Nonce, ciphertext and tag from an envelope's base64url text; None unless it is long
    enough and spelled exactly as `seal` spells it."""
    if len(text) % 4 == 1:  # no base64 text is one character past a multiple of four
        return None
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    if len(raw) < NONCE_BYTES + TAG_BYTES or canonical != text:
        return None
    return raw


def _decrypted(aead: AESGCM, raw: bytes | None, associated: bytes) -> bytes | None:
    if raw is None:
        return None
    try:
        return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
    except InvalidTag:
        return None


class Key(Protocol):
    """A key of the keyring (config/secrets_keys.py makes them from SECRETS_KEYS)."""

    @property
    def id(self) -> str: ...

    @property
    def material(self) -> bytes: ...


class SecretCipher:
    """Seals and opens secret values with the keys of SECRETS_KEYS (possibly none): the first
    key seals, every key opens what names it."""

    def __init__(self, keys: Iterable[Key]) -> None:
        listed = list(keys)
        self._aeads = {key.id: AESGCM(key.material) for key in listed}
        self.current_key_id = listed[0].id if listed else None

    @property
    def can_seal(self) -> bool:
        return self.current_key_id is not None

    def seal(self, value: object, *, configuration_id: str, location: str) -> str:
        """`value` (any JSON value) encrypted under the current key, as an envelope."""
        if self.current_key_id is None:
            raise SecretsKeysNotSet()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[self.current_key_id].encrypt(
            nonce, _plain_text(value), associated_data(configuration_id, location)
        )
        text = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
        return f"{ENVELOPE_PREFIX}{self.current_key_id}:{text}"

    def open(self, envelope: object, *, configuration_id: str, location: str) -> Any:
        """The value an envelope holds, if it was sealed for this configuration and location."""
        match = _ENVELOPE.fullmatch(envelope) if isinstance(envelope, str) else None
        if match is None:
            raise SecretUndecryptable(
                key_id=None, configuration_id=configuration_id, location=location
            )
        key_id, text = match.groups()
        aead = self._aeads.get(key_id)
        if aead is None:
            raise SecretKeyUnavailable(key_id=key_id, configuration_id=configuration_id)
        plain = _decrypted(aead, _sealed_bytes(text), associated_data(configuration_id, location))
        if plain is None:
            raise SecretUndecryptable(
                key_id=key_id, configuration_id=configuration_id, location=location
            )
        return json.loads(plain)

    def is_current(self, envelope: object) -> bool:
        """Whether `envelope` is sealed under the key that encrypts (rotation leaves it)."""
        key_id = envelope_key_id(envelope)
        return key_id is not None and key_id == self.current_key_id
