"""Secrets for tests: fixed keyrings (so that what one server sealed another can open, or with
another keyring cannot), the forms a leaked secret could take, and a history of sealed secrets.
Never used outside tests."""

from __future__ import annotations

import base64
import json
import secrets

from config.secrets_keys import parse_keyring
from database.pool import Database
from models.application import ApplicationCreate
from models.configuration import ConfigurationCreate, ConfigurationUpdate
from repositories.unit_of_work import unit_of_work_factory
from services.application_service import ApplicationService
from services.configuration_service import ConfigurationService
from services.secret_values.cipher import SecretCipher
from testing.actors import TEST_ACTOR as TESTS

OLD_KEY = base64.b64encode(bytes(range(32))).decode()
NEW_KEY = base64.b64encode(bytes(range(100, 132))).decode()

# Test servers seal with "t1" unless a test says otherwise.
TEST_SECRETS_KEYS = f"t1:{OLD_KEY}"
ROTATED_SECRETS_KEYS = f"t2:{NEW_KEY},t1:{OLD_KEY}"
NEW_ONLY_SECRETS_KEYS = f"t2:{NEW_KEY}"


MIN_BASE64_BYTES = 6  # 8 characters of base64: shorter ones would match by chance


def secret_forms(secret: str) -> list[str]:
    """The ways `secret` could show up in stored or printed text: itself, JSON-escaped (ASCII
    only or not) and base64 (standard and URL-safe) at each of the three alignments it can take
    inside longer base64 text: only whole 3-byte groups of the secret, whose characters do not
    depend on what surrounds it."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    raw = secret.encode()
    for skip in range(3):
        groups = raw[skip:]
        groups = groups[: len(groups) // 3 * 3]
        if len(groups) >= MIN_BASE64_BYTES:
            forms.add(base64.b64encode(groups).decode())
            forms.add(base64.urlsafe_b64encode(groups).decode())
    return sorted(forms)


def write_secret_history(database: Database, count: int, *, revisions: int = 3) -> list[str]:
    """`count` configurations of a new application, each with a secret password sealed under
    the test key, and `revisions` revisions (revision r holds `pw-<number>-<r>`)."""
    application = ApplicationService(unit_of_work_factory(database), actor=TESTS).create(
        data=ApplicationCreate(name=f"secrets-{secrets.token_hex(6)}")
    )
    service = ConfigurationService(
        unit_of_work_factory(database),
        max_json_depth=32,
        actor=TESTS,
        cipher=SecretCipher(parse_keyring(TEST_SECRETS_KEYS).keys),
    )
    made = []
    for number in range(count):
        created = service.create(
            data=ConfigurationCreate(
                application_id=application.value.id,
                name=f"c{number}",
                config={"password": f"pw-{number}-1", "counter": 0},
                secrets=["/password"],
            )
        ).value
        for revision in range(2, revisions + 1):
            service.update(
                configuration_id=created.id,
                changes=ConfigurationUpdate(config={"password": f"pw-{number}-{revision}"}),
            )
        made.append(created.id)
    return made
