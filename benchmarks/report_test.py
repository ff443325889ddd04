"""Ratios to the ceiling, the targets of issue 18, and the Markdown table."""

from __future__ import annotations

import pytest

from benchmarks.report import (
    BARE,
    BY_ID,
    BY_ID_LARGE,
    BY_NAME,
    CEILING,
    CEILING_LARGE,
    DEEP_PAGE,
    FIRST_PAGE,
    JWT,
    MASKED,
    NOT_MODIFIED,
    PUT,
    Figure,
    Run,
    Target,
    mark,
    put_growth,
    table,
    target_table,
    targets,
)
from benchmarks.wrk import Throughput

LARGE = 110_000
DEEP_AFTER = 10_000


def figure(workers: int, scenario: str, rate: float, ceiling: str = CEILING) -> Figure:
    return Figure(workers, scenario, Throughput(rate, 1.0, 2.0, 0), sessions=0, ceiling=ceiling)


def a_run(**rates: float) -> Run:
    """A run where every figure meets its target, but for the rates given by keyword."""
    run = Run(
        figures=[
            figure(1, BARE, rates.get("bare", 10_000)),
            figure(1, CEILING, 9_000),
            figure(2, CEILING, 16_000),
            *(figure(1, scenario, 8_500) for scenario in (BY_ID, BY_NAME, NOT_MODIFIED)),
            *(figure(1, scenario, 8_500) for scenario in (MASKED, JWT)),
            figure(2, BY_ID, rates.get("by_id_2", 15_000)),
            *(figure(2, scenario, 15_000) for scenario in (BY_NAME, NOT_MODIFIED, MASKED, JWT)),
            figure(2, PUT.format(1), 300),
            figure(2, PUT.format(8), rates.get("put_8", 1_200)),
            figure(2, PUT.format(32), rates.get("put_32", 1_500)),
        ],
        start_up_seconds={1: rates.get("start_up", 3.0), 2: 4.0},
    )
    for workers in (1, 2):
        ceiling = CEILING_LARGE.format(LARGE)
        run.figures.extend(
            [
                figure(workers, ceiling, 9_000, ceiling),
                figure(
                    workers,
                    BY_ID_LARGE.format(LARGE),
                    rates.get("large", {1: 8_500, 2: 15_000}[workers]),
                    ceiling,
                ),
                figure(workers, FIRST_PAGE, 1_000, ceiling),
                figure(workers, DEEP_PAGE.format(DEEP_AFTER), rates.get("deep", 950), ceiling),
            ]
        )
    return run


def judged(run: Run) -> dict[str, bool | None]:
    return {t.name: t.met for t in targets(run, workers=2, large=LARGE, deep_after=DEEP_AFTER)}


def test_every_target_is_met_by_a_run_that_meets_them() -> None:
    found = judged(a_run())
    assert len(found) == 20
    assert set(found.values()) == {True}


@pytest.mark.parametrize(
    ("rates", "missed"),
    [
        ({"bare": 12_000}, ["WORKERS=1: /health/live / bare app"]),
        ({"by_id_2": 14_000}, ["WORKERS=2: GET by id / /health/live"]),
        (
            {"by_id_2": 13_000},
            ["WORKERS=2: GET by id / /health/live", "WORKERS=2 reads by id / WORKERS=1"],
        ),
        (
            {"put_32": 900},
            [
                "WORKERS=2: PUT with If-Match at 32 connections",
                "WORKERS=2: PUT grows with connections (1, 8, 32)",
            ],
        ),
        ({"put_8": 400}, ["WORKERS=2: PUT grows with connections (1, 8, 32)"]),
        (
            {"deep": 800},
            [
                "WORKERS=1: page after 10,000 / first page",
                "WORKERS=2: page after 10,000 / first page",
            ],
        ),
        ({"start_up": 10.0}, ["WORKERS=1: start-up with 110,000 configurations"]),
    ],
)
def test_a_figure_below_its_target_is_missed(rates: dict[str, float], missed: list[str]) -> None:
    found = judged(a_run(**rates))
    assert [name for name, met in found.items() if met is False] == missed
    assert None not in found.values()


def test_reads_with_the_large_data_set_are_judged_against_the_smaller_one() -> None:
    found = judged(a_run(large=7_000))  # 7,000 / 8,500 and 7,000 / 15,000
    assert found["WORKERS=1: reads by id with 110,000 / with fewer"] is False
    assert found["WORKERS=2: reads by id with 110,000 / with fewer"] is False


def test_a_figure_not_measured_is_neither_met_nor_missed() -> None:
    run = Run(figures=[figure(1, CEILING, 100)])
    found = targets(run, workers=1, large=LARGE, deep_after=DEEP_AFTER)
    assert found[0] == Target("WORKERS=1: /health/live / bare app", "not measured", None)
    assert {target.met for target in found} == {None}


def test_put_growth_needs_twice_the_rate_at_8_and_no_drop_at_32() -> None:
    assert put_growth(2, [100.0, 200.0, 200.0]).met is True
    assert put_growth(2, [100.0, 199.0, 300.0]).met is False
    assert put_growth(2, [100.0, 250.0, 249.0]).met is False
    assert put_growth(2, [100.0, None, 199.0]) == Target(
        "WORKERS=2: PUT grows with connections (1, 8, 32)", "not measured", None
    )


def test_ratios_are_to_the_ceiling_of_the_same_worker_count_and_phase() -> None:
    run = a_run()
    rows = table(run)
    assert rows[0].startswith("| workers | scenario | req/s | x ceiling |")
    assert "| 1 | GET by id | 8,500 | 0.94 | 1.00 | 2.00 | 0 | 0 |" in rows
    assert "| 2 | GET by id | 15,000 | 0.94 | 1.00 | 2.00 | 0 | 0 |" in rows
    assert "| 2 | GET list, first page of 100 | 1,000 | 0.11 | 1.00 | 2.00 | 0 | 0 |" in rows


def test_an_errors_cell_says_how_many_were_412s() -> None:
    run = Run(
        figures=[figure(1, CEILING, 100), Figure(1, PUT.format(8), Throughput(50, 1, 2, 7, 3))]
    )
    assert (
        table(run)[-1] == "| 1 | PUT with If-Match, 8 connections | 50 | 0.50 | 1.00 | 2.00"
        " | 7 (3 of them 412) | - |"
    )


def test_target_rows_carry_a_check_mark_or_missed() -> None:
    rows = target_table([Target("a", "1.00 (needs 0.9)", True), Target("b", "x", False)])
    assert rows[2:] == ["| a | 1.00 (needs 0.9) | ✓ |", "| b | x | missed |"]
    assert mark(None) == "-"
