"""SQL for the audit log: appended in the change's own transaction, read newest first."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import RealDictCursor

from models.audit import Actor, AuditEntry, AuditFilter, AuditRecord
from repositories.repository import Repository

INSERT_RECORD = """
    INSERT INTO audit_log (key_id, key_name, issuer, subject, binding_ids, action, target_type,
                           target_id, application_id, configuration_id, revision_before,
                           revision_after, request_id, client_address)
    VALUES (%(key_id)s, %(key_name)s, %(issuer)s, %(subject)s, %(binding_ids)s, %(action)s,
            %(target_type)s, %(target_id)s, %(application_id)s, %(configuration_id)s,
            %(revision_before)s, %(revision_after)s, %(request_id)s, %(client_address)s)
"""

SELECT_RECORDS_PAGE = """
    SELECT id, at, key_id, key_name, issuer, subject, binding_ids, action, target_type,
           target_id, application_id, configuration_id, revision_before, revision_after,
           request_id, client_address
    FROM audit_log
    WHERE (%(before)s::bigint IS NULL OR id < %(before)s)
      AND (%(application_id)s::text IS NULL OR application_id = %(application_id)s)
      AND (%(configuration_id)s::text IS NULL OR configuration_id = %(configuration_id)s)
      AND (%(key_id)s::text IS NULL OR key_id = %(key_id)s)
      AND (%(action)s::text IS NULL OR action = %(action)s)
      AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
      AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
      AND (%(visible)s::text[] IS NULL OR application_id = ANY(%(visible)s))
      AND (NOT %(applications_only)s OR application_id IS NOT NULL)
    ORDER BY id DESC
    LIMIT %(limit)s
"""


def audit_parameters(actor: Actor, entry: AuditEntry) -> dict[str, Any]:
    """INSERT_RECORD's parameters (also those of writes that audit in their own statement)."""
    return {
        "key_id": actor.key_id,
        "key_name": actor.key_name,
        "issuer": actor.issuer,
        "subject": actor.subject,
        "binding_ids": list(actor.binding_ids) or None,
        "action": entry.action.value,
        "target_type": entry.target_type.value,
        "target_id": entry.target_id,
        "application_id": entry.application_id,
        "configuration_id": entry.configuration_id,
        "revision_before": entry.revision_before,
        "revision_after": entry.revision_after,
        "request_id": actor.request_id,
        "client_address": actor.client_address,
    }


class AuditRepository(Repository):
    def append(self, *, actor: Actor, entry: AuditEntry) -> None:
        with self._connection.cursor() as cursor:
            cursor.execute(INSERT_RECORD, audit_parameters(actor, entry))

    def list_page(self, *, where: AuditFilter, before: int | None, limit: int) -> list[AuditRecord]:
        visible = where.visible_applications
        parameters: dict[str, Any] = {
            "before": before,
            "application_id": where.application_id,
            "configuration_id": where.configuration_id,
            "key_id": where.key_id,
            "action": None if where.action is None else where.action.value,
            "since": where.since,
            "until": where.until,
            "visible": None if visible is None else sorted(visible),
            "applications_only": where.applications_only,
            "limit": limit,
        }
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_RECORDS_PAGE, parameters)
            return [AuditRecord(**row) for row in cursor.fetchall()]
