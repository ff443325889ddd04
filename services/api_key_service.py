"""Use cases for API keys: create, list, get, revoke, and find the key a request presents."""

from __future__ import annotations

from datetime import UTC, datetime

from models.api_key import ApiKey, ApiKeyCreate, ApiKeyCreated, StoredKey
from models.audit import Actor, AuditAction, AuditEntry, TargetType
from models.page import Page
from repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from services.api_key_secrets import NewKey, key_hash, new_key, prefix_of, same_hash
from services.errors import ApiKeyNotFound, FieldProblem, InvalidRequest
from services.ids import new_id
from services.write_retry import retry_write

PREFIX_ATTEMPTS = 5


def usable(key: ApiKey, *, now: datetime | None = None) -> bool:
    """Neither revoked nor expired."""
    moment = now or datetime.now(UTC)
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > moment)


def unknown_applications(uow: UnitOfWork, application_ids: list[str] | None) -> list[FieldProblem]:
    """One problem for each id that names no application: ids are made by the service, so a
    key limited to such an id could never reach anything."""
    if not application_ids:
        return []
    existing = uow.applications.existing_ids(application_ids=application_ids)
    return [
        FieldProblem.at(
            f"/applications/{index}",
            rule="application_exists",
            message=f"application {application_id} does not exist",
        )
        for index, application_id in enumerate(application_ids)
        if application_id not in existing
    ]


def expiry_in_the_past() -> FieldProblem:
    return FieldProblem(
        field="expires_at",
        rule="future_datetime",
        message="expires_at must be in the future: a key that has already expired works nowhere",
    )


class ApiKeyService:
    def __init__(self, unit_of_work: UnitOfWorkFactory, *, pepper: bytes) -> None:
        self._unit_of_work = unit_of_work
        self._pepper = pepper

    def create(self, *, data: ApiKeyCreate, actor: Actor) -> ApiKeyCreated:
        """A new key; the only time its secret is seen."""
        if data.expires_at is not None and data.expires_at <= datetime.now(UTC):
            raise InvalidRequest([expiry_in_the_past()])
        for _ in range(PREFIX_ATTEMPTS):
            drawn = new_key()

            def attempt(uow: UnitOfWork, drawn: NewKey = drawn) -> StoredKey | None:
                unknown = unknown_applications(uow, data.applications)
                if unknown:
                    raise InvalidRequest(unknown)
                stored = uow.api_keys.add(
                    key_id=new_id(),
                    name=data.name,
                    prefix=drawn.prefix,
                    secret_hash=key_hash(drawn.key, pepper=self._pepper),
                    role=data.role,
                    applications=data.applications,
                    expires_at=data.expires_at,
                    created_by=actor.key_id,
                    reveal_secrets=data.reveal_secrets,
                )
                if stored is not None:
                    _audit(uow, actor, AuditAction.KEY_CREATED, stored.key.id)
                return stored

            created = retry_write(self._unit_of_work, attempt)
            if created is not None:
                return ApiKeyCreated(**created.key.model_dump(), key=drawn.key)
        raise RuntimeError(f"no free key prefix after {PREFIX_ATTEMPTS} draws")  # 2^-200 odds

    def list(self, *, after: str | None, limit: int) -> Page[ApiKey]:
        with self._unit_of_work() as uow:
            rows = uow.api_keys.list_page(after=after, limit=limit + 1)
        return Page.from_rows([row.key for row in rows], limit=limit, cursor=lambda key: key.id)

    def get(self, *, key_id: str) -> ApiKey:
        with self._unit_of_work() as uow:
            stored = uow.api_keys.get(key_id=key_id)
        if stored is None:
            raise ApiKeyNotFound(key_id)
        return stored.key

    def revoke(self, *, key_id: str, actor: Actor) -> ApiKey:
        """Revoked from now on (revoking again changes nothing and records nothing)."""

        def attempt(uow: UnitOfWork) -> ApiKey:
            before = uow.api_keys.get(key_id=key_id)
            revoked = uow.api_keys.revoke(key_id=key_id)
            if before is None or revoked is None:
                raise ApiKeyNotFound(key_id)
            if before.key.revoked_at is None:
                _audit(uow, actor, AuditAction.KEY_REVOKED, key_id)
            uow.api_keys.announce_revocation()
            return revoked.key

        return retry_write(self._unit_of_work, attempt)

    def authenticate(self, key: str) -> ApiKey | None:
        """The stored key `key` is, usable or not; None when it is no key of ours."""
        prefix = prefix_of(key)
        if prefix is None:
            return None
        with self._unit_of_work() as uow:
            stored = uow.api_keys.get_by_prefix(prefix=prefix)
        if stored is None or not same_hash(key_hash(key, pepper=self._pepper), stored.secret_hash):
            return None
        return stored.key


def _audit(uow: UnitOfWork, actor: Actor, action: AuditAction, key_id: str) -> None:
    uow.audit.append(
        actor=actor, entry=AuditEntry(action=action, target_type=TargetType.KEY, target_id=key_id)
    )
