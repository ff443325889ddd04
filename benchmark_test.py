"""The benchmark command runs end to end (its figures are printed, never asserted)."""

from __future__ import annotations

import pytest

import benchmark
from benchmark import Result, format_row


def test_the_benchmark_runs_every_scenario_without_errors(
    server_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", server_url)

    assert benchmark.main(["--seconds", "0.2", "--threads", "2", "--configurations", "3"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2 client threads, 0.2 s per scenario, 3 configurations; latencies in ms"
    assert lines[1].split() == ["scenario", "requests", "req/s", "p50", "p95", "p99", "errors"]
    rows = {line[:28].strip(): line[28:].split() for line in lines[2:]}
    assert list(rows) == [
        "GET configuration",
        "GET, If-None-Match (304)",
        "PATCH configuration",
        "GET list of 100",
    ]
    assert [columns[-1] for columns in rows.values()] == ["0", "0", "0", "0"]


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
