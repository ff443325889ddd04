"""From a bearer token to a verified identity, offline: PyJWT checks the signature and the
registered claims; this module decides which key and which rules apply, and names each failure.

The order: the token's size and shape (before any parsing), its issuer (exactly one of
OIDC_ISSUERS), its algorithm (that issuer's allow-list; `none` never), the key (an HMAC
algorithm verifies only with the issuer's own `hmac_secret`, every other one only with a key
the issuer publishes, of the type the algorithm needs, so a token signed with a public key used
as an HMAC secret fails), then signature, `iss`, `aud`, `exp` (required), `nbf` and `iat` with
the leeway, a subject, and the longest lifetime allowed.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt import PyJWK
from jwt.exceptions import InvalidSubjectError

from identity.algorithms import is_hmac
from identity.issuer_keys import IssuerDirectory
from identity.rejections import TokenRejected, TokenRejection, shortened

MAX_TOKEN_BYTES = 16 * 1024
_TOKEN_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_.=")
_DOTS = 2  # header.claims.signature
_JWE_DOTS = 4  # header.encrypted_key.iv.ciphertext.tag
_TIME_CLAIMS = ("exp", "nbf", "iat")
# Seconds since 1970 beyond which a time claim is nonsense (about the year 5138): kept so that
# arithmetic and dates on them never overflow.
_LATEST_SECONDS = 10**11
# U+0000 or a lone surrogate: what PostgreSQL's text cannot store (the subject goes into the
# audit log) and UTF-8 cannot write (it goes into the access log).
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class VerifiedToken:
    """Who a token proves its holder is: an issuer's subject, with every claim it signed."""

    issuer: str
    subject: str
    claims: Mapping[str, Any]
    expires_at: datetime


def _reject(reason: TokenRejection, message: str) -> TokenRejected:
    return TokenRejected(reason, message)


def looks_like_a_jwt(token: str) -> bool:
    """Three base64url parts separated by dots: what `verify` goes on to parse."""
    return token.count(".") == _DOTS and set(token) <= _TOKEN_CHARACTERS


def is_identity_token(token: str) -> bool:
    """Whether a bearer token is meant as an identity token, and answered as one (a 401 with a
    `reason`) even when it is no good JWT: JWTs and JWEs hold dots, API keys never do."""
    return "." in token


class TokenVerifier:
    def __init__(
        self,
        directory: IssuerDirectory,
        *,
        leeway_seconds: int,
        max_lifetime_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._leeway = leeway_seconds
        self._max_lifetime = max_lifetime_seconds
        self._clock = clock  # for the lifetime of a token that has neither iat nor nbf

    async def verify(self, token: str) -> VerifiedToken:
        """The verified identity; TokenRejected naming the reason otherwise."""
        _check_shape(token)
        header, unverified = _read_unverified(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            raise _reject(TokenRejection.MALFORMED, "the token's header names no algorithm (alg)")
        issuer_name = unverified.get("iss")
        if not isinstance(issuer_name, str):
            raise _reject(TokenRejection.UNKNOWN_ISSUER, "the token names no issuer (iss)")
        issuer = self._directory.find(issuer_name)
        if issuer is None:
            raise _reject(
                TokenRejection.UNKNOWN_ISSUER,
                f"the token's issuer {shortened(issuer_name)!r} is not one this service trusts "
                "(OIDC_ISSUERS; it must match exactly)",
            )
        _check_time_claim_types(unverified)
        if algorithm.lower() == "none":
            raise _reject(
                TokenRejection.ALGORITHM_NOT_ALLOWED,
                "unsigned tokens (alg none) are never accepted",
            )
        if algorithm not in issuer.allowed_algorithms:
            raise _reject(
                TokenRejection.ALGORITHM_NOT_ALLOWED,
                f"algorithm {shortened(algorithm)!r} is not allowed for this issuer (allowed: "
                f"{', '.join(sorted(issuer.allowed_algorithms))})",
            )
        key: PyJWK | bytes | None
        if is_hmac(algorithm):
            key = issuer.hmac_key  # the settings allow an HMAC algorithm only with a secret
            if key is None:
                raise _reject(TokenRejection.ALGORITHM_NOT_ALLOWED, "no shared secret")
        else:
            kid = header.get("kid")
            key = await self._directory.keys_of(issuer.issuer).key_for(
                kid=kid if isinstance(kid, str) else None, algorithm=algorithm
            )
        claims = self._decode(
            token, key=key, algorithm=algorithm, audiences=issuer.audiences, issuer=issuer.issuer
        )
        subject = _subject(claims)
        expires = float(claims["exp"])
        start = next(
            (float(claims[name]) for name in ("iat", "nbf") if name in claims), self._clock()
        )
        if expires - start > self._max_lifetime:
            raise _reject(
                TokenRejection.LIFETIME_TOO_LONG,
                f"the token is valid for {expires - start:.0f} s; at most "
                f"{self._max_lifetime} s are accepted (OIDC_MAX_TOKEN_LIFETIME_SECONDS)",
            )
        return VerifiedToken(
            issuer=issuer.issuer,
            subject=subject,
            claims=claims,
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    def check_not_expired(self, verified: VerifiedToken) -> None:
        """For a caller that waited (a long poll, a stream) since its token was verified."""
        if verified.expires_at.timestamp() <= self._clock() - self._leeway:
            raise _reject(TokenRejection.EXPIRED, "the token has expired (exp)")

    def _decode(
        self,
        token: str,
        *,
        key: PyJWK | bytes,
        algorithm: str,
        audiences: list[str],
        issuer: str,
    ) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=audiences,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": ["exp"], "enforce_minimum_key_length": True},
            )
        except jwt.InvalidSignatureError:
            raise _reject(TokenRejection.BAD_SIGNATURE, "the signature does not verify") from None
        except jwt.ExpiredSignatureError:
            raise _reject(TokenRejection.EXPIRED, "the token has expired (exp)") from None
        except jwt.ImmatureSignatureError:
            raise _reject(
                TokenRejection.NOT_YET_VALID, "the token is not valid yet (nbf or iat)"
            ) from None
        except jwt.InvalidAudienceError:
            raise _wrong_audience() from None
        except jwt.MissingRequiredClaimError as error:
            raise _missing(error.claim) from None
        except InvalidSubjectError:
            raise _reject(
                TokenRejection.NO_SUBJECT, "the token's subject (sub) is no string"
            ) from None
        except jwt.InvalidKeyError:
            raise _reject(
                TokenRejection.BAD_SIGNATURE, "the issuer's key cannot verify this token"
            ) from None
        except jwt.PyJWTError:
            raise _reject(TokenRejection.MALFORMED, "the token's claims are malformed") from None
        return claims


def _check_shape(token: str) -> None:
    """Size and parts, before anything is parsed."""
    if len(token) > MAX_TOKEN_BYTES:
        raise _reject(
            TokenRejection.TOO_LARGE,
            f"a token may have at most {MAX_TOKEN_BYTES} characters (got {len(token)})",
        )
    if token.count(".") == _JWE_DOTS:
        raise _reject(
            TokenRejection.MALFORMED,
            "an encrypted token (JWE: five parts) is not accepted; send a signed JWT",
        )
    if not looks_like_a_jwt(token):
        raise _reject(
            TokenRejection.MALFORMED, "not a JWT: three base64url parts separated by dots"
        )


def _subject(claims: Mapping[str, Any]) -> str:
    """The verified `sub`: a non-empty string PostgreSQL can store (it goes into the audit log)."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise _reject(TokenRejection.NO_SUBJECT, "the token names no subject (sub)")
    if _UNSTORABLE_CHARACTER.search(subject):
        raise _reject(
            TokenRejection.MALFORMED,
            "the token's subject (sub) holds U+0000 or a lone surrogate, which no text can store",
        )
    return subject


def _read_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims before any check: only to choose the issuer, key and algorithm."""
    try:
        decoded = jwt.decode_complete(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _reject(
            TokenRejection.MALFORMED, "not a JWT: its header or claims are not a JSON object"
        ) from None
    return decoded["header"], decoded["payload"]


def _check_time_claim_types(claims: Mapping[str, Any]) -> None:
    for name in _TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not -_LATEST_SECONDS < value < _LATEST_SECONDS:
            raise _reject(
                TokenRejection.MALFORMED, f"the token's {name} is not a number of seconds"
            )


def _wrong_audience() -> TokenRejected:
    return _reject(
        TokenRejection.WRONG_AUDIENCE,
        "the token's audience (aud) names none of the audiences this service accepts",
    )


def _missing(claim: str) -> TokenRejected:
    """PyJWT requires exp (as asked) and aud (as audiences are given); iss is there: the
    issuer was found by it."""
    if claim == "exp":
        return _reject(TokenRejection.NO_EXPIRY, "the token has no expiry (exp)")
    return _wrong_audience()
