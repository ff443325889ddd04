"""`pipenv run bench --quick` runs end to end on the test database server: every figure is
measured without errors, the table and the targets are printed, and the database it made is
gone afterwards. Its figures are printed, never asserted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest

from benchmarks import benchmark
from benchmarks.documents import QUICK
from benchmarks.report import PUT_CONNECTIONS
from testing.databases import database_name, server_dsn, temporary_database

SCENARIOS_PER_WORKER_COUNT = 6 + len(PUT_CONNECTIONS) + 4


def benchmark_databases(server_url: str) -> set[str]:
    connection = psycopg2.connect(server_dsn(server_url))
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'config_service_benchmark_%'"
            )
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


def test_the_quick_benchmark_measures_everything_without_errors(
    server_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", server_url)
    # Other test runs may make and drop benchmark databases meanwhile: watch this run's own.
    made: list[str] = []

    @contextmanager
    def recorded(dsn: str, *, prefix: str) -> Iterator[str]:
        with temporary_database(dsn, prefix=prefix) as url:
            made.append(database_name(url))
            assert made[0] in benchmark_databases(server_url)
            yield url

    monkeypatch.setattr(benchmark, "temporary_database", recorded)

    arguments = ["--quick", "--seconds", "1", "--workers", "2", "--samples", "3", "--waiters", "20"]
    assert benchmark.main(arguments) == 0

    output = capsys.readouterr().out
    rows = [line.split(" | ") for line in output.splitlines() if line.startswith("| ")]
    figures = [row for row in rows if row[0] in {"| 1", "| 2"} and len(row) == 8]
    scenarios = [(row[0], row[1]) for row in figures]
    assert scenarios.count(("| 1", "GET /health/live (ceiling)")) == 1
    assert ("| 1", "bare FastAPI app, fixed bytes") in scenarios
    assert len(figures) == 1 + 2 * SCENARIOS_PER_WORKER_COUNT
    reads = [row for row in figures if not row[1].startswith("PUT")]
    assert [row[6] for row in reads] == ["0"] * len(reads)
    # Each connection writes its own configuration: never a 412. (On a machine this busy a
    # PUT may wait for a connection too long and get a 503: such errors are reported, not
    # asserted away.)
    puts = [row for row in figures if row[1].startswith("PUT")]
    assert len(puts) == 2 * len(PUT_CONNECTIONS)
    assert [row[6] for row in puts if "412" in row[6]] == []
    assert {row[1] for row in figures} >= {
        "GET by id, secrets masked",
        "GET by name, identity token (JWT)",
        "PUT with If-Match, 32 connections",
        "GET list, page of 100 after 100",
        f"GET by id among {QUICK.total_after_extra:,} configurations",
    }
    latencies = [row for row in rows if row[1] == "write on one, long poll answered on the other"]
    assert [row[0] for row in latencies] == ["| 1", "| 2"]
    assert [row[-1] for row in latencies] == ["3 |", "3 |"]
    judged = [row for row in rows if row[-1] in {"✓ |", "missed |", "- |"}]
    assert len(judged) == 20
    assert (
        "`pipenv run bench --quick --seconds 1 --workers 2 --samples 3 --waiters 20` on " in output
    )
    waiters = "20 concurrent long polls on one instance (WORKERS=1, open files limit "
    assert output.count(waiters) == 2
    assert "one write answered 20 with 200 in " in output
    assert "bulk step: 240 more configurations through the service's create" in output
    assert len(made) == 1
    assert made[0] not in benchmark_databases(server_url)
