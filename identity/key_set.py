"""An issuer's published keys (a JWKS, RFC 7517), read strictly, and the key a token needs.

Only public signing keys are kept: a key for encryption (`use: enc`), a symmetric (`oct`) key, a
key that carries private members, an RSA key under 2,048 bits, or one PyJWT cannot read is
skipped with a note (a JWKS that publishes a private key lets anyone sign, so that key is not
trusted). Key material is parsed by PyJWT (`PyJWK`), never here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt import PyJWK

from identity.algorithms import ASYMMETRIC_ALGORITHMS, KEY_SHAPES
from identity.rejections import shortened

MAX_KEYS = 100
MINIMUM_RSA_BITS = 2048
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_SHOWN_NOTES = 5
_KEY_TYPES = ("RSA", "EC", "OKP")


class InvalidKeySet(ValueError):
    """The document is no JWKS, or holds no key this service can verify with."""


class NoSuchKey(LookupError):
    """No published key has the token's `kid` (or, without one, no single key fits)."""


class KeyDoesNotFit(LookupError):
    """The token's `kid` names a key of another type than its algorithm needs."""


@dataclass(frozen=True)
class PublishedKey:
    kid: str | None
    key_type: str
    curve: str | None
    algorithm: str | None  # the JWK's own `alg`: when present, the only one it verifies
    jwk: Mapping[str, Any]

    def fits(self, algorithm: str) -> bool:
        shape = KEY_SHAPES.get(algorithm)
        if shape is None or self.key_type != shape.key_type:
            return False
        if shape.curves and self.curve not in shape.curves:
            return False
        return self.algorithm is None or self.algorithm == algorithm


@dataclass
class KeySet:
    keys: Sequence[PublishedKey]
    notes: Sequence[str] = ()
    _prepared: dict[tuple[int, str], PyJWK] = field(default_factory=dict, repr=False)

    @property
    def key_ids(self) -> list[str | None]:
        return [key.kid for key in self.keys]

    def find(self, *, kid: str | None, algorithm: str) -> PyJWK:
        """The key to verify a token of `algorithm` naming `kid` with, bound to `algorithm`."""
        if kid is not None:
            named = [(index, key) for index, key in enumerate(self.keys) if key.kid == kid]
            if not named:
                raise NoSuchKey(f"the issuer publishes no key with kid {shortened(kid)!r}")
            fitting = [(index, key) for index, key in named if key.fits(algorithm)]
            if not fitting:
                shape = KEY_SHAPES[algorithm].describe()
                raise KeyDoesNotFit(
                    f"the issuer's key {kid!r} is not {shape} usable with {algorithm}"
                )
        else:
            fitting = [(index, key) for index, key in enumerate(self.keys) if key.fits(algorithm)]
            if len(fitting) != 1:
                raise NoSuchKey(
                    f"the token names no key (kid) and the issuer publishes {len(fitting)} "
                    f"keys for {algorithm}"
                )
        index, key = fitting[0]
        prepared = self._prepared.get((index, algorithm))
        if prepared is None:
            prepared = PyJWK(dict(key.jwk), algorithm=algorithm)
            self._prepared[(index, algorithm)] = prepared
        return prepared


def parse_jwks_text(text: bytes | str) -> KeySet:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidKeySet("is not JSON (a JWKS is a JSON object with a `keys` list)") from None
    return parse_jwks(document)


def parse_jwks(document: object) -> KeySet:
    """The usable keys of a JWKS document; InvalidKeySet when there is none."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise InvalidKeySet("is not a JWKS: it must be a JSON object with a `keys` list")
    entries: list[Any] = document["keys"]
    if len(entries) > MAX_KEYS:
        raise InvalidKeySet(f"holds {len(entries)} keys; at most {MAX_KEYS} are read")
    keys: list[PublishedKey] = []
    notes: list[str] = []
    for position, entry in enumerate(entries):
        key, note = _read_key(entry)
        if key is not None:
            keys.append(key)
        else:
            notes.append(f"key {position}: {note}")
    if not keys:
        shown = "; ".join(notes[:_SHOWN_NOTES]) or "the list is empty"
        raise InvalidKeySet(f"holds no usable signing key ({shown})")
    return KeySet(keys=keys, notes=notes)


def _read_key(entry: object) -> tuple[PublishedKey | None, str]:
    """The key, or None and why it is skipped (never quoting key material)."""
    if not isinstance(entry, dict):
        return None, "is not a JSON object"
    problem = _shape_problem(entry)
    if problem:
        return None, problem
    key = PublishedKey(
        kid=entry.get("kid"),
        key_type=entry["kty"],
        curve=entry.get("crv"),
        algorithm=entry.get("alg"),
        jwk=entry,
    )
    usable_with = next((name for name in ASYMMETRIC_ALGORITHMS if key.fits(name)), None)
    if usable_with is None:
        return None, "no algorithm this service verifies with fits it (kty, crv, alg)"
    try:
        parsed = PyJWK(dict(entry), algorithm=usable_with)
    except Exception:  # a third party's document: whatever PyJWT makes of it, skip the key
        return None, "PyJWT cannot read it as a key"
    if isinstance(parsed.key, RSAPublicKey) and parsed.key.key_size < MINIMUM_RSA_BITS:
        return None, f"an RSA key of {parsed.key.key_size} bits (at least {MINIMUM_RSA_BITS})"
    return key, ""


def _shape_problem(entry: dict[str, Any]) -> str:
    """Why a JWK's members rule it out before its key material is read ("" if nothing)."""
    checks = [
        (entry.get("kid") is None or isinstance(entry["kid"], str), "its kid is not a string"),
        (entry.get("kty") in _KEY_TYPES, "is not an RSA, EC or OKP public key (kty)"),
        (entry.get("use", "sig") == "sig", "is not for signatures (use)"),
        (
            entry.get("alg") is None or entry["alg"] in ASYMMETRIC_ALGORITHMS,
            "names an algorithm this service does not verify with (alg)",
        ),
        (
            not _PRIVATE_MEMBERS & entry.keys(),
            "carries private key members: a published private key is not trusted",
        ),
        (entry.get("crv") is None or isinstance(entry["crv"], str), "its crv is not a string"),
    ]
    return next((message for passed, message in checks if not passed), "")
