"""Seeding the benchmark's data set: through the API, concurrently (as clients would write it),
and, for the extra configurations of the 100,000 figure, a separate bulk step that runs the
service's own create (the same code and SQL as `POST /configurations`) many to a transaction,
because one commit per configuration through the API would take most of the run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from benchmarks.documents import HUGE_BYTES, LARGE_BYTES, SMALL_BYTES, DataSet, document
from database.pool import Database
from models.audit import Actor
from models.configuration import ConfigurationCreate
from repositories.unit_of_work import UnitOfWork
from services.configuration_service import ConfigurationService

SEED_THREADS = 16
SEED_ATTEMPTS = 10
MAX_RETRY_SECONDS = 5.0
BULK_BATCH = 1_000
BULK_ACTOR = Actor(key_id=None, key_name="benchmark bulk step")

Item = TypeVar("Item")
Made = TypeVar("Made")


@dataclass(frozen=True)
class Configuration:
    id: str
    application_name: str
    name: str


@dataclass
class Seeded:
    applications: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    small: list[Configuration] = field(default_factory=list)
    secret: list[Configuration] = field(default_factory=list)
    large: list[Configuration] = field(default_factory=list)
    listed_application: str = ""
    listed: list[str] = field(default_factory=list)  # ids, in the list's (id) order
    extra: list[str] = field(default_factory=list)

    def writable(self, count: int) -> list[Configuration]:
        """`count` small configurations without secrets, each of another application where
        there are enough, for writers that must not contend."""
        secret = set(self.secret)
        plain = [item for item in self.small if item not in secret]
        by_application: dict[str, Configuration] = {}
        for item in plain:
            by_application.setdefault(item.application_name, item)
        chosen = list(by_application.values())[:count]
        rest = [item for item in plain if item not in chosen]
        return (chosen + rest)[:count]


def in_threads(
    items: list[Item],
    work: Callable[[httpx.Client, Item], Made],
    make_client: Callable[[], httpx.Client],
) -> list[Made]:
    """`work` on each item from SEED_THREADS threads, each with its own keep-alive client."""
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def run(item: Item) -> Made:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = make_client()
            with lock:
                clients.append(client)
        return work(client, item)

    try:
        with ThreadPoolExecutor(SEED_THREADS) as pool:
            return list(pool.map(run, items))
    finally:
        for client in clients:
            client.close()


def _created(client: httpx.Client, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST `payload`, retried as a client should on a 503 (writers that queue on one row, as
    creates in one application do, may wait longer than the lock budget on a busy machine)."""
    for _ in range(SEED_ATTEMPTS):
        response = client.post(path, json=payload)
        if response.status_code != httpx.codes.SERVICE_UNAVAILABLE:
            break
        time.sleep(min(float(response.headers.get("retry-after", "1")), MAX_RETRY_SECONDS))
    if response.status_code != httpx.codes.CREATED:
        raise RuntimeError(
            f"seeding: POST {path} answered {response.status_code}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def seed_through_api(
    make_client: Callable[[], httpx.Client], data: DataSet, report: Callable[[str], None]
) -> Seeded:
    """The data set of `data` through the API, concurrently; prints how long each part took."""
    seeded = Seeded()
    tag = time.time_ns()

    def application(client: httpx.Client, index: int) -> tuple[str, str]:
        name = f"bench-{tag}-{index:05d}"
        body = _created(client, "/api/v1/applications", {"name": name})
        return str(body["id"]), name

    started = time.monotonic()
    seeded.applications = in_threads(list(range(data.applications + 1)), application, make_client)
    (seeded.listed_application, _), *seeded.applications = seeded.applications
    _timed(report, f"{data.applications + 1:,} applications", started, data.applications + 1)

    def configuration(client: httpx.Client, spec: tuple[int, int, int, bool]) -> Configuration:
        index, application_index, size, secret = spec
        application_id, application_name = seeded.applications[application_index]
        name = f"c{index:06d}"
        payload: dict[str, Any] = {
            "application_id": application_id,
            "name": name,
            "config": document(index, size, secret=secret),
        }
        if secret:
            payload["secrets"] = ["/database/password"]
        body = _created(client, "/api/v1/configurations", payload)
        return Configuration(str(body["id"]), application_name, name)

    specs = [
        (index, index % data.applications, SMALL_BYTES, index < data.secret_configurations)
        for index in range(data.configurations)
    ]
    started = time.monotonic()
    seeded.small = in_threads(specs, configuration, make_client)
    seeded.secret = seeded.small[: data.secret_configurations]
    _timed(report, f"{data.configurations:,} configurations of ~1 KB", started, len(specs))

    sized = [LARGE_BYTES] * data.large + [HUGE_BYTES] * data.huge
    big = [(data.configurations + offset, 0, size, False) for offset, size in enumerate(sized)]
    started = time.monotonic()
    seeded.large = in_threads(big, configuration, make_client)
    _timed(report, f"{data.large} of 100 KB and {data.huge} of 1 MB", started, len(big))

    def listed(client: httpx.Client, index: int) -> str:
        payload = {
            "application_id": seeded.listed_application,
            "name": f"l{index:06d}",
            "config": document(index, SMALL_BYTES),
        }
        return str(_created(client, "/api/v1/configurations", payload)["id"])

    started = time.monotonic()
    # Lists are ordered by id (ULIDs: creation order, written in uppercase).
    seeded.listed = sorted(in_threads(list(range(data.listed)), listed, make_client))
    _timed(
        report, f"{data.listed:,} configurations in one application (lists)", started, data.listed
    )
    return seeded


def _timed(report: Callable[[str], None], what: str, started: float, count: int) -> None:
    seconds = time.monotonic() - started
    report(f"seeded {what} through the API in {seconds:.1f} s ({count / seconds:,.0f}/s)")


@contextmanager
def _batched(database: Database) -> Iterator[Callable[[], Any]]:
    """A unit-of-work factory whose every unit is the same transaction, committed when the
    block ends: the service's writes run as they are, many to a commit."""
    with database.transaction() as connection:
        unit = UnitOfWork(connection)

        @contextmanager
        def same_unit() -> Iterator[UnitOfWork]:
            yield unit

        yield same_unit


def seed_extra_in_bulk(
    database_url: str, seeded: Seeded, count: int, report: Callable[[str], None]
) -> None:
    """`count` more small configurations spread over the applications, through the service's
    create, BULK_BATCH to a transaction (the clearly separate step README "How fast" names)."""
    database = Database(dsn=database_url, min_size=0, max_size=1, wait_seconds=30)
    started = time.monotonic()
    try:
        for first in range(0, count, BULK_BATCH):
            with _batched(database) as unit_of_work:
                service = ConfigurationService(unit_of_work, max_json_depth=32, actor=BULK_ACTOR)
                for index in range(first, min(count, first + BULK_BATCH)):
                    application_id, _ = seeded.applications[index % len(seeded.applications)]
                    created = service.create(
                        data=ConfigurationCreate(
                            application_id=application_id,
                            name=f"x{index:06d}",
                            config=document(index, SMALL_BYTES),
                        )
                    )
                    seeded.extra.append(created.value.id)
    finally:
        database.close()
    seconds = time.monotonic() - started
    report(
        f"bulk step: {count:,} more configurations through the service's create,"
        f" {BULK_BATCH:,} to a transaction, in {seconds:.1f} s ({count / seconds:,.0f}/s)"
    )
