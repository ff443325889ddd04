"""Rotation: every stored secret (current rows and every revision) sealed again under the key
that encrypts, while the service runs.

It walks the configurations, then the revisions, that hold secrets, in bounded batches by id,
each batch one short transaction that locks only its rows: a write to one of them waits for
the batch, not for the rotation. Only the envelopes change (the values, revisions and versions stay
the same), and a row is updated only while it is still at the revision read. A write made
during the walk by an instance whose first key is the new one seals what it writes under it;
one by an instance still on the old keyring may leave an old envelope behind, so the walk is
repeated until a pass finds nothing left to re-encrypt. Stopping at any point loses nothing,
and running it again carries on: what is already under the current key is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from models.configuration import StoredSecrets
from repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from services.secret_values.cipher import SecretCipher
from services.secret_values.errors import SecretsKeysNotSet, SecretValueError
from services.secret_values.locations import SecretLocations
from services.secret_values.sealing import SealedConfig, reseal_config

BATCH_SIZE = 100
MAX_PASSES = 5


@dataclass
class Pass:
    """What one walk over everything re-encrypted."""

    configurations: int = 0
    revisions: int = 0
    values: int = 0

    @property
    def changed(self) -> bool:
        return self.values > 0

    def add(self, values: int, *, current: bool) -> None:
        """`values` re-encrypted in one current row (`current`) or kept revision."""
        self.values += values
        if values and current:
            self.configurations += 1
        elif values:
            self.revisions += 1


@dataclass
class RotationReport:
    key_id: str
    passes: list[Pass] = field(default_factory=list)
    # Stored configs that could not be re-encrypted (their key is missing): where, and why.
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every stored secret is under the current key: the other keys may be removed."""
        return not self.failures and bool(self.passes) and not self.passes[-1].changed


class SecretRotationService:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        cipher: SecretCipher,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._cipher = cipher
        self._batch_size = batch_size

    def rotate(
        self, *, max_passes: int = MAX_PASSES, progress: Callable[[Pass], None] | None = None
    ) -> RotationReport:
        """Walk everything until a pass re-encrypts nothing (at most `max_passes` walks)."""
        if self._cipher.current_key_id is None:
            raise SecretsKeysNotSet()
        report = RotationReport(key_id=self._cipher.current_key_id)
        for _ in range(max_passes):
            walk = Pass()
            report.failures.clear()  # each pass tries every one again
            self._walk(walk, report, current=True)
            self._walk(walk, report, current=False)
            report.passes.append(walk)
            if progress is not None:
                progress(walk)
            if not walk.changed:
                break
        return report

    def _walk(self, walk: Pass, report: RotationReport, *, current: bool) -> None:
        """Every current row (`current`) or every kept revision that holds secrets, batch by
        batch in the order of their keys."""
        after = ("", 0)
        while True:
            with self._unit_of_work() as uow:
                batch = (
                    uow.secrets.configurations_with_secrets(after=after[0], limit=self._batch_size)
                    if current
                    else uow.secrets.revisions_with_secrets(after=after, limit=self._batch_size)
                )
                for stored in batch:
                    walk.add(self._reseal(uow, stored, report, current=current), current=current)
            if len(batch) < self._batch_size:
                return
            after = (batch[-1].configuration_id, batch[-1].revision)

    def _reseal(
        self, uow: UnitOfWork, stored: StoredSecrets, report: RotationReport, *, current: bool
    ) -> int:
        """Seal `stored`'s old envelopes again under the current key; how many there were."""
        sealed = SealedConfig(stored.config, SecretLocations.of(stored.secrets))
        try:
            config, count = reseal_config(
                sealed, cipher=self._cipher, configuration_id=stored.configuration_id
            )
        except SecretValueError as error:
            row = "current row" if current else "kept revision"
            where = f"configuration {stored.configuration_id} revision {stored.revision} ({row})"
            report.failures[where] = str(error)
            return 0
        if count == 0:
            return 0
        replace = (
            uow.secrets.replace_configuration_config
            if current
            else uow.secrets.replace_revision_config
        )
        replaced = replace(
            configuration_id=stored.configuration_id, revision=stored.revision, config=config
        )
        return count if replaced else 0
