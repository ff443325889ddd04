"""Use cases for identity bindings: create, list, get, delete (audited like keys), and the
bindings of one issuer, which decide what a verified identity may do."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from models.audit import Actor, AuditAction, AuditEntry, TargetType
from models.identity_binding import Binding, BindingCreate
from models.page import Page
from repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from services.api_key_service import unknown_applications
from services.errors import BindingNotFound, FieldProblem, InvalidRequest
from services.ids import new_id
from services.write_retry import retry_write


def untrusted_issuer(issuer: str, trusted: Collection[str]) -> FieldProblem:
    known = ", ".join(repr(name) for name in sorted(trusted)) or "none: OIDC_ISSUERS is empty"
    return FieldProblem(
        field="issuer",
        rule="trusted_issuer",
        message=f"issuer {issuer[:200]!r} is not one of OIDC_ISSUERS (trusted: {known}); a "
        "binding for it could never match",
    )


class BindingService:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, *, trusted_issuers: Collection[str]
    ) -> None:
        self._unit_of_work = unit_of_work
        self._trusted_issuers = frozenset(trusted_issuers)

    def create(self, *, data: BindingCreate, actor: Actor) -> Binding:
        if data.issuer not in self._trusted_issuers:
            raise InvalidRequest([untrusted_issuer(data.issuer, self._trusted_issuers)])

        def attempt(uow: UnitOfWork) -> Binding:
            unknown = unknown_applications(uow, data.applications)
            if unknown:
                raise InvalidRequest(unknown)
            binding = uow.bindings.add(binding_id=new_id(), data=data)
            _audit(uow, actor, AuditAction.BINDING_CREATED, binding.id)
            uow.bindings.announce_change()
            return binding

        return retry_write(self._unit_of_work, attempt)

    def list(self, *, after: str | None, limit: int) -> Page[Binding]:
        with self._unit_of_work() as uow:
            rows = uow.bindings.list_page(after=after, limit=limit + 1)
        return Page.from_rows(rows, limit=limit, cursor=lambda binding: binding.id)

    def get(self, *, binding_id: str) -> Binding:
        with self._unit_of_work() as uow:
            binding = uow.bindings.get(binding_id=binding_id)
        if binding is None:
            raise BindingNotFound(binding_id)
        return binding

    def delete(self, *, binding_id: str, actor: Actor) -> Binding:
        def attempt(uow: UnitOfWork) -> Binding:
            deleted = uow.bindings.delete(binding_id=binding_id)
            if deleted is None:
                raise BindingNotFound(binding_id)
            _audit(uow, actor, AuditAction.BINDING_DELETED, binding_id)
            uow.bindings.announce_change()
            return deleted

        return retry_write(self._unit_of_work, attempt)

    def of_issuer(self, *, issuer: str) -> Sequence[Binding]:
        """Every binding of `issuer`: those a verified identity of it is matched against."""
        with self._unit_of_work() as uow:
            return uow.bindings.of_issuer(issuer=issuer)


def _audit(uow: UnitOfWork, actor: Actor, action: AuditAction, binding_id: str) -> None:
    uow.audit.append(
        actor=actor,
        entry=AuditEntry(action=action, target_type=TargetType.BINDING, target_id=binding_id),
    )
