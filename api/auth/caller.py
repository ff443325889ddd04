"""Who a request is made by, as authorization sees it: grants, each a role on every application
or on some. An API key is one grant; a verified identity token has one grant per binding it
matches, and gets their union: on each application, the highest role any of them gives there.

Authorization (api/auth/authorization.py) asks a caller only these questions, so keys and
identities go through the very same checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from identity.token_verifier import VerifiedToken
from models.api_key import ApiKey, Role
from models.identity_binding import Binding

LEVEL = {Role.READ: 1, Role.WRITE: 2, Role.ADMIN: 3}


@dataclass(frozen=True)
class Grant:
    role: Role
    applications: frozenset[str] | None  # None: every application
    reveal_secrets: bool = False

    def reaches(self, application_id: str) -> bool:
        return self.applications is None or application_id in self.applications


def _highest(roles: Sequence[Role]) -> Role | None:
    return max(roles, key=LEVEL.__getitem__, default=None)


@dataclass(frozen=True)
class Caller:
    grants: tuple[Grant, ...]
    key: ApiKey | None = None
    identity: VerifiedToken | None = None
    bindings: tuple[Binding, ...] = ()

    @classmethod
    def for_key(cls, key: ApiKey) -> Caller:
        applications = None if key.applications is None else frozenset(key.applications)
        return cls(grants=(Grant(key.role, applications, key.reveal_secrets),), key=key)

    @classmethod
    def for_identity(cls, identity: VerifiedToken, bindings: Sequence[Binding]) -> Caller:
        grants = tuple(
            Grant(
                binding.role,
                None if binding.applications is None else frozenset(binding.applications),
                binding.reveal_secrets,
            )
            for binding in bindings
        )
        return cls(grants=grants, identity=identity, bindings=tuple(bindings))

    # Cached: a request asks these several times, and grants never change.
    @cached_property
    def highest_role(self) -> Role:
        """The highest role on any application (what a list or a route naming none needs)."""
        return _highest([grant.role for grant in self.grants]) or Role.READ

    @cached_property
    def role_everywhere(self) -> Role | None:
        """The role on every application, that even one not created yet gets."""
        return _highest([grant.role for grant in self.grants if grant.applications is None])

    @cached_property
    def same_role_everywhere(self) -> bool:
        """Whether the application a request touches cannot change the answer (no need to find
        out which it is)."""
        return self.role_everywhere is self.highest_role

    def role_on(self, application_id: str) -> Role | None:
        """The highest role a grant gives on the application; None: out of reach."""
        return _highest([grant.role for grant in self.grants if grant.reaches(application_id)])

    def reaches(self, application_id: str) -> bool:
        return any(grant.reaches(application_id) for grant in self.grants)

    def scope(self, at_least: Role = Role.READ) -> frozenset[str] | None:
        """The applications on which the caller has `at_least` this role; None: every one."""
        enough = [grant for grant in self.grants if LEVEL[grant.role] >= LEVEL[at_least]]
        if any(grant.applications is None for grant in enough):
            return None
        return frozenset().union(*(grant.applications or () for grant in enough))

    def may_reveal(self, application_id: str) -> bool:
        """Whether secret values of the application are shown in plain text to this caller: only
        through a grant that reaches it and says so."""
        return any(grant.reveal_secrets and grant.reaches(application_id) for grant in self.grants)

    @property
    def is_admin(self) -> bool:
        return any(grant.role is Role.ADMIN for grant in self.grants)

    @property
    def binding_ids(self) -> tuple[str, ...]:
        return tuple(binding.id for binding in self.bindings)

    def describe(self) -> str:
        """Who, for people: never a secret (a key by its prefix, an identity by its subject)."""
        if self.identity is not None:
            return f"the identity {self.identity.subject!r} of {self.identity.issuer}"
        prefix = self.key.prefix if self.key is not None else "?"
        return f"the API key {prefix}"

    def log_fields(self) -> dict[str, Any]:
        """Who, for the access log."""
        if self.identity is not None:
            return {
                "issuer": self.identity.issuer,
                "subject": self.identity.subject,
                "binding_ids": list(self.binding_ids),
            }
        return {"key_id": self.key.id if self.key is not None else None}
