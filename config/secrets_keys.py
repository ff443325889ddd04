"""The keyring of SECRETS_KEYS: the keys that encrypt secret values in configurations.

The setting is a comma-separated list of `<id>:<base64 of 32 bytes>`. The first key encrypts;
every listed key decrypts (so a new key goes first, and an old one stays listed until
`rotate-secrets` has re-encrypted everything under the new one). Error messages name the entry
and its id, never the key material; an id that breaks the id rule is not shown either, since
it may be key material pasted in the wrong place.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

KEY_BYTES = 32
MAX_KEYS = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


@dataclass(frozen=True)
class SecretsKey:
    id: str
    material: bytes = field(repr=False)


@dataclass(frozen=True)
class Keyring:
    """The keys in the order given; the first encrypts. Empty: no secrets can be stored."""

    keys: tuple[SecretsKey, ...] = ()

    @property
    def current(self) -> SecretsKey | None:
        return self.keys[0] if self.keys else None

    def __repr__(self) -> str:  # never the material
        return f"Keyring(ids={[key.id for key in self.keys]!r})"


def _material(encoded: str, entry: str) -> bytes:
    if not _BASE64.fullmatch(encoded):
        raise ValueError(f"{entry}: the key must be base64 (A-Z, a-z, 0-9, + and /, or - and _)")
    # Standard or URL-safe alphabet, padding optional: what `openssl rand -base64 32` and
    # Python's base64 module print both work.
    unpadded = encoded.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        material = base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{entry}: the key is not valid base64") from None
    if len(material) != KEY_BYTES:
        raise ValueError(
            f"{entry}: the key must be base64 of exactly {KEY_BYTES} random bytes "
            f"(it decodes to {len(material)} bytes)"
        )
    return material


def parse_keyring(text: str) -> Keyring:
    """The keyring `text` (the value of SECRETS_KEYS) names; ValueError naming the entry and
    the rule when it is not one. Blank: an empty keyring."""
    if not text.strip():
        return Keyring()
    entries = text.split(",")
    if len(entries) > MAX_KEYS:
        raise ValueError(f"at most {MAX_KEYS} keys may be listed (got {len(entries)})")
    keys: list[SecretsKey] = []
    seen: set[str] = set()
    for number, raw in enumerate(entries, start=1):
        entry = f"entry {number}"
        key_id, separator, encoded = raw.strip().partition(":")
        if not separator:
            raise ValueError(
                f"{entry}: each key must be written <id>:<base64 of {KEY_BYTES} bytes>, "
                "separated by commas"
            )
        if not _KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"{entry}: the key id (before the ':') must be 1 to 32 letters, digits, '-' or '_'"
            )
        entry = f"{entry} (key id {key_id!r})"
        if key_id in seen:
            raise ValueError(f"{entry}: the key id is listed twice")
        seen.add(key_id)
        keys.append(SecretsKey(id=key_id, material=_material(encoded.strip(), entry)))
    return Keyring(tuple(keys))
