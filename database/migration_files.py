"""Migration files on disk and how they compare with a database's history of applied ones."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_VERSION = 2**31 - 1  # schema_migrations.version is an integer

_FILE_NAME = re.compile(r"(?P<stem>(?P<version>[0-9]{3,})_[a-z0-9_]+)(?P<down>\.down)?\.sql")


class MigrationError(Exception):
    """The migrations cannot be run as asked; the message names the file and what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file stem, e.g. "001_initial"
    up_path: Path
    down_path: Path | None
    content: bytes = field(repr=False)  # read once, so what runs is what was checksummed

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str


@dataclass(frozen=True)
class MigrationStatus:
    """Names of migrations in each state; the four lists never share a name.

    applied: recorded and the file is unchanged; pending: not recorded yet; changed: recorded
    but the file differs from what was applied; missing: recorded but the file is gone.
    """

    applied: list[str]
    pending: list[str]
    changed: list[str]
    missing: list[str]

    @property
    def is_current(self) -> bool:
        return not (self.pending or self.changed or self.missing)

    def describe(self) -> str:
        if self.is_current:
            return f"Database schema is current ({_count(self.applied, 'migration')} applied)."
        problems = [
            f"{_count(names, label)} ({', '.join(names)})"
            for names, label in (
                (self.pending, "pending migration"),
                (self.changed, "changed migration"),
                (self.missing, "missing migration"),
            )
            if names
        ]
        advice = []
        if self.changed:
            advice.append(
                "Applied migrations must not be edited: restore each changed file to what was "
                "applied and put the change in a new migration."
            )
        if self.missing:
            advice.append(
                "Each missing migration was applied to this database but has no file here: "
                "restore the file (or run code at least as new as the database)."
            )
        advice.append("Then run `pipenv run migrate`." if advice else "Run `pipenv run migrate`.")
        return f"Database schema is not current: {'; '.join(problems)}. {' '.join(advice)}"


def discover_migrations(directory: Path) -> list[Migration]:
    """The migrations in `directory` in version order; MigrationError names any bad file."""
    if not directory.is_dir():
        raise MigrationError(f"migrations directory {directory} does not exist")
    ups: dict[int, Path] = {}
    downs: list[Path] = []
    for path in sorted(directory.iterdir()):
        if not (path.is_file() and path.name.lower().endswith(".sql")):
            continue
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(
                f"{path.name} is not a migration file name: expected NNN_name.sql or "
                "NNN_name.down.sql (NNN: 3 or more digits; name: a-z, 0-9 and _)"
            )
        version = int(match["version"])
        if version > MAX_VERSION:
            raise MigrationError(f"{path.name}: version {version} exceeds {MAX_VERSION}")
        if match["down"]:
            downs.append(path)
        elif version in ups:
            raise MigrationError(
                f"duplicate migration version {version}: {ups[version].name} and {path.name}"
            )
        else:
            ups[version] = path
    down_by_stem = {path.name.removesuffix(".down.sql"): path for path in downs}
    stems = {path.stem for path in ups.values()}
    for stem, path in down_by_stem.items():
        if stem not in stems:
            raise MigrationError(f"{path.name} has no up migration {stem}.sql")
    return [
        Migration(
            version=version,
            name=path.stem,
            up_path=path,
            down_path=down_by_stem.get(path.stem),
            content=path.read_bytes(),
        )
        for version, path in sorted(ups.items())
    ]


def compare_with_history(
    migrations: list[Migration], history: list[AppliedMigration]
) -> MigrationStatus:
    """Which migrations are applied, pending, changed since they were applied, or missing."""
    by_version = {migration.version: migration for migration in migrations}
    applied, changed, missing = [], [], []
    for row in history:
        migration = by_version.get(row.version)
        if migration is None:
            missing.append(row.name)
        elif migration.checksum != row.checksum:
            changed.append(migration.name)
        else:
            applied.append(migration.name)
    recorded = {row.version for row in history}
    pending = [migration.name for migration in migrations if migration.version not in recorded]
    return MigrationStatus(applied=applied, pending=pending, changed=changed, missing=missing)


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"
