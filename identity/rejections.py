"""Why a token is refused: one typed reason each, and a message that never quotes the token."""

from __future__ import annotations

from enum import StrEnum

_SHOWN_CHARACTERS = 100


def shortened(text: str) -> str:
    """At most the first 100 characters of something the token says (its issuer, algorithm or
    kid), for a message that names it without repeating the token."""
    return text if len(text) <= _SHOWN_CHARACTERS else text[:_SHOWN_CHARACTERS] + "…"


class TokenRejection(StrEnum):
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    UNKNOWN_ISSUER = "unknown_issuer"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    KEYS_UNAVAILABLE = "keys_unavailable"
    UNKNOWN_KEY = "unknown_key"
    KEY_TYPE_MISMATCH = "key_type_mismatch"
    BAD_SIGNATURE = "bad_signature"
    NO_EXPIRY = "no_expiry"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_AUDIENCE = "wrong_audience"
    NO_SUBJECT = "no_subject"
    LIFETIME_TOO_LONG = "lifetime_too_long"


class TokenRejected(Exception):
    """A token that does not prove who its holder is. `message` is for the caller: it names
    what is wrong in the service's words and quotes nothing of the token but, at most, the
    issuer, algorithm or kid it names (each `shortened`), since a misspelt issuer or a rotated
    key is the commonest mistake."""

    def __init__(self, reason: TokenRejection, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
