"""The verification matrix: every token a real issuer can sign (and forge), and its answer."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from identity.issuer_keys import IssuerDirectory
from identity.rejections import TokenRejected, TokenRejection
from identity.token_verifier import MAX_TOKEN_BYTES, TokenVerifier, VerifiedToken
from identity.trusted_issuers import TrustedIssuer
from testing.oidc_issuer import OidcIssuer, run_oidc_issuer

AUDIENCE = "config-service"
SECRET = "a-shared-secret-for-tests-only-0123456789-abcdefghijklmnopqrstuv"  # 64 bytes
LEEWAY = 30
MAX_LIFETIME = 3600


@dataclass(frozen=True)
class Issuers:
    main: OidcIssuer  # trusted, keys by discovery
    other: OidcIssuer  # trusted too, a separate key set
    strict: TrustedIssuer  # ES256 only, keys from `main`'s JWKS
    shared: TrustedIssuer  # hmac_secret and the default algorithms


@pytest.fixture(scope="module")
def issuers() -> Iterator[Issuers]:
    with run_oidc_issuer() as main, run_oidc_issuer(families=("RSA",)) as other:
        yield Issuers(
            main=main,
            other=other,
            strict=TrustedIssuer(
                issuer="http://localhost:1/strict",
                audiences=[AUDIENCE],
                algorithms=["ES256"],
                jwks_uri=main.url + "/jwks",
            ),
            shared=TrustedIssuer(
                issuer="http://localhost:1/shared",
                audiences=[AUDIENCE, "second-audience"],
                hmac_secret=SECRET,  # type: ignore[arg-type]
                jwks_uri=main.url + "/jwks",
            ),
        )


def trusted(issuers: Issuers) -> list[TrustedIssuer]:
    return [
        TrustedIssuer(issuer=issuers.main.url, audiences=[AUDIENCE, "other-audience"]),
        TrustedIssuer(issuer=issuers.other.url, audiences=[AUDIENCE]),
        issuers.strict,
        issuers.shared,
    ]


def verify(issuers: Issuers, token: str) -> VerifiedToken:
    async def scenario() -> VerifiedToken:
        directory = IssuerDirectory(trusted(issuers))
        verifier = TokenVerifier(
            directory, leeway_seconds=LEEWAY, max_lifetime_seconds=MAX_LIFETIME
        )
        try:
            return await verifier.verify(token)
        finally:
            await directory.stop()

    return asyncio.run(scenario())


def rejection(issuers: Issuers, token: str) -> TokenRejected:
    with pytest.raises(TokenRejected) as raised:
        verify(issuers, token)
    # Whatever the reason, the answer never quotes the token or its signature.
    assert token not in raised.value.message
    signature = token.rsplit(".", 1)[-1]
    assert not signature or signature[:16] not in raised.value.message
    return raised.value


def b64(value: Any) -> str:
    text = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "algorithm",
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"],
)
def test_a_good_token_proves_its_subject(issuers: Issuers, algorithm: str) -> None:
    claims = issuers.main.claims(subject="deployer", groups=["ops"])

    verified = verify(issuers, issuers.main.token(claims, algorithm=algorithm))

    assert verified == VerifiedToken(
        issuer=issuers.main.url,
        subject="deployer",
        claims=claims,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_a_token_signed_with_the_issuers_shared_secret_is_good(
    issuers: Issuers, algorithm: str
) -> None:
    claims = issuers.main.claims(iss=issuers.shared.issuer, audience="second-audience")

    token = issuers.main.hmac_token(SECRET.encode(), claims, algorithm=algorithm)

    assert verify(issuers, token).issuer == issuers.shared.issuer


def test_an_audience_list_needs_to_hold_one_accepted_audience(issuers: Issuers) -> None:
    claims = issuers.main.claims(audience=["someone-else", "other-audience"])

    assert verify(issuers, issuers.main.token(claims)).subject == "alice"


def test_a_token_without_a_kid_is_verified_with_the_only_key_that_fits(issuers: Issuers) -> None:
    token = issuers.main.token(algorithm="ES384", headers={"kid": None})

    assert verify(issuers, token).subject == "alice"


def test_a_token_expired_within_the_leeway_is_still_good(issuers: Issuers) -> None:
    now = int(time.time())
    claims = issuers.main.claims(iat=now - 300, exp=now - LEEWAY + 10, nbf=now + LEEWAY - 10)

    assert verify(issuers, issuers.main.token(claims)).subject == "alice"


def test_a_token_without_iat_or_nbf_has_its_lifetime_counted_from_now(issuers: Issuers) -> None:
    claims = issuers.main.claims(exp=int(time.time()) + MAX_LIFETIME - 60)

    token = issuers.main.token(claims, without=("iat",))

    assert verify(issuers, token).subject == "alice"


def now() -> int:
    return int(time.time())


def forged_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}"


def tampered_claims(issuer: OidcIssuer, token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64(issuer.claims(subject='admin'))}.{signature}"


CASES: dict[str, tuple[Any, TokenRejection, str]] = {
    # (how to make the token from the issuers, the reason, the message)
    "too large": (
        lambda i: i.main.token(i.main.claims(padding="x" * MAX_TOKEN_BYTES)),
        TokenRejection.TOO_LARGE,
        f"a token may have at most {MAX_TOKEN_BYTES} characters (got ",
    ),
    "an API key": (
        lambda i: "cs_k7d2m4qx_3J9vXq0w8C1kT5m2Lr7Yb4Nd6Hs0Fa9Q",
        TokenRejection.MALFORMED,
        "not a JWT: three base64url parts separated by dots",
    ),
    "four parts": (
        lambda i: i.main.token() + ".x",
        TokenRejection.MALFORMED,
        "not a JWT: three base64url parts separated by dots",
    ),
    "an encrypted token (JWE)": (
        lambda i: "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
        TokenRejection.MALFORMED,
        "an encrypted token (JWE: five parts) is not accepted; send a signed JWT",
    ),
    "odd characters": (
        lambda i: i.main.token().replace(".", ".\u00e9", 1),
        TokenRejection.MALFORMED,
        "not a JWT: three base64url parts separated by dots",
    ),
    "a header that is no JSON": (
        lambda i: f"{b64(b'{nope')}.{b64(i.main.claims())}.c2ln",
        TokenRejection.MALFORMED,
        "not a JWT: its header or claims are not a JSON object",
    ),
    "claims that are a list": (
        lambda i: f"{b64({'alg': 'RS256'})}.{b64([1])}.c2ln",
        TokenRejection.MALFORMED,
        "not a JWT: its header or claims are not a JSON object",
    ),
    "claims nested deeply": (
        lambda i: f"{b64({'alg': 'RS256'})}.{b64(b'[' * 5000)}.c2ln",
        TokenRejection.MALFORMED,
        "not a JWT: its header or claims are not a JSON object",
    ),
    "a kid that is a number": (
        lambda i: f"{b64({'alg': 'RS256', 'kid': 7})}.{b64(i.main.claims())}.c2ln",
        TokenRejection.MALFORMED,
        "not a JWT: its header or claims are not a JSON object",
    ),
    "an unknown critical header": (
        lambda i: i.main.token(headers={"crit": ["exp"], "exp": 1}),
        TokenRejection.MALFORMED,
        "not a JWT: its header or claims are not a JSON object",
    ),
    "no algorithm": (
        lambda i: f"{b64({'typ': 'JWT'})}.{b64(i.main.claims())}.c2ln",
        TokenRejection.MALFORMED,
        "the token's header names no algorithm (alg)",
    ),
    "no issuer": (
        lambda i: i.main.token(without=("iss",)),
        TokenRejection.UNKNOWN_ISSUER,
        "the token names no issuer (iss)",
    ),
    "an issuer that is a number": (
        lambda i: f"{b64({'alg': 'RS256'})}.{b64(i.main.claims(iss=7))}.c2ln",
        TokenRejection.UNKNOWN_ISSUER,
        "the token names no issuer (iss)",
    ),
    "an untrusted issuer": (
        lambda i: i.main.token(i.main.claims(iss="https://evil.example")),
        TokenRejection.UNKNOWN_ISSUER,
        "the token's issuer 'https://evil.example' is not one this service trusts "
        "(OIDC_ISSUERS; it must match exactly)",
    ),
    "an issuer with a trailing slash": (
        lambda i: i.main.token(i.main.claims(iss=i.main.url + "/")),
        TokenRejection.UNKNOWN_ISSUER,
        "is not one this service trusts (OIDC_ISSUERS; it must match exactly)",
    ),
    "a very long untrusted issuer": (
        lambda i: i.main.token(i.main.claims(iss="https://" + "e" * 500)),
        TokenRejection.UNKNOWN_ISSUER,
        "the token's issuer 'https://" + "e" * 92 + "…' is not one this service trusts",
    ),
    "alg none": (
        lambda i: i.main.unsigned_token(),
        TokenRejection.ALGORITHM_NOT_ALLOWED,
        "unsigned tokens (alg none) are never accepted",
    ),
    "alg NONE": (
        lambda i: f"{b64({'alg': 'NONE'})}.{b64(i.main.claims())}.",
        TokenRejection.ALGORITHM_NOT_ALLOWED,
        "unsigned tokens (alg none) are never accepted",
    ),
    "alg none for a secret's issuer": (
        lambda i: i.main.unsigned_token(i.main.claims(iss=i.shared.issuer)),
        TokenRejection.ALGORITHM_NOT_ALLOWED,
        "unsigned tokens (alg none) are never accepted",
    ),
    "an algorithm the issuer does not allow": (
        lambda i: i.main.token(i.main.claims(iss=i.strict.issuer), algorithm="RS256"),
        TokenRejection.ALGORITHM_NOT_ALLOWED,
        "algorithm 'RS256' is not allowed for this issuer (allowed: ES256)",
    ),
    "HMAC signed with the public key, issuer without a secret": (
        lambda i: i.main.hmac_token(i.main.key("RS256").public_pem()),
        TokenRejection.ALGORITHM_NOT_ALLOWED,
        "algorithm 'HS256' is not allowed for this issuer",
    ),
    "HMAC signed with the public key, issuer with a secret": (
        lambda i: i.main.hmac_token(
            i.main.key("RS256").public_pem(),
            i.main.claims(iss=i.shared.issuer),
            headers={"kid": i.main.key("RS256").kid},
        ),
        TokenRejection.BAD_SIGNATURE,
        "the signature does not verify",
    ),
    "HMAC signed with the public JWK as text": (
        lambda i: i.main.hmac_token(
            json.dumps(i.main.key("RS256").public_jwk()).encode(),
            i.main.claims(iss=i.shared.issuer),
        ),
        TokenRejection.BAD_SIGNATURE,
        "the signature does not verify",
    ),
    "HMAC signed with another secret": (
        lambda i: i.main.hmac_token(b"x" * 64, i.main.claims(iss=i.shared.issuer)),
        TokenRejection.BAD_SIGNATURE,
        "the signature does not verify",
    ),
    "an unknown kid": (
        lambda i: i.main.token(headers={"kid": "made-up"}),
        TokenRejection.UNKNOWN_KEY,
        "the issuer publishes no key with kid 'made-up'",
    ),
    "a made-up kid that is long": (
        lambda i: i.main.token(headers={"kid": "k" * 5000}),
        TokenRejection.UNKNOWN_KEY,
        f"the issuer publishes no key with kid '{'k' * 100}…'",
    ),
    "another issuer's key and kid": (
        lambda i: i.main.token(signing_key=i.other.key("RS256")),
        TokenRejection.UNKNOWN_KEY,
        "the issuer publishes no key with kid",
    ),
    "another issuer's key under this issuer's kid": (
        lambda i: i.main.token(
            signing_key=i.other.key("RS256"), headers={"kid": i.main.key("RS256").kid}
        ),
        TokenRejection.BAD_SIGNATURE,
        "the signature does not verify",
    ),
    "the kid of a key of another type": (
        lambda i: i.main.token(headers={"kid": i.main.key("ES256").kid}),
        TokenRejection.KEY_TYPE_MISMATCH,
        "is not an RSA key usable with RS256",
    ),
    "a forged signature": (
        lambda i: forged_signature(i.main.token()),
        TokenRejection.BAD_SIGNATURE,
        "the signature does not verify",
    ),
    "claims changed after signing": (
        lambda i: tampered_claims(i.main, i.main.token()),
        TokenRejection.BAD_SIGNATURE,
        "the signature does not verify",
    ),
    "no expiry": (
        lambda i: i.main.token(without=("exp",)),
        TokenRejection.NO_EXPIRY,
        "the token has no expiry (exp)",
    ),
    "expired": (
        lambda i: i.main.token(i.main.claims(iat=now() - 600, exp=now() - LEEWAY - 5)),
        TokenRejection.EXPIRED,
        "the token has expired (exp)",
    ),
    "not valid yet (nbf)": (
        lambda i: i.main.token(i.main.claims(nbf=now() + LEEWAY + 60)),
        TokenRejection.NOT_YET_VALID,
        "the token is not valid yet (nbf or iat)",
    ),
    "issued in the future (iat)": (
        lambda i: i.main.token(i.main.claims(iat=now() + LEEWAY + 60)),
        TokenRejection.NOT_YET_VALID,
        "the token is not valid yet (nbf or iat)",
    ),
    "an expiry that is text": (
        lambda i: i.main.token(i.main.claims(exp=str(now() + 60))),
        TokenRejection.MALFORMED,
        "the token's exp is not a number of seconds",
    ),
    "an expiry that is true": (
        lambda i: i.main.token(i.main.claims(exp=True)),
        TokenRejection.MALFORMED,
        "the token's exp is not a number of seconds",
    ),
    "an expiry beyond any calendar": (
        lambda i: i.main.token(i.main.claims(exp=10**300)),
        TokenRejection.MALFORMED,
        "the token's exp is not a number of seconds",
    ),
    "nbf that is a list": (
        lambda i: i.main.token(i.main.claims(nbf=[1])),
        TokenRejection.MALFORMED,
        "the token's nbf is not a number of seconds",
    ),
    "a jti that is a number": (
        lambda i: i.main.token(i.main.claims(jti=7)),
        TokenRejection.MALFORMED,
        "the token's claims are malformed",
    ),
    "a wrong audience": (
        lambda i: i.main.token(i.main.claims(audience="someone-else")),
        TokenRejection.WRONG_AUDIENCE,
        "the token's audience (aud) names none of the audiences this service accepts",
    ),
    "another issuer's audience": (
        lambda i: i.main.token(
            i.main.claims(iss=i.other.url, audience="other-audience"),
            signing_key=i.other.key("RS256"),
        ),
        TokenRejection.WRONG_AUDIENCE,
        "the token's audience (aud) names none of the audiences this service accepts",
    ),
    "no audience": (
        lambda i: i.main.token(without=("aud",)),
        TokenRejection.WRONG_AUDIENCE,
        "the token's audience (aud) names none of the audiences this service accepts",
    ),
    "an audience that is an object": (
        lambda i: i.main.token(i.main.claims(audience={"config-service": True})),
        TokenRejection.WRONG_AUDIENCE,
        "the token's audience (aud) names none of the audiences this service accepts",
    ),
    "no subject": (
        lambda i: i.main.token(without=("sub",)),
        TokenRejection.NO_SUBJECT,
        "the token names no subject (sub)",
    ),
    "an empty subject": (
        lambda i: i.main.token(i.main.claims(subject="")),
        TokenRejection.NO_SUBJECT,
        "the token names no subject (sub)",
    ),
    "a subject that is a number": (
        lambda i: i.main.token(i.main.claims(subject=42)),
        TokenRejection.NO_SUBJECT,
        "the token's subject (sub) is no string",
    ),
    "a subject holding U+0000": (
        lambda i: i.main.token(i.main.claims(subject="ali\u0000ce")),
        TokenRejection.MALFORMED,
        "the token's subject (sub) holds U+0000 or a lone surrogate, which no text can store",
    ),
    "a subject holding a lone surrogate": (
        lambda i: i.main.token(i.main.claims(subject="ali\ud800ce")),
        TokenRejection.MALFORMED,
        "the token's subject (sub) holds U+0000 or a lone surrogate, which no text can store",
    ),
    "too long a lifetime": (
        lambda i: i.main.token(i.main.claims(lifetime=MAX_LIFETIME + 1)),
        TokenRejection.LIFETIME_TOO_LONG,
        f"the token is valid for {MAX_LIFETIME + 1} s; at most {MAX_LIFETIME} s are accepted "
        "(OIDC_MAX_TOKEN_LIFETIME_SECONDS)",
    ),
    "too long a lifetime from nbf": (
        lambda i: i.main.token(
            i.main.claims(nbf=now() - 10, exp=now() + MAX_LIFETIME), without=("iat",)
        ),
        TokenRejection.LIFETIME_TOO_LONG,
        f"the token is valid for {MAX_LIFETIME + 10} s",
    ),
    "too long a lifetime from now": (
        lambda i: i.main.token(i.main.claims(exp=now() + MAX_LIFETIME + 120), without=("iat",)),
        TokenRejection.LIFETIME_TOO_LONG,
        "; at most 3600 s are accepted",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_token_is_refused_with_its_reason(issuers: Issuers, case: str) -> None:
    make, reason, message = CASES[case]

    refused = rejection(issuers, make(issuers))

    assert (refused.reason, message in refused.message) == (reason, True), refused.message


def test_an_oversized_token_is_refused_before_anything_is_fetched() -> None:
    with run_oidc_issuer(families=("RSA",)) as issuer:
        token = issuer.token(issuer.claims(padding="x" * MAX_TOKEN_BYTES))

        async def scenario() -> TokenRejection:
            directory = IssuerDirectory([TrustedIssuer(issuer=issuer.url, audiences=[AUDIENCE])])
            verifier = TokenVerifier(directory, leeway_seconds=0, max_lifetime_seconds=3600)
            with pytest.raises(TokenRejected) as raised:
                await verifier.verify(token)
            await directory.stop()
            return raised.value.reason

        assert asyncio.run(scenario()) is TokenRejection.TOO_LARGE
        assert sum(issuer.requests.values()) == 0


def test_a_token_from_an_issuer_that_is_down_is_unavailable_not_an_error() -> None:
    with run_oidc_issuer(families=("RSA",)) as issuer:
        issuer.go_down()
        refused = TokenRejected(TokenRejection.MALFORMED, "")

        async def scenario() -> None:
            nonlocal refused
            directory = IssuerDirectory([TrustedIssuer(issuer=issuer.url, audiences=[AUDIENCE])])
            verifier = TokenVerifier(directory, leeway_seconds=0, max_lifetime_seconds=3600)
            with pytest.raises(TokenRejected) as raised:
                await verifier.verify(issuer.token())
            refused = raised.value
            await directory.stop()

        asyncio.run(scenario())

    assert (refused.reason, refused.message) == (
        TokenRejection.KEYS_UNAVAILABLE,
        f"the keys of issuer {issuer.url!r} could not be fetched yet; retry later",
    )


def verify_with(entry: TrustedIssuer, token: str) -> TokenRejected:
    async def scenario() -> TokenRejected:
        directory = IssuerDirectory([entry])
        verifier = TokenVerifier(directory, leeway_seconds=0, max_lifetime_seconds=3600)
        with pytest.raises(TokenRejected) as raised:
            await verifier.verify(token)
        await directory.stop()
        return raised.value

    return asyncio.run(scenario())


def test_an_hmac_algorithm_without_a_secret_is_refused_even_if_settings_were_bypassed(
    issuers: Issuers,
) -> None:
    # Settings refuse this; an issuer built around them must still not verify with nothing.
    entry = TrustedIssuer.model_construct(
        issuer="http://localhost:1/bypassed", audiences=[AUDIENCE], algorithms=["HS256"]
    )
    token = issuers.main.hmac_token(b"", issuers.main.claims(iss=entry.issuer))

    refused = verify_with(entry, token)

    assert (refused.reason, refused.message) == (
        TokenRejection.ALGORITHM_NOT_ALLOWED,
        "no shared secret",
    )


def test_a_secret_too_short_for_its_algorithm_verifies_nothing(issuers: Issuers) -> None:
    entry = TrustedIssuer.model_construct(
        issuer="http://localhost:1/short",
        audiences=[AUDIENCE],
        algorithms=["HS512"],
        hmac_secret=SecretStr("s" * 32),
    )
    token = issuers.main.hmac_token(
        b"s" * 32, issuers.main.claims(iss=entry.issuer), algorithm="HS512"
    )

    refused = verify_with(entry, token)

    assert (refused.reason, refused.message) == (
        TokenRejection.BAD_SIGNATURE,
        "the issuer's key cannot verify this token",
    )
