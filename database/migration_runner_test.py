"""The migration runner against a real PostgreSQL: one fresh database per test."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from database.migration_files import MigrationError, MigrationStatus, discover_migrations
from database.migration_runner import ADVISORY_LOCK_KEY, MIGRATIONS_DIRECTORY, MigrationRunner

# The real migrations, oldest first: the expectations follow them as migrations are added.
REAL_MIGRATIONS = discover_migrations(MIGRATIONS_DIRECTORY)
REAL_NAMES = [migration.name for migration in REAL_MIGRATIONS]

CREATE_STEPS = "CREATE TABLE steps (position serial PRIMARY KEY, note text NOT NULL);"


def insert_step(note: str) -> str:
    return f"INSERT INTO steps (note) VALUES ('{note}');"  # noqa: S608 -- test migration text


def write(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.write_text(content, encoding="utf-8")
    return path


def fetch(dsn: str, query: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute(query, parameters)
            return cursor.fetchall()
    finally:
        connection.close()


def history(dsn: str) -> list[tuple[int, str, str]]:
    rows = fetch(dsn, "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    return [(version, name, checksum) for version, name, checksum in rows]


def versions(dsn: str) -> list[int]:
    return [version for version, _, _ in history(dsn)]


def steps(dsn: str) -> list[str]:
    return [note for (note,) in fetch(dsn, "SELECT note FROM steps ORDER BY position")]


def table_exists(dsn: str, table: str) -> bool:
    [(exists,)] = fetch(dsn, "SELECT to_regclass(%(table)s) IS NOT NULL", {"table": table})
    return bool(exists)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_up_applies_in_version_order_and_records_checksums(
    empty_database_url: str, tmp_path: Path
) -> None:
    # "0010" sorts before "002" as text: the order must come from the number.
    third = write(tmp_path, "0010_third.sql", insert_step("third"))
    second = write(tmp_path, "002_second.sql", insert_step("second"))
    first = write(tmp_path, "001_first.sql", CREATE_STEPS)
    write(tmp_path, "README.md", "not a migration, ignored")

    applied = MigrationRunner(empty_database_url, tmp_path).up()

    assert applied == ["001_first", "002_second", "0010_third"]
    assert history(empty_database_url) == [
        (1, "001_first", sha256(first)),
        (2, "002_second", sha256(second)),
        (10, "0010_third", sha256(third)),
    ]
    assert steps(empty_database_url) == ["second", "third"]


def test_second_up_applies_nothing(empty_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_first.sql", CREATE_STEPS)
    write(tmp_path, "002_second.sql", insert_step("second"))
    runner = MigrationRunner(empty_database_url, tmp_path)
    runner.up()
    before = fetch(empty_database_url, "SELECT version, applied_at FROM schema_migrations")

    assert runner.up() == []
    assert fetch(empty_database_url, "SELECT version, applied_at FROM schema_migrations") == before
    assert steps(empty_database_url) == ["second"]


def test_status_lists_each_state(empty_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_a.sql", CREATE_STEPS)
    changed = write(tmp_path, "002_b.sql", insert_step("b"))
    gone = write(tmp_path, "003_c.sql", insert_step("c"))
    runner = MigrationRunner(empty_database_url, tmp_path)
    runner.up()
    changed.write_text(insert_step("b, edited"), encoding="utf-8")
    gone.unlink()
    write(tmp_path, "004_d.sql", insert_step("d"))

    status = runner.status()

    assert status == MigrationStatus(
        applied=["001_a"], pending=["004_d"], changed=["002_b"], missing=["003_c"]
    )
    assert status.is_current is False
    assert status.describe() == (
        "Database schema is not current: 1 pending migration (004_d); 1 changed migration "
        "(002_b); 1 missing migration (003_c). Applied migrations must not be edited: restore "
        "each changed file to what was applied and put the change in a new migration. Each "
        "missing migration was applied to this database but has no file here: restore the file "
        "(or run code at least as new as the database). Then run `pipenv run migrate`."
    )


@pytest.mark.parametrize(
    ("status", "description"),
    [
        (
            MigrationStatus(applied=["001_initial"], pending=[], changed=[], missing=[]),
            "Database schema is current (1 migration applied).",
        ),
        (
            MigrationStatus(applied=[], pending=[], changed=[], missing=[]),
            "Database schema is current (0 migrations applied).",
        ),
        (
            MigrationStatus(applied=["001_initial"], pending=["002_add_x"], changed=[], missing=[]),
            "Database schema is not current: 1 pending migration (002_add_x). "
            "Run `pipenv run migrate`.",
        ),
        (
            MigrationStatus(applied=[], pending=["001_a", "002_b"], changed=[], missing=[]),
            "Database schema is not current: 2 pending migrations (001_a, 002_b). "
            "Run `pipenv run migrate`.",
        ),
    ],
)
def test_describe(status: MigrationStatus, description: str) -> None:
    assert status.describe() == description
    assert status.is_current is (not status.pending)


def test_status_without_history_table_reports_all_pending_and_creates_nothing(
    empty_database_url: str,
) -> None:
    status = MigrationRunner(empty_database_url).status()

    count = len(REAL_NAMES)
    assert status == MigrationStatus(applied=[], pending=REAL_NAMES, changed=[], missing=[])
    assert status.describe() == (
        f"Database schema is not current: {count} pending migration{'' if count == 1 else 's'} "
        f"({', '.join(REAL_NAMES)}). Run `pipenv run migrate`."
    )
    assert table_exists(empty_database_url, "schema_migrations") is False
    assert table_exists(empty_database_url, "applications") is False


def test_changed_file_refuses_the_whole_run(empty_database_url: str, tmp_path: Path) -> None:
    first = write(tmp_path, "001_a.sql", CREATE_STEPS)
    runner = MigrationRunner(empty_database_url, tmp_path)
    runner.up()
    recorded = history(empty_database_url)
    first.write_text(CREATE_STEPS + "\n-- an innocent-looking edit\n", encoding="utf-8")
    write(tmp_path, "002_b.sql", insert_step("b"))

    with pytest.raises(MigrationError, match=r"001_a\.sql changed after being applied") as error:
        runner.up()

    assert "write a new migration" in str(error.value)
    assert history(empty_database_url) == recorded
    assert steps(empty_database_url) == []


def test_missing_file_refuses_the_whole_run(empty_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_a.sql", CREATE_STEPS)
    write(tmp_path, "002_b.sql", insert_step("b"))
    runner = MigrationRunner(empty_database_url, tmp_path)
    runner.up()
    (tmp_path / "002_b.sql").unlink()
    write(tmp_path, "003_c.sql", insert_step("c"))

    with pytest.raises(
        MigrationError, match=r"002_b applied to this database but not found"
    ) as error:
        runner.up()

    assert str(error.value).startswith("refusing to migrate, nothing was done: ")
    assert versions(empty_database_url) == [1, 2]
    assert steps(empty_database_url) == ["b"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["01_short.sql"], "01_short.sql is not a migration file name"),
        (["001-dash.sql"], "001-dash.sql is not a migration file name"),
        (["001_Upper.sql"], "001_Upper.sql is not a migration file name"),
        (["001_shout.SQL"], "001_shout.SQL is not a migration file name"),
        (["001_x.up.sql"], "001_x.up.sql is not a migration file name"),
        (["initial.sql"], "initial.sql is not a migration file name"),
        (["99999999999_big.sql"], "99999999999_big.sql: version 99999999999 exceeds 2147483647"),
        (["001_a.sql", "0001_b.sql"], "duplicate migration version 1: 0001_b.sql and 001_a.sql"),
        (["001_a.sql", "002_b.down.sql"], "002_b.down.sql has no up migration 002_b.sql"),
        (["001_a.sql", "001_b.down.sql"], "001_b.down.sql has no up migration 001_b.sql"),
    ],
)
def test_bad_files_are_rejected_by_name(
    empty_database_url: str, tmp_path: Path, files: list[str], message: str
) -> None:
    for name in files:
        write(tmp_path, name, "SELECT 1;")
    runner = MigrationRunner(empty_database_url, tmp_path)

    for operation in (runner.up, runner.status, runner.down):
        with pytest.raises(MigrationError) as error:
            operation()
        assert str(error.value).startswith(message)
    assert table_exists(empty_database_url, "schema_migrations") is False


def test_missing_directory_is_rejected(empty_database_url: str, tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="does not exist") as error:
        MigrationRunner(empty_database_url, tmp_path / "absent").up()
    assert str(tmp_path / "absent") in str(error.value)


def test_file_that_is_not_utf8_is_rejected(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "001_latin1.sql").write_bytes(b"SELECT 'caf\xe9';")

    with pytest.raises(MigrationError, match=r"^001_latin1\.sql is not valid UTF-8"):
        MigrationRunner(empty_database_url, tmp_path).up()
    assert versions(empty_database_url) == []


def test_failing_migration_rolls_back_only_itself(empty_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_a.sql", CREATE_STEPS)
    write(
        tmp_path, "002_broken.sql", "CREATE TABLE half_done (id int);\nSELECT no_such_function();"
    )
    write(tmp_path, "003_c.sql", insert_step("c"))
    runner = MigrationRunner(empty_database_url, tmp_path)

    with pytest.raises(
        MigrationError, match=r"^002_broken\.sql failed and was rolled back: "
    ) as error:
        runner.up()

    assert "no_such_function" in str(error.value)
    assert versions(empty_database_url) == [1]
    assert table_exists(empty_database_url, "steps") is True
    assert table_exists(empty_database_url, "half_done") is False
    assert steps(empty_database_url) == []
    assert runner.status().pending == ["002_broken", "003_c"]


def test_concurrent_runners_apply_each_file_once(empty_database_url: str, tmp_path: Path) -> None:
    connection = psycopg2.connect(empty_database_url)
    with connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE side_effects (note text NOT NULL)")  # no unique key
    connection.close()
    # The sleeps keep the first runner busy long enough for the second to collide with it.
    for version in ("001", "002"):
        write(
            tmp_path,
            f"{version}_effect.sql",
            f"SELECT pg_sleep(0.2);\nINSERT INTO side_effects (note) VALUES ('{version}');",
        )
    start = threading.Barrier(2)

    def run() -> list[str]:
        runner = MigrationRunner(empty_database_url, tmp_path)
        start.wait(timeout=10)
        return runner.up()

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run), pool.submit(run)]
        results = sorted(future.result(timeout=30) for future in futures)

    assert results == [[], ["001_effect", "002_effect"]]
    assert versions(empty_database_url) == [1, 2]
    assert fetch(
        empty_database_url, "SELECT note, count(*) FROM side_effects GROUP BY note ORDER BY note"
    ) == [("001", 1), ("002", 1)]


def test_up_waits_for_the_lock_before_touching_the_database_and_status_does_not(
    empty_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "001_a.sql", CREATE_STEPS)
    holder = psycopg2.connect(empty_database_url)
    holder.autocommit = True
    results: list[list[str]] = []
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%(key)s)", {"key": ADVISORY_LOCK_KEY})
        thread = threading.Thread(
            target=lambda: results.append(MigrationRunner(empty_database_url, tmp_path).up())
        )
        thread.start()
        time.sleep(0.5)

        assert thread.is_alive() is True
        assert table_exists(empty_database_url, "schema_migrations") is False
        assert MigrationRunner(empty_database_url, tmp_path).status().pending == ["001_a"]

        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%(key)s)", {"key": ADVISORY_LOCK_KEY})
        thread.join(timeout=10)
    finally:
        holder.close()

    assert thread.is_alive() is False
    assert results == [["001_a"]]
    assert versions(empty_database_url) == [1]


def write_reversible(directory: Path) -> None:
    for version, table in (("001", "a"), ("002", "b"), ("003", "c")):
        write(directory, f"{version}_{table}.sql", f"CREATE TABLE table_{table} (id int);")
        write(directory, f"{version}_{table}.down.sql", f"DROP TABLE table_{table};")


def test_down_reverts_the_newest_migration(empty_database_url: str, tmp_path: Path) -> None:
    write_reversible(tmp_path)
    runner = MigrationRunner(empty_database_url, tmp_path)
    runner.up()

    assert runner.down() == ["003_c"]
    assert versions(empty_database_url) == [1, 2]
    assert table_exists(empty_database_url, "table_c") is False
    assert table_exists(empty_database_url, "table_b") is True
    assert runner.status().pending == ["003_c"]


@pytest.mark.parametrize(
    ("steps_to_revert", "reverted", "remaining"),
    [
        (2, ["003_c", "002_b"], [1]),
        (3, ["003_c", "002_b", "001_a"], []),
        (10, ["003_c", "002_b", "001_a"], []),
    ],
)
def test_down_reverts_n_migrations_newest_first(
    empty_database_url: str,
    tmp_path: Path,
    steps_to_revert: int,
    reverted: list[str],
    remaining: list[int],
) -> None:
    write_reversible(tmp_path)
    runner = MigrationRunner(empty_database_url, tmp_path)
    runner.up()

    assert runner.down(steps_to_revert) == reverted
    assert versions(empty_database_url) == remaining
    assert [table_exists(empty_database_url, f"table_{t}") for t in "abc"] == [
        len(remaining) >= 1,
        False,
        False,
    ]


def test_down_with_nothing_applied_reverts_nothing(empty_database_url: str, tmp_path: Path) -> None:
    write_reversible(tmp_path)

    assert MigrationRunner(empty_database_url, tmp_path).down(3) == []


@pytest.mark.parametrize("steps_to_revert", [0, -1])
def test_down_needs_at_least_one_step(
    empty_database_url: str, tmp_path: Path, steps_to_revert: int
) -> None:
    with pytest.raises(
        MigrationError, match=rf"^steps must be at least 1 \(got {steps_to_revert}\)$"
    ):
        MigrationRunner(empty_database_url, tmp_path).down(steps_to_revert)


def test_down_without_a_down_file_reverts_nothing(empty_database_url: str, tmp_path: Path) -> None:
    write_reversible(tmp_path)
    (tmp_path / "002_b.down.sql").unlink()
    runner = MigrationRunner(empty_database_url, tmp_path)
    runner.up()

    with pytest.raises(
        MigrationError,
        match=r"^cannot revert 002_b: no down file \(002_b\.down\.sql\); nothing was reverted$",
    ):
        runner.down(2)

    assert versions(empty_database_url) == [1, 2, 3]
    assert table_exists(empty_database_url, "table_c") is True
    assert runner.down(1) == ["003_c"]


def test_real_migrations_up_down_up(empty_database_url: str) -> None:
    runner = MigrationRunner(empty_database_url)
    tables = ("applications", "configurations", "configuration_revisions")

    assert runner.up() == REAL_NAMES
    assert [table_exists(empty_database_url, table) for table in tables] == [True, True, True]
    assert history(empty_database_url) == [
        (migration.version, migration.name, sha256(migration.up_path))
        for migration in REAL_MIGRATIONS
    ]
    assert fetch(
        empty_database_url,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND collation_name = 'C' ORDER BY table_name, column_name",
    ) == [
        ("api_keys", "applications"),
        ("api_keys", "created_by"),
        ("api_keys", "id"),
        ("api_keys", "prefix"),
        ("applications", "id"),
        ("audit_log", "application_id"),
        ("audit_log", "binding_ids"),
        ("audit_log", "configuration_id"),
        ("audit_log", "key_id"),
        ("audit_log", "target_id"),
        ("change_log", "application_id"),
        ("change_log", "configuration_id"),
        ("configuration_revisions", "configuration_id"),
        ("configurations", "application_id"),
        ("configurations", "id"),
        ("identity_bindings", "applications"),
        ("identity_bindings", "id"),
    ]
    assert runner.status().is_current is True

    assert runner.down(len(runner.status().applied)) == list(reversed(REAL_NAMES))
    assert [table_exists(empty_database_url, table) for table in tables] == [False, False, False]
    assert versions(empty_database_url) == []

    assert runner.up() == REAL_NAMES
    assert [table_exists(empty_database_url, table) for table in tables] == [True, True, True]
    assert runner.status() == MigrationStatus(
        applied=REAL_NAMES, pending=[], changed=[], missing=[]
    )
