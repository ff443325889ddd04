"""Rotation on a real PostgreSQL (a database of its own: it re-encrypts everything there)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from config.secrets_keys import parse_keyring
from conftest import make_settings
from database.migration_runner import MigrationRunner
from database.pool import Database
from models.configuration import ConfigurationUpdate
from repositories.unit_of_work import unit_of_work_factory
from services.configuration_service import ConfigurationService
from services.secret_rotation_service import Pass, SecretRotationService
from services.secret_values.cipher import SecretCipher
from services.secret_values.errors import SecretsKeysNotSet
from services.secret_values.views import revealed
from testing.actors import TEST_ACTOR
from testing.secret_keys import (
    NEW_ONLY_SECRETS_KEYS,
    ROTATED_SECRETS_KEYS,
    TEST_SECRETS_KEYS,
    write_secret_history,
)

OLD = SecretCipher(parse_keyring(TEST_SECRETS_KEYS).keys)
ROTATED = SecretCipher(parse_keyring(ROTATED_SECRETS_KEYS).keys)
NEW_ONLY = SecretCipher(parse_keyring(NEW_ONLY_SECRETS_KEYS).keys)


@pytest.fixture
def database(empty_database_url: str) -> Iterator[Database]:
    MigrationRunner(empty_database_url).up()
    pool = Database.from_settings(make_settings(empty_database_url), empty_database_url)
    yield pool
    pool.close()


def configurations(database: Database, cipher: SecretCipher) -> ConfigurationService:
    return ConfigurationService(
        unit_of_work_factory(database), max_json_depth=32, actor=TEST_ACTOR, cipher=cipher
    )


def key_ids(database: Database) -> list[str]:
    """The key id of every envelope stored, current rows and revisions alike."""
    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT config FROM configurations WHERE cardinality(secrets) > 0 "
            "UNION ALL SELECT config FROM configuration_revisions WHERE cardinality(secrets) > 0"
        )
        return sorted(row[0]["password"].split(":")[2] for row in cursor.fetchall())


def history(database: Database, configuration_id: str, cipher: SecretCipher) -> list[Any]:
    service = configurations(database, cipher)
    page = service.list_revisions(configuration_id=configuration_id, before=None, limit=10)
    current = revealed(service.get(configuration_id=configuration_id).value, cipher)
    return [current.config] + [revealed(item, cipher).config for item in page.items]


def test_everything_is_re_encrypted_in_batches_and_reads_the_same(database: Database) -> None:
    made = write_secret_history(database, 5)
    before = [history(database, configuration_id, OLD) for configuration_id in made]
    passes: list[Pass] = []

    report = SecretRotationService(
        unit_of_work_factory(database), cipher=ROTATED, batch_size=2
    ).rotate(progress=passes.append)

    assert key_ids(database) == ["t2"] * 20  # 5 current rows and 15 revisions
    assert [(walk.configurations, walk.revisions, walk.values) for walk in report.passes] == [
        (5, 15, 20),
        (0, 0, 0),
    ]
    assert passes == report.passes
    assert (report.complete, report.failures, report.key_id) == (True, {}, "t2")
    assert [history(database, configuration_id, NEW_ONLY) for configuration_id in made] == before


def test_running_it_again_changes_nothing(database: Database) -> None:
    write_secret_history(database, 2)
    service = SecretRotationService(unit_of_work_factory(database), cipher=ROTATED)
    service.rotate()
    stored = _stored_text(database)

    again = service.rotate()

    assert [walk.values for walk in again.passes] == [0]
    assert _stored_text(database) == stored


def _stored_text(database: Database) -> list[str]:
    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT config::text FROM configurations UNION ALL "
            "SELECT config::text FROM configuration_revisions ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_secret_under_a_missing_key_is_reported_and_left_alone(database: Database) -> None:
    made = write_secret_history(database, 1)
    text_before = _stored_text(database)

    report = SecretRotationService(unit_of_work_factory(database), cipher=NEW_ONLY).rotate()

    assert report.complete is False
    assert sorted(report.failures) == [
        f"configuration {made[0]} revision 1 (kept revision)",
        f"configuration {made[0]} revision 2 (kept revision)",
        f"configuration {made[0]} revision 3 (current row)",
        f"configuration {made[0]} revision 3 (kept revision)",
    ]
    assert "the key 't1', which SECRETS_KEYS does not list" in next(iter(report.failures.values()))
    assert _stored_text(database) == text_before


def test_a_write_after_the_new_key_came_first_seals_under_it(database: Database) -> None:
    [configuration_id] = write_secret_history(database, 1)

    configurations(database, ROTATED).update(
        configuration_id=configuration_id, changes=ConfigurationUpdate(comments="kept secrets")
    )

    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT config FROM configurations WHERE id = %(id)s", {"id": configuration_id}
        )
        [(config,)] = cursor.fetchall()
    assert config["password"].startswith("cs-secret:v1:t2:")
    assert json.dumps(config).count("pw-") == 0


def test_without_a_key_there_is_nothing_to_rotate_to(database: Database) -> None:
    with pytest.raises(SecretsKeysNotSet):
        SecretRotationService(unit_of_work_factory(database), cipher=SecretCipher(())).rotate()
