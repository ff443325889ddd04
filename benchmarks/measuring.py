"""How one figure is measured: load from wrk (or Python without it) for a fixed time, and the
PostgreSQL sessions opened meanwhile; each figure is kept in the run and printed as it comes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks import load
from benchmarks.documents import SMALL_BYTES
from benchmarks.report import CEILING, Figure, Run, errors_cell
from benchmarks.sessions import SessionCounter
from benchmarks.wrk import Throughput, get_script, put_script, run_wrk

READ_CONNECTIONS = 32
PYTHON_THREADS = 8
PUT_PADDING = SMALL_BYTES - 60  # the PUT body's config is about 1 KB


@dataclass
class Bench:
    """One run's fixed parts: where load goes, how long, and what it found."""

    seconds: float
    use_wrk: bool
    report: Callable[[str], None]
    sessions: SessionCounter
    run: Run = field(default_factory=Run)

    def gets(self, url: str, paths: list[str], headers: dict[str, str]) -> Throughput:
        if self.use_wrk:
            return run_wrk(
                url,
                get_script(paths, headers),
                seconds=self.seconds,
                connections=READ_CONNECTIONS,
                threads=1,
            )
        return load.run(
            url, load.gets(paths, headers), seconds=self.seconds, threads=PYTHON_THREADS
        )

    def puts(
        self, url: str, paths: list[str], etags: list[str], headers: dict[str, str]
    ) -> Throughput:
        if self.use_wrk:
            script = put_script(paths, etags, headers, PUT_PADDING)
            count = len(paths)
            return run_wrk(url, script, seconds=self.seconds, connections=count, threads=count)
        request = load.puts(paths, etags, headers, PUT_PADDING)
        return load.run(url, request, seconds=self.seconds, threads=len(paths))

    def seeding(self, line: str) -> None:
        self.run.seeding.append(line)
        self.report(line)

    def measure(
        self,
        workers: int,
        scenario: str,
        action: Callable[[], Throughput],
        *,
        ceiling: str = CEILING,
    ) -> None:
        before = self.sessions.opened()
        measured = action()
        figure = Figure(workers, scenario, measured, self.sessions.opened() - before, ceiling)
        self.run.figures.append(figure)
        ratio = self.run.ratio(figure)
        self.report(
            f"  WORKERS={workers} {scenario}: {measured.requests_per_second:,.0f}/s"
            f" ({'-' if ratio is None else f'{ratio:.2f}'} of ceiling),"
            f" p50 {measured.p50_ms:.2f} ms, p99 {measured.p99_ms:.2f} ms,"
            f" {errors_cell(measured)} errors, {figure.sessions} PostgreSQL sessions opened"
        )
