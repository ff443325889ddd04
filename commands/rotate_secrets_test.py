"""`pipenv run rotate-secrets`, as a user runs it, and online: against a live server taking
writes the whole time."""

from __future__ import annotations

import json
import os
import subprocess  # runs the command as a user does  # nosec B404
import sys
import threading
from typing import Any

import httpx
import psycopg2
import pytest

from commands.rotate_secrets import rotate_secrets
from config.settings import PROJECT_ROOT
from conftest import LiveServerFactory, make_settings
from database.migration_runner import MigrationRunner
from database.pool import Database
from models.api_key import Role
from testing.api_keys import bearer, create_api_key
from testing.secret_keys import (
    NEW_ONLY_SECRETS_KEYS,
    ROTATED_SECRETS_KEYS,
    write_secret_history,
)

MERGE_PATCH = {"content-type": "application/merge-patch+json"}


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database of the test's own: rotation re-encrypts everything in it."""
    MigrationRunner(empty_database_url).up()
    return empty_database_url


def write_secrets(database_url: str, count: int, *, revisions: int = 2) -> list[str]:
    database = Database(dsn=database_url, min_size=0, max_size=2, wait_seconds=5)
    try:
        return write_secret_history(database, count, revisions=revisions)
    finally:
        database.close()


def key_ids(database_url: str) -> set[str]:
    database = Database(dsn=database_url, min_size=0, max_size=1, wait_seconds=5)
    try:
        with database.transaction() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT config FROM configurations WHERE cardinality(secrets) > 0 UNION ALL "
                "SELECT config FROM configuration_revisions WHERE cardinality(secrets) > 0"
            )
            return {row[0]["password"].split(":")[2] for row in cursor.fetchall()}
    finally:
        database.close()


def run_command(
    database_url: str,
    secrets_keys: str | None,
    *arguments: str,
    environment: dict[str, str] | None = None,
) -> Any:
    environment = {**os.environ, "DATABASE_URL": database_url, **(environment or {})}
    environment.pop("SECRETS_KEYS", None)
    if secrets_keys is not None:
        environment["SECRETS_KEYS"] = secrets_keys
    return subprocess.run(  # noqa: S603  # nosec B603
        [sys.executable, "-m", "commands.rotate_secrets", *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_it_re_encrypts_everything_and_says_what_it_did(database_url: str) -> None:
    write_secrets(database_url, 3)

    first = run_command(database_url, ROTATED_SECRETS_KEYS, "--batch-size", "2")
    again = run_command(database_url, ROTATED_SECRETS_KEYS)

    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout.splitlines() == [
        "re-encrypting under the key 't2' (SECRETS_KEYS lists t2, t1)",
        "re-encrypted 9 values: in 3 current configurations and 6 revisions",
        "a pass found nothing left under another key",
        "done: every stored secret is under the key 't2'. Keys no longer needed: t1 (remove "
        "them from SECRETS_KEYS on every instance)",
    ]
    assert again.returncode == 0
    assert again.stdout.splitlines()[1] == "a pass found nothing left under another key"
    assert key_ids(database_url) == {"t2"}


def test_a_missing_key_leaves_it_not_done(database_url: str) -> None:
    [made] = write_secrets(database_url, 1, revisions=1)

    printed = run_command(database_url, NEW_ONLY_SECRETS_KEYS)

    assert printed.returncode == 1
    assert printed.stdout.splitlines()[-3:] == [
        "not done: 2 stored configs could not be re-encrypted (keep every key listed until "
        "they can):",
        f"  configuration {made} revision 1 (current row): a secret of configuration {made} "
        "is encrypted under the key 't1', which SECRETS_KEYS does not list; add that key back "
        "to SECRETS_KEYS (after the key that encrypts) to read or change it",
        f"  configuration {made} revision 1 (kept revision): a secret of configuration {made} "
        "is encrypted under the key 't1', which SECRETS_KEYS does not list; add that key back "
        "to SECRETS_KEYS (after the key that encrypts) to read or change it",
    ]
    assert key_ids(database_url) == {"t1"}


@pytest.mark.parametrize(
    ("secrets_keys", "arguments", "status", "message"),
    [
        (None, (), 1, "rotate-secrets: SECRETS_KEYS is unset: there is no key to re-encrypt under"),
        (ROTATED_SECRETS_KEYS, ("--batch-size", "0"), 2, "--batch-size must be 1 to 10000"),
        ("t1:c2hvcnQ", (), 2, "SECRETS_KEYS: entry 1 (key id 't1'): the key must be base64 of"),
    ],
)
def test_what_stops_it_is_said(
    database_url: str,
    secrets_keys: str | None,
    arguments: tuple[str, ...],
    status: int,
    message: str,
) -> None:
    printed = run_command(database_url, secrets_keys, *arguments)

    assert (printed.returncode, printed.stdout) == (status, "")
    assert message in printed.stderr


def test_a_database_failure_mid_run_is_said_in_one_line_and_loses_nothing(
    database_url: str,
) -> None:
    """Another session holds a row locked past DATABASE_LOCK_TIMEOUT_MS: the run stops with
    one line, and a run after the lock is gone finishes the job."""
    [held] = write_secrets(database_url, 1)
    blocker = psycopg2.connect(database_url)
    try:
        with blocker.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM configurations WHERE id = %(id)s FOR UPDATE", {"id": held}
            )
        stopped = run_command(
            database_url, ROTATED_SECRETS_KEYS, environment={"DATABASE_LOCK_TIMEOUT_MS": "200"}
        )
    finally:
        blocker.rollback()
        blocker.close()
    finished = run_command(database_url, ROTATED_SECRETS_KEYS)

    assert stopped.returncode == 1
    assert "Traceback" not in stopped.stderr
    [line] = stopped.stderr.splitlines()
    assert line.startswith("rotate-secrets: stopped by the database (")
    assert line.endswith(
        "nothing is lost: what was re-encrypted stays so, and running it again carries on"
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert key_ids(database_url) == {"t2"}


class Writers:
    """Threads that keep writing (merge patches, some with If-Match) to the configurations,
    remembering every write acknowledged, until stopped."""

    def __init__(self, url: str, key: str, configurations: list[str]) -> None:
        self.acknowledged: dict[str, list[tuple[int, int, str]]] = {c: [] for c in configurations}
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._write, args=(url, key, configurations[index::3], index))
            for index in range(3)
        ]

    def __enter__(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def writes(self) -> int:
        return sum(len(done) for done in self.acknowledged.values())

    def _write(self, url: str, key: str, mine: list[str], index: int) -> None:
        with httpx.Client(base_url=url, headers=bearer(key), timeout=30) as http:
            counter = 0
            while not self._stop.is_set():
                for configuration_id in mine:
                    counter += 1
                    password = f"written-{index}-{counter}"
                    headers = dict(MERGE_PATCH)
                    if counter % 2:  # half of them compare-and-set on what they read
                        headers["if-match"] = http.get(
                            f"/api/v1/configurations/{configuration_id}"
                        ).headers["etag"]
                    config: dict[str, object] = {"counter": counter}
                    if counter % 3 == 0:
                        config["password"] = password
                    response = http.patch(
                        f"/api/v1/configurations/{configuration_id}",
                        content=json.dumps({"config": config}),
                        headers=headers,
                    )
                    if response.status_code != 200:
                        self.failures.append(f"{response.status_code} {response.text}")
                        continue
                    body = response.json()
                    secret = password if counter % 3 == 0 else ""
                    self.acknowledged[configuration_id].append((body["revision"], counter, secret))


def test_rotation_online_while_writes_go_on(
    database_url: str, live_server_factory: LiveServerFactory
) -> None:
    made = write_secrets(database_url, 24, revisions=3)
    settings = make_settings(database_url, secrets_keys=ROTATED_SECRETS_KEYS)
    with live_server_factory(settings) as server:
        assert server.admin_key is not None
        with Writers(server.url, server.admin_key, made) as writers:
            while writers.writes() < 20:  # writes are under way before it starts
                threading.Event().wait(0.01)
            report = rotate_secrets(settings, batch_size=5, say=False)
            written_during = writers.writes()
            while writers.writes() < written_during + 20:  # and go on after it
                threading.Event().wait(0.01)

    assert writers.failures == []
    assert report.complete is True
    assert key_ids(database_url) == {"t2"}
    # The old key can go: a server with the new key alone reads every revision, and each
    # acknowledged write is there as it was acknowledged.
    new_only = make_settings(database_url, secrets_keys=NEW_ONLY_SECRETS_KEYS)
    revealer = create_api_key(new_only, role=Role.READ, name="check", reveal_secrets=True)
    with (
        live_server_factory(new_only) as server,
        httpx.Client(base_url=server.url, headers=bearer(revealer.key), timeout=30) as http,
    ):
        for configuration_id, done in writers.acknowledged.items():
            url = f"/api/v1/configurations/{configuration_id}/revisions"
            revisions = {
                item["revision"]: item["config"]
                for page in (http.get(url, params={"limit": 100}).json(),)
                for item in page
            }
            assert sorted(revisions)[:3] == [1, 2, 3]
            assert revisions[1]["password"] == f"pw-{made.index(configuration_id)}-1"
            for revision, counter, secret in done:
                assert revisions[revision]["counter"] == counter
                if secret:
                    assert revisions[revision]["password"] == secret
