"""What can go wrong with secret values, in the service's words (api/problems maps them).

None of these messages holds a secret value or key material: only the setting to fix, key ids
(names, not keys) and JSON Pointers (places, not values).
"""

from __future__ import annotations

from services.errors import DomainError


class SecretValueError(DomainError):
    """Secret values could not be sealed or opened with the keys of SECRETS_KEYS."""


class SecretsKeysNotSet(SecretValueError):
    """A write marks or holds a secret, but SECRETS_KEYS is unset: there is no key to encrypt
    it with, and it is never stored in plain text."""

    def __init__(self) -> None:
        super().__init__(
            "this service has no encryption key for secrets: set SECRETS_KEYS (a keyring of "
            "<id>:<base64 of 32 random bytes>) to store secret values"
        )


class SecretKeyUnavailable(SecretValueError):
    """A stored secret was encrypted under a key that SECRETS_KEYS no longer lists."""

    def __init__(self, *, key_id: str, configuration_id: str) -> None:
        super().__init__(
            f"a secret of configuration {configuration_id} is encrypted under the key "
            f"{key_id!r}, which SECRETS_KEYS does not list; add that key back to SECRETS_KEYS "
            "(after the key that encrypts) to read or change it"
        )
        self.key_id = key_id
        self.configuration_id = configuration_id


class SecretUndecryptable(SecretValueError):
    """A stored secret did not decrypt: SECRETS_KEYS holds other key material under its key id,
    or the stored text was changed or moved outside the service."""

    def __init__(self, *, key_id: str | None, configuration_id: str, location: str) -> None:
        named = "an unreadable key id" if key_id is None else f"the key {key_id!r}"
        super().__init__(
            f"the secret at {location} of configuration {configuration_id} does not decrypt "
            f"with {named} of SECRETS_KEYS: the key under that id is not the one it was "
            "encrypted with, or the stored value was altered"
        )
        self.key_id = key_id
        self.configuration_id = configuration_id
        self.location = location


class SecretWouldShow(DomainError):
    """A write by a caller that may not reveal the configuration's secrets would leave (part
    of) a stored secret value outside every secret location, where every caller would read it:
    unmarking a secret, or narrowing it to a part of its value, while the value stays."""

    def __init__(self, *, configuration_id: str, locations: list[str]) -> None:
        listed = ", ".join(locations)
        super().__init__(
            f"this write would show the stored value of the secret {listed} of configuration "
            f"{configuration_id} to every caller (it leaves the value, or part of it, outside "
            "every secret location), and this caller may not reveal secrets: keep it in "
            "`secrets`, remove or replace the value in the same write, or make the change with "
            "a key that may reveal secrets"
        )
        self.configuration_id = configuration_id
        self.locations = locations
