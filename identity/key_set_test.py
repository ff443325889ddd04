"""Reading a JWKS strictly, and finding the key a token's kid and algorithm need."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from identity.key_set import (
    MAX_KEYS,
    InvalidKeySet,
    KeyDoesNotFit,
    NoSuchKey,
    parse_jwks,
    parse_jwks_text,
)
from testing.oidc_issuer import OidcIssuer

ISSUER = OidcIssuer()
RSA_KEY = ISSUER.key("RS256").public_jwk()
EC_KEY = ISSUER.key("ES256").public_jwk()
EC384_KEY = ISSUER.key("ES384").public_jwk()
ED_KEY = ISSUER.key("EdDSA").public_jwk()


def weak_rsa_key() -> dict[str, Any]:
    # Weak on purpose: the service must refuse it.
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    return {**RSAAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": "weak"}


def test_every_published_public_key_is_kept() -> None:
    key_set = parse_jwks(ISSUER.jwks())

    assert key_set.key_ids == [key["kid"] for key in ISSUER.jwks()["keys"]]
    assert key_set.notes == []


@pytest.mark.parametrize(
    ("entry", "note"),
    [
        ("not an object", "key 1: is not a JSON object"),
        ({**RSA_KEY, "kid": 7}, "key 1: its kid is not a string"),
        (
            {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"},
            "key 1: is not an RSA, EC or OKP public key (kty)",
        ),
        ({**RSA_KEY, "use": "enc"}, "key 1: is not for signatures (use)"),
        (
            {**RSA_KEY, "alg": "RSA-OAEP"},
            "key 1: names an algorithm this service does not verify with (alg)",
        ),
        (
            {**RSA_KEY, "d": "AQAB"},
            "key 1: carries private key members: a published private key is not trusted",
        ),
        ({**EC_KEY, "crv": 256}, "key 1: its crv is not a string"),
        (
            {**EC_KEY, "crv": "secp256k1"},
            "key 1: no algorithm this service verifies with fits it (kty, crv, alg)",
        ),
        ({**RSA_KEY, "n": "!!"}, "key 1: PyJWT cannot read it as a key"),
        ({"kty": "RSA", "kid": "x"}, "key 1: PyJWT cannot read it as a key"),
        (weak_rsa_key(), "key 1: an RSA key of 1024 bits (at least 2048)"),
    ],
)
def test_a_key_that_cannot_be_trusted_is_skipped_with_a_note(entry: Any, note: str) -> None:
    key_set = parse_jwks({"keys": [ED_KEY, entry]})

    assert key_set.key_ids == [ED_KEY["kid"]]
    assert key_set.notes == [note]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "is not a JWKS: it must be a JSON object with a `keys` list"),
        ({"keys": "x"}, "is not a JWKS: it must be a JSON object with a `keys` list"),
        ({"keys": []}, "holds no usable signing key (the list is empty)"),
        (
            {"keys": [{"kty": "oct", "k": "eA"}] * 7},
            "holds no usable signing key ("
            + "; ".join(f"key {i}: is not an RSA, EC or OKP public key (kty)" for i in range(5))
            + ")",
        ),
        ({"keys": [ED_KEY] * (MAX_KEYS + 1)}, f"holds {MAX_KEYS + 1} keys; at most 100 are read"),
    ],
)
def test_a_document_without_a_usable_key_is_refused(document: Any, message: str) -> None:
    with pytest.raises(InvalidKeySet) as raised:
        parse_jwks(document)

    assert str(raised.value) == message


@pytest.mark.parametrize("text", [b"{", b"[" * 100_000, "\ud800"])
def test_text_that_is_no_json_is_refused(text: bytes | str) -> None:
    with pytest.raises(InvalidKeySet) as raised:
        parse_jwks_text(text)

    assert str(raised.value) == "is not JSON (a JWKS is a JSON object with a `keys` list)"


@pytest.mark.parametrize(
    ("algorithm", "entry"),
    [
        ("RS256", RSA_KEY),
        ("RS512", RSA_KEY),
        ("PS384", RSA_KEY),
        ("ES256", EC_KEY),
        ("ES384", EC384_KEY),
        ("EdDSA", ED_KEY),
    ],
)
def test_the_key_named_by_kid_is_bound_to_the_tokens_algorithm(
    algorithm: str, entry: dict[str, Any]
) -> None:
    key = parse_jwks(ISSUER.jwks()).find(kid=entry["kid"], algorithm=algorithm)

    assert (key.key_id, key.algorithm_name) == (entry["kid"], algorithm)


def test_a_found_key_is_prepared_once() -> None:
    key_set = parse_jwks(ISSUER.jwks())

    first = key_set.find(kid=RSA_KEY["kid"], algorithm="RS256")

    assert key_set.find(kid=RSA_KEY["kid"], algorithm="RS256") is first
    assert key_set.find(kid=RSA_KEY["kid"], algorithm="PS256") is not first


def test_an_unknown_kid_is_no_such_key() -> None:
    with pytest.raises(NoSuchKey) as raised:
        parse_jwks(ISSUER.jwks()).find(kid="made-up", algorithm="RS256")

    assert str(raised.value) == "the issuer publishes no key with kid 'made-up'"


@pytest.mark.parametrize(
    ("entry", "algorithm", "shape"),
    [
        (RSA_KEY, "ES256", "an EC key on P-256"),
        (EC_KEY, "RS256", "an RSA key"),
        (EC_KEY, "ES384", "an EC key on P-384"),
        (ED_KEY, "ES512", "an EC key on P-521"),
        (EC384_KEY, "EdDSA", "an OKP key on Ed25519 or Ed448"),
        ({**RSA_KEY, "alg": "RS256"}, "RS384", "an RSA key"),
    ],
)
def test_a_kid_naming_a_key_of_another_type_does_not_fit(
    entry: dict[str, Any], algorithm: str, shape: str
) -> None:
    key_set = parse_jwks({"keys": [entry]})

    with pytest.raises(KeyDoesNotFit) as raised:
        key_set.find(kid=entry["kid"], algorithm=algorithm)

    assert str(raised.value) == (
        f"the issuer's key {entry['kid']!r} is not {shape} usable with {algorithm}"
    )


def test_without_a_kid_the_only_fitting_key_is_used() -> None:
    key = parse_jwks(ISSUER.jwks()).find(kid=None, algorithm="ES256")

    assert key.key_id == EC_KEY["kid"]


def test_without_a_kid_several_fitting_keys_are_no_key() -> None:
    other = OidcIssuer(families=("P-256",)).key("ES256").public_jwk()
    key_set = parse_jwks({"keys": [EC_KEY, other]})

    with pytest.raises(NoSuchKey) as raised:
        key_set.find(kid=None, algorithm="ES256")

    assert str(raised.value) == (
        "the token names no key (kid) and the issuer publishes 2 keys for ES256"
    )
