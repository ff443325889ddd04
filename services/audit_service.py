"""Reading the audit log (records are appended by the services that make the changes)."""

from __future__ import annotations

from models.audit import AuditFilter, AuditRecord
from models.page import Page
from repositories.unit_of_work import UnitOfWorkFactory


class AuditService:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    def list(self, *, where: AuditFilter, before: int | None, limit: int) -> Page[AuditRecord]:
        """Newest first; `before`: only records older than this id (the next page)."""
        with self._unit_of_work() as uow:
            rows = uow.audit.list_page(where=where, before=before, limit=limit + 1)
        return Page.from_rows(rows, limit=limit, cursor=lambda record: str(record.id))
