"""The migration command line, run in-process against a real, empty PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg2
import pytest

from config.settings import PROJECT_ROOT
from database.migrate import main
from database.migration_files import discover_migrations
from database.migration_runner import MIGRATIONS_DIRECTORY
from testing.databases import with_database_name

# The real migrations, oldest first: the expected output follows them as migrations are added.
MIGRATIONS = [migration.name for migration in discover_migrations(MIGRATIONS_DIRECTORY)]


def counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def lines(prefix: str, names: list[str]) -> str:
    return "".join(f"{prefix}{name}\n" for name in names)


@pytest.fixture
def database_url(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL pointing at a fresh database, so the command never touches another one."""
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    return empty_database_url


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def record_unknown_migration(dsn: str) -> None:
    connection = psycopg2.connect(dsn)
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO schema_migrations (version, name, checksum) "
            "VALUES (999, '999_from_the_future', 'abc')"
        )
    connection.close()


@pytest.mark.parametrize("argv", [[], ["up"]])
def test_up_applies_then_reports_nothing_to_do(
    database_url: str, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert run(argv, capsys) == (0, lines("applied ", MIGRATIONS), "")
    assert run(argv, capsys) == (
        0,
        f"nothing to apply: schema is current ({counted(len(MIGRATIONS), 'migration')})\n",
        "",
    )


def test_status_before_and_after_up(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["status"], capsys) == (
        0,
        lines("pending  ", MIGRATIONS)
        + f"Database schema is not current: {counted(len(MIGRATIONS), 'pending migration')} "
        f"({', '.join(MIGRATIONS)}). Run `pipenv run migrate`.\n",
        "",
    )
    run(["up"], capsys)
    assert run(["status"], capsys) == (
        0,
        lines("applied  ", MIGRATIONS)
        + f"Database schema is current ({counted(len(MIGRATIONS), 'migration')} applied).\n",
        "",
    )


def test_status_marks_missing_migrations(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["up"], capsys)
    record_unknown_migration(database_url)

    code, out, err = run(["status"], capsys)

    assert (code, err) == (0, "")
    assert out.splitlines()[: len(MIGRATIONS) + 1] == [
        *(f"applied  {name}" for name in MIGRATIONS),
        "MISSING  999_from_the_future",
    ]


def test_down_reverts_and_then_has_nothing_to_revert(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["up"], capsys)

    assert run(["down"], capsys) == (0, f"reverted {MIGRATIONS[-1]}\n", "")
    rest = list(reversed(MIGRATIONS[:-1]))
    if rest:
        assert run(["down", str(len(MIGRATIONS))], capsys) == (0, lines("reverted ", rest), "")
    assert run(["down", "3"], capsys) == (
        0,
        "nothing to revert: no migrations are applied\n",
        "",
    )


@pytest.mark.parametrize("steps", ["0", "-1", "two"])
def test_down_needs_a_positive_step_count(
    database_url: str, capsys: pytest.CaptureFixture[str], steps: str
) -> None:
    code, out, err = run(["down", steps], capsys)

    assert (code, out) == (2, "")
    assert f"must be a whole number of at least 1 (got '{steps}')" in err


def test_unknown_command_is_a_usage_error(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["sideways"], capsys)

    assert (code, out) == (2, "")
    assert "invalid choice: 'sideways'" in err


def test_refused_migration_exits_1_with_the_reason(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["up"], capsys)
    record_unknown_migration(database_url)

    code, out, err = run(["up"], capsys)

    assert (code, out) == (1, "")
    assert err.startswith("refusing to migrate, nothing was done: 999_from_the_future applied")


def test_a_missing_database_is_named_in_one_line_and_exits_1(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    absent = with_database_name(empty_database_url, "config_service_no_such_database")
    monkeypatch.setenv("DATABASE_URL", absent)

    code, out, err = run(["status"], capsys)

    assert (code, out) == (1, "")
    assert err.startswith("database config_service_no_such_database does not exist (")
    assert err.endswith("); create it, or point DATABASE_URL at one that does\n")
    assert err.count("\n") == 1


def test_invalid_setting_exits_2_and_names_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_POOL_MIN_SIZE", "-1")

    code, out, err = run(["up"], capsys)

    assert (code, out) == (2, "")
    assert err.startswith("Invalid settings:\n  DATABASE_POOL_MIN_SIZE: ")
    assert err.endswith(" (got '-1')\n")


def test_runs_as_a_module(database_url: str) -> None:
    """What `pipenv run migrate` runs: the module entry point and its exit code."""
    environment = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "database.migrate"]

    first = subprocess.run(  # noqa: S603 -- a fixed command line
        command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, check=False
    )
    failing = subprocess.run(  # noqa: S603 -- a fixed command line
        [*command, "down", "0"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (first.returncode, first.stdout) == (0, lines("applied ", MIGRATIONS))
    assert failing.returncode == 2
