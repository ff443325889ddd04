"""Migration 005_secrets on a real PostgreSQL: its columns and rules, and a down migration that
refuses to lose secret values."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg2
import pytest

from database.migration_files import MigrationError, discover_migrations
from database.migration_runner import MIGRATIONS_DIRECTORY, MigrationRunner
from testing.databases import run_sql

APPLICATION = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"
CONFIGURATION = "01JQ3V7B2D4F6H8K0M2P4R6T8V"
KEY = "01JQ3V8C5E7G9J1M3P5S7V9X1Z"
REMEMBER_REVEAL = (
    "INSERT INTO secret_reveals (reader, configuration_id, revision)"
    " VALUES (%(key)s, %(configuration)s, 1) ON CONFLICT DO NOTHING RETURNING revision"
)


@pytest.fixture
def migrated(empty_database_url: str) -> str:
    MigrationRunner(empty_database_url).up()
    run_sql(
        empty_database_url,
        "INSERT INTO applications (id, name) VALUES (%(application)s, 'billing');"
        "INSERT INTO configurations (id, application_id, name, config)"
        " VALUES (%(configuration)s, %(application)s, 'production', '{\"a\": 1}');"
        "INSERT INTO configuration_revisions (configuration_id, revision, name, config)"
        " VALUES (%(configuration)s, 1, 'production', '{\"a\": 1}')",
        {"application": APPLICATION, "configuration": CONFIGURATION},
    )
    return empty_database_url


def test_new_columns_default_to_no_secrets_and_no_reveal(migrated: str) -> None:
    run_sql(
        migrated,
        "INSERT INTO api_keys (id, name, prefix, secret_hash, role)"
        " VALUES (%(key)s, 'k', 'abcdefgh', decode(repeat('00', 32), 'hex'), 'read')",
        {"key": KEY},
    )

    assert run_sql(migrated, "SELECT secrets FROM configurations") == [([],)]
    assert run_sql(migrated, "SELECT secrets FROM configuration_revisions") == [([],)]
    assert run_sql(migrated, "SELECT reveal_secrets FROM api_keys") == [(False,)]


def test_at_most_256_secret_locations(migrated: str) -> None:
    with pytest.raises(psycopg2.errors.CheckViolation, match="configurations_secrets_count"):
        run_sql(
            migrated,
            "UPDATE configurations SET secrets = %(secrets)s",
            {"secrets": [f"/k{index}" for index in range(257)]},
        )


def test_reveals_are_audited_and_remembered_once(migrated: str) -> None:
    run_sql(
        migrated,
        "INSERT INTO audit_log (key_id, key_name, action, target_type, target_id, revision_after)"
        " VALUES (%(key)s, 'k', 'configuration.revealed', 'configuration', %(configuration)s, 1)",
        {"key": KEY, "configuration": CONFIGURATION},
    )
    parameters = {"key": KEY, "configuration": CONFIGURATION}

    assert run_sql(migrated, REMEMBER_REVEAL, parameters) == [(1,)]
    assert run_sql(migrated, REMEMBER_REVEAL, parameters) == []
    assert run_sql(migrated, "SELECT action FROM audit_log") == [("configuration.revealed",)]


def back_to_005(database_url: str) -> MigrationRunner:
    """The runner, with the migrations after 005_secrets reverted."""
    runner = MigrationRunner(database_url)
    later = [name for name in runner.status().applied if name > "005_secrets"]
    assert runner.down(len(later)) == sorted(later, reverse=True)
    assert runner.status().applied[-1] == "005_secrets"
    return runner


def test_down_refuses_while_secrets_are_stored(migrated: str) -> None:
    run_sql(migrated, "UPDATE configuration_revisions SET secrets = '{/a}'")
    runner = back_to_005(migrated)

    with pytest.raises(
        MigrationError, match="configurations hold secret values, which would be lost"
    ):
        runner.down()

    assert runner.status().applied[-1] == "005_secrets"
    run_sql(migrated, "UPDATE configuration_revisions SET secrets = '{}'")
    run_sql(migrated, "UPDATE configurations SET secrets = '{/a}'")
    with pytest.raises(MigrationError, match="cannot revert 005_secrets"):
        runner.down()


def test_down_keeps_audit_records_of_reveals(migrated: str) -> None:
    run_sql(
        migrated,
        "INSERT INTO audit_log (key_name, action, target_type, target_id)"
        " VALUES ('k', 'configuration.revealed', 'configuration', %(configuration)s)",
        {"configuration": CONFIGURATION},
    )
    runner = back_to_005(migrated)

    assert runner.down() == ["005_secrets"]

    assert run_sql(migrated, "SELECT action FROM audit_log") == [("configuration.revealed",)]
    assert run_sql(migrated, "SELECT to_regclass('secret_reveals')") == [(None,)]
    with pytest.raises(psycopg2.errors.CheckViolation, match="audit_log_action"):
        run_sql(
            migrated,
            "INSERT INTO audit_log (key_name, action, target_type, target_id)"
            " VALUES ('k', 'configuration.revealed', 'configuration', 'x')",
        )


def test_a_database_that_had_006_before_005_gets_the_same_schema(
    empty_database_url: str, tmp_path: Path
) -> None:
    """005 and 006 were written side by side: a database migrated without 005 (and 007) gets
    them later, in any order, and ends with the same rules as one migrated in order."""
    for migration in discover_migrations(MIGRATIONS_DIRECTORY):
        if migration.name not in ("005_secrets", "007_audit_reveals"):
            shutil.copy(migration.up_path, tmp_path)
    MigrationRunner(empty_database_url, tmp_path).up()
    run_sql(
        empty_database_url,
        "INSERT INTO audit_log (key_name, action, target_type, target_id)"
        " VALUES ('k', 'binding.created', 'binding', 'b')",
    )

    assert MigrationRunner(empty_database_url).up() == ["005_secrets", "007_audit_reveals"]

    run_sql(
        empty_database_url,
        "INSERT INTO audit_log (key_name, action, target_type, target_id)"
        " VALUES ('k', 'configuration.revealed', 'configuration', 'c')",
    )
    assert run_sql(empty_database_url, "SELECT action FROM audit_log ORDER BY id") == [
        ("binding.created",),
        ("configuration.revealed",),
    ]
