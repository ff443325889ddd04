"""Making API keys and checking them.

A key reads `cs_<prefix>_<secret>`: `prefix` is 8 random characters, visible in listings so
people can tell keys apart, and it finds the key's row; `secret` is 32 random bytes from
`secrets` (256 bits). Only HMAC-SHA-256(pepper, key) is stored.

Why a fast keyed hash and not a password hash (bcrypt, scrypt, Argon2): those are slow on
purpose, so that guessing a human's low-entropy password from a stolen hash takes years. A key
of 256 random bits cannot be guessed however fast the hash is, so the slowness would buy nothing
and cost every request. The pepper (API_KEY_PEPPER, kept out of the database) means a stolen
copy of the table does not even let an attacker check a candidate key offline.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "cs_"
PREFIX_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l
PREFIX_LENGTH = 8
SECRET_BYTES = 32
KEY_PATTERN = re.compile(r"cs_([a-z2-9]{8})_([A-Za-z0-9_-]{20,200})")


@dataclass(frozen=True)
class NewKey:
    prefix: str
    key: str


def new_key() -> NewKey:
    prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return NewKey(prefix=prefix, key=f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}")


def key_hash(key: str, *, pepper: bytes) -> bytes:
    # The one-shot form: the same digest, without building an HMAC object (every request).
    return hmac.digest(pepper, key.encode(), "sha256")


def prefix_of(key: str) -> str | None:
    """The prefix of a well-formed key; None for anything else (which no stored key matches)."""
    match = KEY_PATTERN.fullmatch(key)
    return None if match is None else match.group(1)


def same_hash(presented: bytes, stored: bytes) -> bool:
    """In constant time, so the answer's timing tells nothing about the stored hash."""
    return hmac.compare_digest(presented, stored)
