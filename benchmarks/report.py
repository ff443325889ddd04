"""What one benchmark run found, as ratios to its own ceiling and as checks against the targets
of issue 18, printed as a Markdown table for README "How fast"."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.wrk import Throughput

CEILING = "GET /health/live (ceiling)"
CEILING_LARGE = "GET /health/live (ceiling), {:,} configurations"
BARE = "bare FastAPI app, fixed bytes"
BY_ID = "GET by id"
BY_NAME = "GET by name (values)"
NOT_MODIFIED = "GET by id, If-None-Match (304)"
MASKED = "GET by id, secrets masked"
JWT = "GET by name, identity token (JWT)"
PUT = "PUT with If-Match, {} connections"
PUT_CONNECTIONS = (1, 8, 32)
FIRST_PAGE = "GET list, first page of 100"
DEEP_PAGE = "GET list, page of 100 after {:,}"
BY_ID_LARGE = "GET by id among {:,} configurations"
READS_AT_CEILING = (BY_ID, BY_NAME, NOT_MODIFIED, MASKED, JWT)

BARE_RATIO = 0.8
READ_RATIO = 0.9
WORKERS_SPEED_UP = 1.6
PUT_PER_SECOND = 1_000
# 8 connections at least this much faster than 1 (one commit at a time would be flat), and 32
# no slower than 8.
PUT_GROWTH = 2.0
DEEP_PAGE_RATIO = 0.9
LARGE_DATA_RATIO = 0.9
START_UP_SECONDS = 10.0


@dataclass(frozen=True)
class Figure:
    workers: int
    scenario: str
    measured: Throughput
    sessions: int | None = None
    # The scenario whose rate this figure is a ratio to (the same worker count's).
    ceiling: str = CEILING


@dataclass
class Run:
    """Everything one run measured; `ceiling` per worker count is its /health/live rate."""

    figures: list[Figure] = field(default_factory=list)
    seeding: list[str] = field(default_factory=list)
    latencies: dict[int, tuple[float, float, int]] = field(default_factory=dict)
    start_up_seconds: dict[int, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def rate(self, workers: int, scenario: str) -> float | None:
        for figure in self.figures:
            if figure.workers == workers and figure.scenario == scenario:
                return figure.measured.requests_per_second
        return None

    def ratio(self, figure: Figure) -> float | None:
        ceiling = self.rate(figure.workers, figure.ceiling)
        if not ceiling:
            return None
        return figure.measured.requests_per_second / ceiling


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool | None  # None: could not be judged in this run (say why in `measured`)


def _ratio_target(
    name: str, numerator: float | None, denominator: float | None, at_least: float
) -> Target:
    if numerator is None or not denominator:
        return Target(name, "not measured", None)
    ratio = numerator / denominator
    return Target(name, f"{ratio:.3f} (needs {at_least:g})", ratio >= at_least)


def targets(run: Run, *, workers: int, large: int, deep_after: int) -> list[Target]:
    """Issue 18's targets, judged on this run's figures; `workers` is the many-worker count."""
    found: list[Target] = []
    counts = sorted({1, workers})
    # The bare app is one process: it is the ceiling of one worker.
    found.append(
        _ratio_target(
            "WORKERS=1: /health/live / bare app",
            run.rate(1, CEILING),
            run.rate(1, BARE),
            BARE_RATIO,
        )
    )
    for count in counts:
        found.extend(
            _ratio_target(
                f"WORKERS={count}: {scenario} / /health/live",
                run.rate(count, scenario),
                run.rate(count, CEILING),
                READ_RATIO,
            )
            for scenario in READS_AT_CEILING
        )
    if workers >= 2:  # noqa: PLR2004
        found.append(
            _ratio_target(
                f"WORKERS={workers} reads by id / WORKERS=1",
                run.rate(workers, BY_ID),
                run.rate(1, BY_ID),
                WORKERS_SPEED_UP,
            )
        )
    else:
        found.append(Target("WORKERS=N reads / WORKERS=1", "one CPU: not judged", None))
    put_rates = [run.rate(workers, PUT.format(count)) for count in PUT_CONNECTIONS]
    busiest = put_rates[-1]
    found.append(
        Target(
            f"WORKERS={workers}: PUT with If-Match at 32 connections",
            "not measured" if busiest is None else f"{busiest:,.0f}/s (needs {PUT_PER_SECOND:,})",
            None if busiest is None else busiest >= PUT_PER_SECOND,
        )
    )
    found.append(put_growth(workers, put_rates))
    for count in counts:
        found.append(
            _ratio_target(
                f"WORKERS={count}: page after {deep_after:,} / first page",
                run.rate(count, DEEP_PAGE.format(deep_after)),
                run.rate(count, FIRST_PAGE),
                DEEP_PAGE_RATIO,
            )
        )
        found.append(
            _ratio_target(
                f"WORKERS={count}: reads by id with {large:,} / with fewer",
                run.rate(count, BY_ID_LARGE.format(large)),
                run.rate(count, BY_ID),
                LARGE_DATA_RATIO,
            )
        )
        seconds = run.start_up_seconds.get(count)
        found.append(
            Target(
                f"WORKERS={count}: start-up with {large:,} configurations",
                "not measured" if seconds is None else f"{seconds:.1f} s (needs < 10 s)",
                None if seconds is None else seconds < START_UP_SECONDS,
            )
        )
    return found


def put_growth(workers: int, rates: list[float | None]) -> Target:
    name = f"WORKERS={workers}: PUT grows with connections (1, 8, 32)"
    if any(rate is None for rate in rates):
        return Target(name, "not measured", None)
    one, eight, thirty_two = (rate or 0.0 for rate in rates)
    measured = f"{one:,.0f} / {eight:,.0f} / {thirty_two:,.0f} per s"
    return Target(name, measured, eight >= PUT_GROWTH * one and thirty_two >= eight)


def mark(met: bool | None) -> str:
    return {True: "✓", False: "missed", None: "-"}[met]


def machine() -> str:
    """The CPU model, the cores this process may use, and Python's version."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores, Python {platform.python_version()}"


def table(run: Run) -> list[str]:
    """The figures as Markdown rows: rate, ratio to the same worker count's ceiling, latency,
    errors and PostgreSQL sessions opened during the run."""
    lines = [
        "| workers | scenario | req/s | x ceiling | p50 ms | p99 ms | errors | PG sessions |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for figure in run.figures:
        ratio = run.ratio(figure)
        measured = figure.measured
        lines.append(
            f"| {figure.workers} | {figure.scenario} | {measured.requests_per_second:,.0f}"
            f" | {'-' if ratio is None else f'{ratio:.2f}'}"
            f" | {measured.p50_ms:.2f} | {measured.p99_ms:.2f} | {errors_cell(measured)}"
            f" | {'-' if figure.sessions is None else figure.sessions} |"
        )
    return lines


def errors_cell(measured: Throughput) -> str:
    """Errors, and how many of them were 412s when there were any."""
    if measured.conflicts:
        return f"{measured.errors} ({measured.conflicts} of them 412)"
    return str(measured.errors)


def target_table(found: list[Target]) -> list[str]:
    lines = ["| target (issue 18) | this run | |", "|---|---|---|"]
    lines.extend(f"| {target.name} | {target.measured} | {mark(target.met)} |" for target in found)
    return lines
