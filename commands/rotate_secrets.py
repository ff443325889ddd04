"""`pipenv run rotate-secrets`: re-encrypt every stored secret under the first key of
SECRETS_KEYS, while the service runs.

Put the new key first in SECRETS_KEYS (keeping the old ones listed) on every instance, then run
this; when it reports that everything is under the new key, the old ones may be removed. It
works in bounded batches (services/secret_rotation_service.py), can be stopped at any point and
run again, and prints what it did. Exit status: 0 done, 1 something is left (a key is missing,
or writers on an old keyring keep adding old envelopes), 2 bad settings or arguments.
"""

from __future__ import annotations

import argparse
import sys

from commands.startup import StartupFailed, prepare_database
from config.settings import Settings, SettingsError, load_settings
from database.errors import DatabaseError
from database.pool import Database
from repositories.unit_of_work import unit_of_work_factory
from services.secret_rotation_service import (
    BATCH_SIZE,
    MAX_PASSES,
    Pass,
    RotationReport,
    SecretRotationService,
)
from services.secret_values.cipher import SecretCipher

MAX_BATCH_SIZE = 10_000


def rotate_secrets(
    settings: Settings, *, batch_size: int = BATCH_SIZE, say: bool = True
) -> RotationReport:
    """Rotate on the settings' database (whose schema must be current)."""
    keyring = settings.secrets_keyring
    if keyring.current is None:
        raise StartupFailed("SECRETS_KEYS is unset: there is no key to re-encrypt under")
    prepared = prepare_database(settings, migrate=False)
    if not prepared.answered:
        raise StartupFailed("the database does not answer; nothing was re-encrypted")
    small = settings.model_copy(update={"database_pool_min_size": 1, "database_pool_max_size": 1})
    database = Database.from_settings(small, prepared.url)
    listed = ", ".join(key.id for key in keyring.keys)
    if say:
        print(f"re-encrypting under the key {keyring.current.id!r} (SECRETS_KEYS lists {listed})")
    try:
        service = SecretRotationService(
            unit_of_work_factory(database), cipher=SecretCipher(keyring.keys), batch_size=batch_size
        )
        return service.rotate(progress=_say_pass if say else None)
    finally:
        database.close()


def _say_pass(walk: Pass) -> None:
    if not walk.changed:
        print("a pass found nothing left under another key")
        return
    print(
        f"re-encrypted {walk.values} values: in {walk.configurations} current configurations "
        f"and {walk.revisions} revisions",
        flush=True,
    )


def summary(report: RotationReport, old_keys: list[str]) -> str:
    if report.complete:
        removable = ", ".join(old_keys) if old_keys else "none"
        return (
            f"done: every stored secret is under the key {report.key_id!r}. Keys no longer "
            f"needed: {removable} (remove them from SECRETS_KEYS on every instance)"
        )
    if report.failures:
        lines = [f"  {where}: {reason}" for where, reason in sorted(report.failures.items())]
        return (
            f"not done: {len(report.failures)} stored configs could not be re-encrypted (keep "
            "every key listed until they can):\n" + "\n".join(lines)
        )
    return (
        f"not done: after {MAX_PASSES} passes old envelopes were still being written; make sure "
        f"every instance lists {report.key_id!r} first in SECRETS_KEYS, then run this again"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rotate-secrets", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        help=f"rows per transaction (1 to {MAX_BATCH_SIZE}; default {BATCH_SIZE})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if not 1 <= arguments.batch_size <= MAX_BATCH_SIZE:
        print(
            f"rotate-secrets: --batch-size must be 1 to {MAX_BATCH_SIZE} "
            f"(got {arguments.batch_size})",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_settings()
        report = rotate_secrets(settings, batch_size=arguments.batch_size)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    except StartupFailed as error:
        print(f"rotate-secrets: {error}", file=sys.stderr)
        return 1
    except DatabaseError as error:
        # Each batch is its own transaction: what committed stays re-encrypted, the rest keeps
        # its old (still listed) key, and a new run carries on.
        print(
            f"rotate-secrets: stopped by the database ({error}); nothing is lost: what was "
            "re-encrypted stays so, and running it again carries on",
            file=sys.stderr,
        )
        return 1
    old_keys = [key.id for key in settings.secrets_keyring.keys if key.id != report.key_id]
    print(summary(report, old_keys))
    return 0 if report.complete else 1


if __name__ == "__main__":
    sys.exit(main())
