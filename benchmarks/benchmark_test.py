"""The benchmark command runs end to end (its figures are printed, never asserted)."""

from __future__ import annotations

import pytest

from benchmarks import benchmark
from benchmarks.benchmark import format_row
from benchmarks.delivery import Throughput, parse_wrk
from benchmarks.load import Result


def test_the_benchmark_runs_every_scenario_without_errors(
    server_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", server_url)

    arguments = ["--seconds", "0.2", "--threads", "2", "--configurations", "3"]
    assert benchmark.main([*arguments, "--samples", "3", "--waiters", "20"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2 client threads, 0.2 s per scenario, 3 configurations; latencies in ms"
    assert lines[1].split() == ["scenario", "requests", "req/s", "p50", "p95", "p99", "errors"]
    rows = {line[:28].strip(): line[28:].split() for line in lines[2:6]}
    assert list(rows) == [
        "GET configuration",
        "GET, If-None-Match (304)",
        "PATCH configuration",
        "GET list of 100",
    ]
    assert [columns[-1] for columns in rows.values()] == ["0", "0", "0", "0"]
    assert lines[7].startswith("Delivery reads, load from ")
    delivery = {line[:34].strip(): line[34:].split() for line in lines[9:13]}
    assert list(delivery) == [
        "GET /health/live (ceiling)",
        "GET configuration by id",
        "GET values by name",
        "GET by id, If-None-Match (304)",
    ]
    assert delivery["GET /health/live (ceiling)"][1] == "1.00"
    assert [columns[-1] for columns in delivery.values()] == ["0", "0", "0", "0"]
    assert lines[14].startswith("Write on one instance to a waiting client's answer on the other")
    assert lines[15].startswith("20 concurrent long polls on one instance")
    assert lines[15].endswith("one write answered 20 with 200 in " + lines[15].split(" in ")[-1])


def test_wrk_output_is_read_in_seconds_and_milliseconds() -> None:
    output = """Running 1s test @ http://127.0.0.1:1
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.00ms
     99%    1.50s
  1000 requests in 1.00s, 1.00MB read
  Non-2xx or 3xx responses: 7
Requests/sec:   1234.50
"""
    assert parse_wrk(output) == Throughput(1234.5, 0.812, 1500.0, 7)


def test_a_row_with_too_few_samples_shows_dashes() -> None:
    assert format_row("x", Result(latencies=[0.001], errors=1), 1.0).split() == [
        "x",
        "1",
        "-",
        "-",
        "-",
        "-",
        "1",
    ]


def test_a_row_shows_count_rate_and_percentiles_in_milliseconds() -> None:
    result = Result(latencies=[index / 1000 for index in range(1, 101)])
    assert format_row("read", result, 2.0).split() == [
        "read",
        "100",
        "50",
        "50.50",
        "95.95",
        "99.99",
        "0",
    ]
