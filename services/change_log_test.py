"""The change log against the real PostgreSQL: what each write records, exact resume under
concurrent writers, and expiry."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest

from conftest import make_settings
from database.migration_runner import MigrationRunner
from database.pool import Connection, Database
from models.application import ApplicationCreate, ApplicationUpdate
from models.audit import AuditAction
from models.change import Change, ChangeEntry, ChangeKind
from models.configuration import ConfigurationCreate, ConfigurationUpdate
from repositories.change_log_repository import ORDINAL_BITS, ChangeLogRepository
from repositories.configuration_repository import ConfigurationRepository
from repositories.unit_of_work import unit_of_work_factory
from services.application_service import ApplicationService
from services.configuration_records import update_record
from services.configuration_service import ConfigurationService
from services.delivery_service import DeliveryService, prune_change_log
from services.errors import ChangePositionExpired
from testing.actors import TEST_ACTOR
from testing.change_log import wait_until_final
from testing.databases import temporary_database


def unique_name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def changes_since(database: Database, position: int, application_id: str) -> list[Change]:
    return DeliveryService(unit_of_work_factory(database)).changes_after(
        position=position, limit=10_000, application_id=application_id
    )


@pytest.fixture
def services(database: Database) -> tuple[ApplicationService, ConfigurationService]:
    return ApplicationService(
        unit_of_work_factory(database), actor=TEST_ACTOR
    ), ConfigurationService(unit_of_work_factory(database), max_json_depth=32, actor=TEST_ACTOR)


def test_every_write_records_its_change_in_order(
    database: Database, services: tuple[ApplicationService, ConfigurationService]
) -> None:
    applications, configurations = services
    application = applications.create(data=ApplicationCreate(name=unique_name("app"))).value
    start = wait_until_final(database)

    first = configurations.create(
        data=ConfigurationCreate(application_id=application.id, name="first", config={"a": 1})
    )
    second = configurations.create(
        data=ConfigurationCreate(application_id=application.id, name="second", config={})
    )
    configurations.update(
        configuration_id=first.value.id,
        changes=ConfigurationUpdate(config={"a": 2}, name="renamed"),
    )
    configurations.update(
        configuration_id=first.value.id, changes=ConfigurationUpdate(config={"a": 2})
    )
    configurations.restore(configuration_id=first.value.id, revision=1)
    configurations.delete(configuration_id=second.value.id)
    applications.update(application_id=application.id, changes=ApplicationUpdate(comments="c"))
    applications.update(
        application_id=application.id, changes=ApplicationUpdate(name=unique_name("moved"))
    )
    applications.delete(application_id=application.id)

    head = wait_until_final(database)
    recorded = changes_since(database, start, application.id)
    assert [
        (change.kind, change.configuration_id, change.name, change.revision) for change in recorded
    ] == [
        (ChangeKind.CREATED, first.value.id, "first", 1),
        (ChangeKind.CREATED, second.value.id, "second", 1),
        (ChangeKind.UPDATED, first.value.id, "renamed", 2),
        # the unchanged update and the comments-only application update record nothing
        (ChangeKind.RESTORED, first.value.id, "renamed", 3),
        (ChangeKind.DELETED, second.value.id, "second", None),
        (ChangeKind.APPLICATION_RENAMED, None, None, None),
        (ChangeKind.DELETED, first.value.id, "renamed", None),
        (ChangeKind.APPLICATION_DELETED, None, None, None),
    ]
    assert {change.application_id for change in recorded} == {application.id}
    positions = [change.position for change in recorded]
    assert positions == sorted(set(positions))
    assert start < positions[0]
    assert positions[-1] <= head
    # The application's deletion is one transaction: its records share a transaction id and
    # count 1, 2 within it.
    deletion = positions[-2:]
    assert [position >> ORDINAL_BITS for position in deletion] == [deletion[0] >> ORDINAL_BITS] * 2
    assert [position % 2**ORDINAL_BITS for position in deletion] == [1, 2]


def test_a_failed_write_records_nothing(
    database: Database, services: tuple[ApplicationService, ConfigurationService]
) -> None:
    applications, configurations = services
    application = applications.create(data=ApplicationCreate(name=unique_name("app"))).value
    configurations.create(
        data=ConfigurationCreate(application_id=application.id, name="taken", config={})
    )
    start = wait_until_final(database)

    with pytest.raises(Exception, match="already has a configuration named 'taken'"):
        configurations.create(
            data=ConfigurationCreate(application_id=application.id, name="taken", config={})
        )

    wait_until_final(database)
    assert changes_since(database, start, application.id) == []


def test_concurrent_writers_and_a_reader_resuming_from_every_position_it_saw(
    database: Database, services: tuple[ApplicationService, ConfigurationService]
) -> None:
    """A reader that resumes after any position it saw gets every later change, none twice,
    even while 8 writers commit in whatever order."""
    applications, configurations = services
    application = applications.create(data=ApplicationCreate(name=unique_name("app"))).value
    targets = [
        configurations.create(
            data=ConfigurationCreate(application_id=application.id, name=f"c{n}", config={})
        ).value.id
        for n in range(4)
    ]
    start = wait_until_final(database)
    writers, writes_each = 8, 25
    done = threading.Event()
    failures: list[BaseException] = []

    def write(seed: int) -> None:
        chooser = random.Random(seed)  # noqa: S311 (test data)  # nosec B311
        try:
            for step in range(writes_each):
                configurations.update(
                    configuration_id=chooser.choice(targets),
                    changes=ConfigurationUpdate(config={"writer": seed, "step": step}),
                )
        except BaseException as error:  # asserted empty below, so any failure is reported
            failures.append(error)

    seen: list[Change] = []

    def read() -> None:
        reader = DeliveryService(unit_of_work_factory(database))
        position = start
        chooser = random.Random(7)  # noqa: S311  # nosec B311
        while True:
            finished = done.is_set()
            batch = reader.changes_after(position=position, limit=chooser.randint(1, 5))
            seen.extend(batch)
            if batch:
                position = batch[-1].position
            elif finished:
                return

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(writers)]
    reader_thread = threading.Thread(target=read)
    reader_thread.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_until_final(database)
    done.set()
    reader_thread.join()

    assert failures == []
    ours = [change for change in seen if change.application_id == application.id]
    assert len(ours) == writers * writes_each
    assert len({(change.configuration_id, change.revision) for change in ours}) == len(ours)
    positions = [change.position for change in seen]
    assert positions == sorted(set(positions))  # in order, once each
    # Resuming after any position seen gives exactly what came after it.
    everything = changes_since(database, start, application.id)
    for index, change in enumerate(everything):
        assert changes_since(database, change.position, application.id) == everything[index + 1 :]
    # Each configuration's revisions arrive in order.
    for target in targets:
        revisions = [change.revision or 0 for change in ours if change.configuration_id == target]
        assert revisions == list(range(2, 2 + len(revisions)))


@pytest.fixture
def own_database(server_url: str) -> Iterator[Database]:
    with temporary_database(server_url) as url:
        MigrationRunner(url).up()
        pool = Database.from_settings(make_settings(url), url)
        yield pool
        pool.close()


def test_pruning_drops_old_records_and_an_expired_position_is_refused(
    own_database: Database,
) -> None:
    applications = ApplicationService(unit_of_work_factory(own_database), actor=TEST_ACTOR)
    configurations = ConfigurationService(
        unit_of_work_factory(own_database), max_json_depth=32, actor=TEST_ACTOR
    )
    application = applications.create(data=ApplicationCreate(name="app")).value
    created = configurations.create(
        data=ConfigurationCreate(application_id=application.id, name="c", config={})
    )
    wait_until_final(own_database)
    delivery = DeliveryService(unit_of_work_factory(own_database))
    [first] = delivery.changes_after(position=0, limit=10)
    assert (first.kind, first.configuration_id) == (ChangeKind.CREATED, created.value.id)

    with own_database.transaction() as connection:
        assert prune_change_log(ChangeLogRepository(connection), retention=timedelta(hours=1)) == 0
        assert prune_change_log(ChangeLogRepository(connection), retention=timedelta(0)) == 1

    with pytest.raises(ChangePositionExpired) as expired:
        delivery.changes_after(position=first.position - 1, limit=10)
    head = expired.value.head
    assert head >= first.position
    assert str(expired.value) == (
        f"the change log no longer holds position {first.position - 1} (it holds the changes "
        f"after position {first.position} up to position {head}); read every configuration "
        f"again, then continue after position {head}"
    )
    with pytest.raises(ChangePositionExpired):
        delivery.changes_after(position=0, limit=10)
    assert delivery.changes_after(position=first.position, limit=10) == []  # the pruned one

    configurations.update(
        configuration_id=created.value.id, changes=ConfigurationUpdate(config={"x": 1})
    )
    head = wait_until_final(own_database)
    assert [
        change.revision for change in delivery.changes_after(position=first.position, limit=10)
    ] == [2]
    assert delivery.changes_after(position=head, limit=10) == []  # the head itself is fine
    with pytest.raises(ChangePositionExpired, match=f"no longer holds position {2**62}"):
        delivery.changes_after(position=2**62, limit=10)  # ahead of the log: also start over


def _append(connection: Connection, revision: int) -> int:
    entry = ChangeEntry(
        kind=ChangeKind.UPDATED, configuration_id="c", name="prod", revision=revision
    )
    return ChangeLogRepository(connection).append(application_id="a", entries=[entry])


def test_a_reader_between_writers_that_commit_out_of_order_skips_nothing(
    own_database: Database,
) -> None:
    """The older transaction commits last: its change is ordered first, so the newer one's,
    committed before, is not read until the older one has ended."""
    start = wait_until_final(own_database)
    delivery = DeliveryService(unit_of_work_factory(own_database))
    with ExitStack() as stack:
        older = stack.enter_context(own_database.transaction())
        older_position = _append(older, 1)
        with own_database.transaction() as newer:
            newer_position = _append(newer, 2)
        assert older_position < newer_position

        # The newer change has committed, but the older transaction still runs.
        assert delivery.changes_after(position=start, limit=10) == []
        with own_database.transaction() as connection:
            bounds = ChangeLogRepository(connection).bounds()
        assert (bounds.head < older_position, bounds.pending) == (True, True)
        seen_head = bounds.head
    # `older` commits as the stack closes.

    wait_until_final(own_database)
    resumed = delivery.changes_after(position=seen_head, limit=10)
    assert [(change.position, change.revision) for change in resumed] == [
        (older_position, 1),
        (newer_position, 2),
    ]
    assert delivery.changes_after(position=older_position, limit=10) == resumed[1:]
    with own_database.transaction() as connection:
        assert ChangeLogRepository(connection).bounds().pending is False


def test_an_aborted_writer_leaves_no_record_and_holds_nothing_back(
    own_database: Database,
) -> None:
    start = wait_until_final(own_database)
    delivery = DeliveryService(unit_of_work_factory(own_database))
    with own_database.connection() as aborted:
        _append(aborted, 1)
        aborted.rollback()
    with own_database.transaction() as connection:
        kept = _append(connection, 2)
    wait_until_final(own_database)
    assert [change.position for change in delivery.changes_after(position=start, limit=10)] == [
        kept
    ]


def test_a_transaction_appends_at_most_the_records_a_position_has_room_for(
    own_database: Database,
) -> None:
    with (
        own_database.transaction() as connection,
        pytest.raises(ValueError, match=r"^a transaction records 1 to 1048575 changes \(got 0\)$"),
    ):
        ChangeLogRepository(connection).append(application_id="a", entries=[])


def test_an_application_deletion_waits_without_an_id_for_its_configurations_writers(
    own_database: Database,
) -> None:
    """Its records must come after those of a write it waited for: it is given its transaction
    id only once that write has ended."""
    applications = ApplicationService(unit_of_work_factory(own_database), actor=TEST_ACTOR)
    configurations = ConfigurationService(
        unit_of_work_factory(own_database), max_json_depth=32, actor=TEST_ACTOR
    )
    application = applications.create(data=ApplicationCreate(name="app")).value
    created = configurations.create(
        data=ConfigurationCreate(application_id=application.id, name="c", config={})
    ).value
    start = wait_until_final(own_database)
    failures: list[BaseException] = []

    def delete() -> None:
        try:
            applications.delete(application_id=application.id)
        except BaseException as error:  # asserted empty below
            failures.append(error)

    deleter = threading.Thread(target=delete)
    with ExitStack() as stack, own_database.transaction() as writer:
        repository = ConfigurationRepository(writer)
        current = repository.get_for_write(configuration_id=created.id, lock=True)
        assert current is not None
        deleter.start()
        stack.callback(deleter.join)
        with own_database.connection() as observer, observer.cursor() as cursor:
            deadline = time.monotonic() + 10
            waiting: tuple[Any, ...] | None = None
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT backend_xid::text, wait_event FROM pg_stat_activity"
                    " WHERE wait_event = 'advisory' AND datname = current_database()"
                )
                waiting = cursor.fetchone()
                observer.commit()
                if waiting is not None:
                    break
                time.sleep(0.01)
        assert waiting == (None, "advisory")  # waiting, and given no transaction id yet
        written = repository.update_if_revision(
            configuration_id=created.id,
            expected_revision=1,
            name="c",
            comments=None,
            config={"v": 2},
            record=update_record(TEST_ACTOR, AuditAction.CONFIGURATION_UPDATED, current=current),
        )
        assert written is not None
    # The writer has committed; the deleter finishes (joined as the stack closes).

    assert failures == []
    wait_until_final(own_database)
    recorded = changes_since(own_database, start, application.id)
    assert [(change.kind, change.revision) for change in recorded] == [
        (ChangeKind.UPDATED, 2),
        (ChangeKind.DELETED, None),
        (ChangeKind.APPLICATION_DELETED, None),
    ]


def test_what_had_committed_when_a_live_stream_opened(own_database: Database) -> None:
    """A stream that starts live skips the changes that had committed when it opened (the
    feed may publish them late) and keeps those of transactions still running then."""
    delivery = DeliveryService(unit_of_work_factory(own_database))
    with own_database.transaction() as connection:
        before = _append(connection, 1)
    with own_database.connection() as running:
        during = _append(running, 2)
        opened = delivery.committed_now()
        running.commit()
    with own_database.transaction() as connection:
        after = _append(connection, 3)

    assert [opened.holds(position) for position in (before, during, after)] == [
        True,
        False,
        False,
    ]


def test_a_transaction_that_appends_more_than_once_carries_on_from_its_own_last_position(
    own_database: Database,
) -> None:
    # A bulk load (the benchmark's) creates many configurations in one transaction: each
    # append carries on from the transaction's last position, never colliding with it.
    start = wait_until_final(own_database)
    with own_database.transaction() as connection:
        appended = [_append(connection, revision) for revision in (1, 2, 3)]
    wait_until_final(own_database)
    delivery = DeliveryService(unit_of_work_factory(own_database))
    changes = delivery.changes_after(position=start, limit=10)
    transaction = appended[0] >> ORDINAL_BITS
    assert appended == [(transaction << ORDINAL_BITS) + ordinal for ordinal in (1, 2, 3)]
    assert [(change.position, change.revision) for change in changes] == list(
        zip(appended, [1, 2, 3], strict=True)
    )
