"""What every change of a configuration leaves besides itself, in its own transaction: the
audit record (who, and between which revisions; the values stay in the revisions) and the
change-log entry that delivery reads. Updates hand both to the statement that writes the new
revision (`update_record`); creates and deletes append them (`record_change`)."""

from __future__ import annotations

from models.audit import Actor, AuditAction, AuditEntry, TargetType
from models.change import ChangeEntry, ChangeKind
from models.configuration import Configuration
from repositories.configuration_repository import WriteRecord
from repositories.unit_of_work import UnitOfWork

# The change-log kind of each audited action.
_KINDS = {
    AuditAction.CONFIGURATION_CREATED: ChangeKind.CREATED,
    AuditAction.CONFIGURATION_UPDATED: ChangeKind.UPDATED,
    AuditAction.CONFIGURATION_PATCHED: ChangeKind.UPDATED,
    AuditAction.CONFIGURATION_RESTORED: ChangeKind.RESTORED,
    AuditAction.CONFIGURATION_DELETED: ChangeKind.DELETED,
}


def record_change(
    uow: UnitOfWork,
    actor: Actor,
    action: AuditAction,
    *,
    before: Configuration | None,
    after: Configuration | None,
) -> None:
    """Audit, then append to the change log. `after` is None for a deletion."""
    subject = after or before
    assert subject is not None  # noqa: S101 (a change has a before or an after)  # nosec B101
    uow.audit.append(
        actor=actor,
        entry=AuditEntry(
            action=action,
            target_type=TargetType.CONFIGURATION,
            target_id=subject.id,
            application_id=subject.application_id,
            configuration_id=subject.id,
            revision_before=None if before is None else before.revision,
            revision_after=None if after is None else after.revision,
        ),
    )
    entry = ChangeEntry(
        kind=_KINDS[action],
        configuration_id=subject.id,
        name=subject.name,
        revision=None if after is None else after.revision,
    )
    uow.change_log.append(application_id=subject.application_id, entries=[entry])


def update_record(actor: Actor, action: AuditAction, *, current: Configuration) -> WriteRecord:
    """What `current`'s update to its next revision records, for the statement that writes it."""
    return WriteRecord(
        actor=actor,
        audit=AuditEntry(
            action=action,
            target_type=TargetType.CONFIGURATION,
            target_id=current.id,
            application_id=current.application_id,
            configuration_id=current.id,
            revision_before=current.revision,
            revision_after=current.revision + 1,
        ),
        kind=_KINDS[action],
    )
