"""The change log when an application's deletion races creates and writes of its
configurations: every configuration the log says was created, it also says was deleted, and
before the application's own deletion; nothing of the application follows that; one
configuration's revisions come in order."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

from conftest import make_settings
from database.migration_runner import MigrationRunner
from database.pool import Database
from models.application import ApplicationCreate
from models.change import ChangeKind
from models.configuration import ConfigurationCreate, ConfigurationUpdate
from repositories.unit_of_work import unit_of_work_factory
from services.application_service import ApplicationService
from services.configuration_service import ConfigurationService
from services.delivery_service import DeliveryService
from services.errors import (
    ApplicationNotFound,
    ConcurrentModification,
    ConfigurationNotFound,
    InvalidRequest,
)
from testing.actors import TEST_ACTOR
from testing.change_log import wait_until_final
from testing.databases import temporary_database

WRITERS = 4
ROUNDS = 5
WRITES_EACH = 20


@pytest.fixture
def own_database(server_url: str) -> Iterator[Database]:
    with temporary_database(server_url) as url:
        MigrationRunner(url).up()
        pool = Database.from_settings(make_settings(url, database_pool_max_size=8), url)
        yield pool
        pool.close()


class Race:
    """Writers that create configurations and update the first one, and a deletion of their
    application that starts once they are well under way (a count, not a timing)."""

    def __init__(self, database: Database, application_id: str, first_id: str) -> None:
        self.applications = ApplicationService(unit_of_work_factory(database), actor=TEST_ACTOR)
        self.configurations = ConfigurationService(
            unit_of_work_factory(database), max_json_depth=32, actor=TEST_ACTOR
        )
        self.application_id = application_id
        self.first_id = first_id
        self.unexpected: list[BaseException] = []
        self.go = threading.Barrier(WRITERS + 1)
        self.under_way = threading.Semaphore(0)

    def write(self, number: int) -> None:
        self.go.wait()
        try:
            for attempt in range(WRITES_EACH):
                self.configurations.create(
                    data=ConfigurationCreate(
                        application_id=self.application_id, name=f"c-{number}-{attempt}", config={}
                    )
                )
                self.configurations.update(
                    configuration_id=self.first_id,
                    changes=ConfigurationUpdate.model_validate({"config": {"n": number}}),
                )
                self.under_way.release()
        except (InvalidRequest, ConfigurationNotFound, ConcurrentModification):
            return  # the application is gone (or kept changing): this writer is done
        except BaseException as error:  # asserted empty
            self.unexpected.append(error)

    def delete(self) -> None:
        self.go.wait()
        for _ in range(3 * WRITERS):
            self.under_way.acquire(timeout=30)
        try:
            self.applications.delete(application_id=self.application_id)
        except (ApplicationNotFound, ConcurrentModification):
            pass
        except BaseException as error:  # asserted empty
            self.unexpected.append(error)

    def run(self) -> None:
        threads = [threading.Thread(target=self.write, args=(n,)) for n in range(WRITERS)]
        threads.append(threading.Thread(target=self.delete))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert self.unexpected == []
        with contextlib.suppress(ApplicationNotFound):
            self.applications.delete(application_id=self.application_id)


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_an_application_deletion_racing_creates_and_writes_leaves_a_complete_log(
    own_database: Database, round_number: int
) -> None:
    applications = ApplicationService(unit_of_work_factory(own_database), actor=TEST_ACTOR)
    configurations = ConfigurationService(
        unit_of_work_factory(own_database), max_json_depth=32, actor=TEST_ACTOR
    )
    start = wait_until_final(own_database)
    application = applications.create(data=ApplicationCreate(name=f"app-{round_number}"))
    application_id = application.value.id
    first = configurations.create(
        data=ConfigurationCreate(application_id=application_id, name="first", config={})
    ).value

    Race(own_database, application_id, first.id).run()

    wait_until_final(own_database)
    recorded = DeliveryService(unit_of_work_factory(own_database)).changes_after(
        position=start, limit=100_000, application_id=application_id
    )
    kinds = [change.kind for change in recorded]
    assert kinds[-1] == ChangeKind.APPLICATION_DELETED
    assert kinds.count(ChangeKind.APPLICATION_DELETED) == 1
    created = {c.configuration_id for c in recorded if c.kind == ChangeKind.CREATED}
    deleted = {c.configuration_id for c in recorded if c.kind == ChangeKind.DELETED}
    assert created == deleted
    first_deleted = kinds.index(ChangeKind.DELETED)
    assert all(kind == ChangeKind.DELETED for kind in kinds[first_deleted:-1])
    revisions = [c.revision for c in recorded if c.configuration_id == first.id]
    assert revisions == [*range(1, len(revisions)), None]  # in order, then deleted
