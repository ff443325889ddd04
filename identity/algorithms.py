"""The signature algorithms an issuer may be trusted with, and the keys each one needs.

Only what RFC 7518 and RFC 8037 define and PyJWT implements; `none` is never among them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Asymmetric: the issuer signs with a private key and publishes the public one.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
# Symmetric: the secret that verifies also signs, so it is never fetched or published; only an
# issuer's own `hmac_secret` verifies these, and RFC 7518 (3.2) wants it at least as long as
# the hash.
HMAC_MINIMUM_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
KNOWN_ALGORITHMS = (*ASYMMETRIC_ALGORITHMS, *HMAC_MINIMUM_SECRET_BYTES)


@dataclass(frozen=True)
class KeyShape:
    """The JWK `kty` (and the curves, where it has one) an algorithm verifies with."""

    key_type: str
    curves: frozenset[str] = frozenset()

    def describe(self) -> str:
        if not self.curves:
            return f"an {self.key_type} key"
        return f"an {self.key_type} key on {' or '.join(sorted(self.curves))}"


_RSA = KeyShape("RSA")
KEY_SHAPES: dict[str, KeyShape] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), _RSA),
    "ES256": KeyShape("EC", frozenset({"P-256"})),
    "ES384": KeyShape("EC", frozenset({"P-384"})),
    "ES512": KeyShape("EC", frozenset({"P-521"})),
    "EdDSA": KeyShape("OKP", frozenset({"Ed25519", "Ed448"})),
}


def is_hmac(algorithm: str) -> bool:
    return algorithm in HMAC_MINIMUM_SECRET_BYTES
