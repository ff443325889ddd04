"""Recording that a caller was shown secret values in plain text: who, which configuration and
revision, and when (the audit record's `at`), never the values.

Only the first such read of each revision by each reader is recorded: `secret_reveals`
remembers which were, so a service that reads the same revision again and again adds nothing
after its first read (and each instance remembers in memory too, so its repeats cost no
database round trip: api/v1/representations.py)."""

from __future__ import annotations

from collections.abc import Iterable

from models.audit import Actor, AuditAction, AuditEntry, TargetType
from repositories.unit_of_work import UnitOfWorkFactory


def reader_of(actor: Actor) -> str:
    """Who reads, as secret_reveals remembers them: a key by its id, an identity by its issuer
    and subject (whatever bindings let it in), else by name."""
    if actor.key_id is not None:
        return actor.key_id
    if actor.issuer is not None:
        return f"identity {actor.issuer} {actor.subject}"
    return f"name {actor.key_name}"


class SecretRevealService:
    def __init__(self, unit_of_work: UnitOfWorkFactory, *, actor: Actor) -> None:
        self._unit_of_work = unit_of_work
        self._actor = actor

    def record(self, *, application_id: str, revisions: Iterable[tuple[str, int]]) -> int:
        """Audit each (configuration id, revision) of the application that the actor has not
        revealed before, in one transaction; how many were new."""
        recorded = 0
        with self._unit_of_work() as uow:
            for configuration_id, revision in sorted(set(revisions)):
                if not uow.secrets.remember_reveal(
                    reader=reader_of(self._actor),
                    configuration_id=configuration_id,
                    revision=revision,
                ):
                    continue
                uow.audit.append(
                    actor=self._actor,
                    entry=AuditEntry(
                        action=AuditAction.CONFIGURATION_REVEALED,
                        target_type=TargetType.CONFIGURATION,
                        target_id=configuration_id,
                        application_id=application_id,
                        configuration_id=configuration_id,
                        revision_after=revision,
                    ),
                )
                recorded += 1
        return recorded
