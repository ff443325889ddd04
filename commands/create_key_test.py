"""`pipenv run create-key`: the first key, on a database that has nothing else yet."""

from __future__ import annotations

import os
import subprocess  # runs the command as a user does  # nosec B404
import sys

import httpx
import pytest

from config.settings import PROJECT_ROOT
from conftest import make_settings
from database.migration_files import discover_migrations
from database.migration_runner import MIGRATIONS_DIRECTORY, MigrationRunner
from database.pool import Database
from main import print_development_key
from models.api_key import Role
from models.application import ApplicationCreate
from repositories.unit_of_work import unit_of_work_factory
from services.api_key_service import ApiKeyService
from services.application_service import ApplicationService
from testing.actors import TEST_ACTOR
from testing.live_server import run_live_server


def create_key(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own script)  # nosec B603
        [sys.executable, "-m", "commands.create_key", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_it_prints_a_first_admin_key_that_works(empty_database_url: str) -> None:
    MigrationRunner(empty_database_url).up()

    printed = create_key(empty_database_url, "--role", "admin", "--name", "ops team")

    assert printed.returncode == 0, printed.stderr
    said, key = printed.stdout.strip().splitlines()
    assert said.startswith("API key 'ops team' (id ")
    assert said.endswith(
        "), role admin, reaches every application, sees secrets masked, expires never. It is "
        "shown only now; store it:"
    )
    settings = make_settings(empty_database_url)
    with run_live_server(settings, admin_key=key, default_key=False) as server:
        made = httpx.post(
            f"{server.url}/api/v1/keys",
            json={"name": "next", "role": "read"},
            headers={"Authorization": f"Bearer {key}"},
        )
        audit = httpx.get(
            f"{server.url}/api/v1/audit",
            params={"action": "key.created"},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert made.status_code == 201
    assert [(r["key_name"], r["key_id"] is None) for r in audit.json()] == [
        ("ops team", False),
        ("create-key command", True),
    ]


def make_application(database_url: str, name: str) -> str:
    database = Database(dsn=database_url, min_size=0, max_size=1, wait_seconds=5)
    try:
        service = ApplicationService(unit_of_work_factory(database), actor=TEST_ACTOR)
        return service.create(data=ApplicationCreate(name=name)).value.id
    finally:
        database.close()


def test_a_scoped_key_with_an_expiry(empty_database_url: str) -> None:
    MigrationRunner(empty_database_url).up()
    application = make_application(empty_database_url, "dashboards")

    printed = create_key(
        empty_database_url,
        *("--role", "read", "--name", "dash", "--application", application),
        *("--expires-at", "2030-01-01T00:00:00Z"),
    )

    assert printed.returncode == 0, printed.stderr
    assert (
        f"role read, reaches {application}, sees secrets masked, expires 2030-01-01T00:00:00+00:00."
        in printed.stdout
    )


def test_a_key_that_reveals_secrets(empty_database_url: str) -> None:
    MigrationRunner(empty_database_url).up()

    printed = create_key(
        empty_database_url, "--role", "read", "--name", "deployer", "--reveal-secrets"
    )

    assert printed.returncode == 0, printed.stderr
    assert "role read, reaches every application, reveals secret values, expires never" in (
        printed.stdout
    )
    key_id = printed.stdout.split("(id ", 1)[1].split(")", 1)[0]
    database = Database(dsn=empty_database_url, min_size=0, max_size=1, wait_seconds=5)
    try:
        with unit_of_work_factory(database)() as uow:
            stored = uow.api_keys.get(key_id=key_id)
    finally:
        database.close()
    assert stored is not None
    assert (stored.key.name, stored.key.reveal_secrets) == ("deployer", True)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ("--role", "admin", "--name", "x", "--application", "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"),
            "applications must be null for an admin key",
        ),
        (("--role", "read", "--name", "x", "--expires-at", "soon"), "Invalid isoformat string"),
    ],
)
def test_bad_arguments_are_named(
    empty_database_url: str, arguments: tuple[str, ...], message: str
) -> None:
    printed = create_key(empty_database_url, *arguments)

    assert printed.returncode == 2
    assert message in printed.stderr


def test_a_key_limited_to_an_application_that_does_not_exist_is_refused(
    empty_database_url: str,
) -> None:
    MigrationRunner(empty_database_url).up()
    application = make_application(empty_database_url, "billing")
    unknown = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"

    printed = create_key(
        empty_database_url,
        *("--role", "read", "--name", "x"),
        *("--application", application, "--application", unknown),
    )

    assert (printed.returncode, printed.stdout) == (2, "")
    assert printed.stderr == (f"create-key: applications.1: application {unknown} does not exist\n")


def test_on_a_database_without_the_schema_it_says_to_migrate(empty_database_url: str) -> None:
    printed = create_key(empty_database_url, "--role", "admin", "--name", "x")

    assert printed.returncode == 1
    assert printed.stdout == ""
    pending = len(discover_migrations(MIGRATIONS_DIRECTORY))
    assert printed.stderr.startswith(
        f"create-key: Database schema is not current: {pending} pending"
    )
    assert printed.stderr.strip().endswith("Run `pipenv run migrate`.")


def test_dev_prints_a_ready_admin_key(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(database_url)

    print_development_key(settings)

    printed = capsys.readouterr().out
    assert (
        "Development admin key (new at each start of `dev`; paste it into Authorize at " in printed
    )
    key = printed.split("export TOKEN=", 1)[1].split()[0]
    database = Database.from_settings(settings, database_url)
    try:
        service = ApiKeyService(unit_of_work_factory(database), pepper=settings.pepper)
        found = service.authenticate(key)
    finally:
        database.close()
    assert found is not None
    assert (found.name, found.role, found.applications) == ("dev", Role.ADMIN, None)
