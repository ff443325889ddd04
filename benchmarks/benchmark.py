"""Measure Config Service: `pipenv run bench [--quick] [--seconds S] [--workers N]`.

In a throw-away database next to DATABASE_URL's (or on the embedded PostgreSQL), created and
dropped by the run, it seeds a realistic data set through the API, then measures with wrk, for
one worker process and for N (the CPUs this process may use): /health/live (the ceiling, beside
a bare FastAPI app), reads by id, by name, 304s, masked reads, reads with an identity token, PUT
with If-Match at 1, 8 and 32 connections, change-to-client latency across two instances; then,
after a bulk step adds the extra configurations, start-up time, reads with 100,000
configurations and a first and a deep page. It prints a Markdown table for README "How fast"
with every figure as a ratio to its run's ceiling, and each target of issue 18 met or missed.
It asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import random
import sys
import time
from dataclasses import dataclass

from benchmarks.documents import QUICK, DataSet
from benchmarks.identity_reads import IDENTITY_SUBJECT, bind_token, wait_for_token
from benchmarks.latency import change_to_client, p50_p99_ms
from benchmarks.measuring import PYTHON_THREADS, READ_CONNECTIONS, Bench
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
    PUT_CONNECTIONS,
    machine,
    table,
    target_table,
    targets,
)
from benchmarks.seeding import SEED_THREADS, Seeded, seed_extra_in_bulk, seed_through_api
from benchmarks.server import Server, admin_key, running_bare_app, running_server
from benchmarks.sessions import SessionCounter
from benchmarks.waiters import many_waiters, raise_open_files_limit
from benchmarks.warm_up import warm_up
from benchmarks.wrk import wrk_path
from config.settings import load_settings
from database.migration_runner import MigrationRunner
from database.url import resolve_database_url
from testing.databases import temporary_database
from testing.oidc_issuer import run_oidc_issuer, trusting


@dataclass(frozen=True)
class Paths:
    by_id: list[str]
    by_name: list[str]
    masked: list[str]
    writes: list[str]
    latency: str
    waiters: str


def read_paths(seeded: Seeded) -> Paths:
    """Reads avoid the configurations the run writes, so a 304 stays a 304."""
    writable = seeded.writable(max(PUT_CONNECTIONS) + 2)
    written = set(writable)
    secret = set(seeded.secret)
    plain = [item for item in seeded.small if item not in written and item not in secret]
    return Paths(
        by_id=[f"/api/v1/configurations/{item.id}" for item in plain],
        by_name=[f"/api/v1/values/{item.application_name}/{item.name}" for item in plain],
        masked=[f"/api/v1/configurations/{item.id}" for item in seeded.secret],
        writes=[f"/api/v1/configurations/{item.id}" for item in writable[:-2]],
        latency=writable[-2].id,
        waiters=writable[-1].id,
    )


SETTLE_SECONDS = 0.3
SETTLE_TRIES = 20


def current_etags(server: Server, paths: list[str]) -> list[str]:
    """The ETags once they stop changing: a write the previous figure's wrk sent just before it
    stopped may still be committing, and starting from the ETag before it would be a 412."""
    with server.client() as client:
        etags = [client.get(path).headers["etag"] for path in paths]
        for _ in range(SETTLE_TRIES):
            time.sleep(SETTLE_SECONDS)
            again = [client.get(path).headers["etag"] for path in paths]
            if again == etags:
                break
            etags = again
        return etags


def warm(bench: Bench, server: Server, workers: int, paths: list[str]) -> None:
    passes = workers + 1
    seconds = warm_up(server, paths, passes=passes)
    bench.report(
        f"  WORKERS={workers} warm-up: {len(paths):,} paths read {passes} times each"
        f" in {seconds:.1f} s"
    )


def reads_and_writes(bench: Bench, server: Server, workers: int, paths: Paths, token: str) -> None:
    """The 10,000-configuration figures of one worker count."""
    key = server.key_headers
    bearer = {"Authorization": f"Bearer {token}"}
    url = server.url
    # The cache is filled by the route that misses: by name and by id are both warmed.
    warm(bench, server, workers, paths.by_name + paths.by_id + paths.masked)
    bench.measure(workers, CEILING, lambda: bench.gets(url, ["/health/live"], {}))
    bench.measure(workers, BY_ID, lambda: bench.gets(url, paths.by_id, key))
    bench.measure(workers, BY_NAME, lambda: bench.gets(url, paths.by_name, key))
    not_modified = {**key, "If-None-Match": '"1"'}
    bench.measure(workers, NOT_MODIFIED, lambda: bench.gets(url, paths.by_id, not_modified))
    bench.measure(workers, MASKED, lambda: bench.gets(url, paths.masked, key))
    bench.measure(workers, JWT, lambda: bench.gets(url, paths.by_name, bearer))
    for count in PUT_CONNECTIONS:
        chosen = paths.writes[:count]
        etags = current_etags(server, chosen)
        bench.measure(
            workers,
            PUT.format(count),
            lambda: bench.puts(url, chosen, etags, key),  # noqa: B023
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipenv run bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small data set, 1 s per figure")
    parser.add_argument("--seconds", type=float, help="per figure (10; --quick: 1)")
    parser.add_argument(
        "--workers", type=int, help="the many-worker count (default: the CPUs this may use)"
    )
    parser.add_argument("--samples", type=int, help="change-to-client samples (200; --quick: 5)")
    parser.add_argument(
        "--waiters",
        type=int,
        default=0,
        help="also hold this many concurrent long polls on one instance (0: skip)",
    )
    arguments = parser.parse_args(argv)
    data = QUICK if arguments.quick else DataSet()
    seconds = arguments.seconds or (1.0 if arguments.quick else 10.0)
    samples = arguments.samples or (5 if arguments.quick else 200)
    many = arguments.workers or len(os.sched_getaffinity(0))
    use_wrk = wrk_path() is not None
    if not use_wrk:
        print(
            "WARNING: wrk is not installed (apt-get install wrk): load comes from Python"
            " threads on the same cores, so the figures measure the load generator too.",
            file=sys.stderr,
        )
    settings = load_settings()
    postgresql = resolve_database_url(settings)
    with temporary_database(postgresql, prefix="config_service_benchmark") as database_url:
        MigrationRunner(database_url).up()
        with SessionCounter(database_url) as sessions:
            bench = Bench(seconds=seconds, use_wrk=use_wrk, report=print, sessions=sessions)
            bench.report(f"{machine()}, PostgreSQL {sessions.server_version()}")
            key = admin_key(database_url)
            measure_all(
                bench,
                database_url,
                key,
                data,
                many=many,
                samples=samples,
                waiters=arguments.waiters,
            )
            print_results(bench, data, many=many, seconds=seconds, arguments=argv)
    return 0


def report_waiters(bench: Bench, writer: Server, waiter: Server, target: str, count: int) -> None:
    """`count` long polls held on one single-process instance: memory each, and how fast one
    write answers them all (the RSS is the server process's, hence one worker only)."""
    limit = raise_open_files_limit()
    per_waiter, answered, woken = many_waiters(waiter, writer, target, count=count)
    line = (
        f"{count:,} concurrent long polls on one instance (WORKERS=1, open files limit {limit}):"
        f" {per_waiter / 1024:.1f} KiB RSS per waiter; one write answered {woken:,} with 200"
        f" in {answered * 1000:.0f} ms"
    )
    bench.run.notes.append(line)
    bench.report(f"  {line}")


def measure_all(
    bench: Bench,
    database_url: str,
    key: str,
    data: DataSet,
    *,
    many: int,
    samples: int,
    waiters: int,
) -> None:
    counts = sorted({1, many})
    secrets_key = base64.b64encode(os.urandom(32)).decode()
    with run_oidc_issuer(families=("RSA",)) as issuer:
        base = {
            "SECRETS_KEYS": f"bench:{secrets_key}",
            "OIDC_ISSUERS": json.dumps(trusting(issuer)),
        }
        token = issuer.token(issuer.claims(subject=IDENTITY_SUBJECT, lifetime=3600))
        settings = {**base, "WORKERS": str(many)}
        with running_server(database_url, key=key, settings=settings) as server:
            bench.report(f"seeding through the API (WORKERS={many}, {SEED_THREADS} client threads)")
            seeded = seed_through_api(server.client, data, bench.seeding)
            bind_token(server, issuer)
        paths = read_paths(seeded)
        for workers in counts:
            settings = {**base, "WORKERS": str(workers)}
            with running_server(database_url, key=key, settings=settings) as server:
                wait_for_token(server, paths.by_name[0], token)
                if workers == 1:
                    with running_bare_app() as bare:
                        bench.measure(1, BARE, lambda: bench.gets(bare, ["/bare"], {}))
                reads_and_writes(bench, server, workers, paths, token)
                with running_server(database_url, key=key, settings=settings) as other:
                    delays = change_to_client(server, other, paths.latency, samples=samples)
                    p50, p99 = p50_p99_ms(delays)
                    bench.run.latencies[workers] = (p50, p99, len(delays))
                    bench.report(
                        f"  WORKERS={workers} change to client across two instances:"
                        f" p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(delays)} samples)"
                    )
                    if waiters and workers == 1:
                        report_waiters(bench, server, other, paths.waiters, waiters)
        seed_extra_in_bulk(database_url, seeded, data.extra, bench.seeding)
        large_figures(bench, database_url, key, base, seeded, data, counts)


def large_figures(
    bench: Bench,
    database_url: str,
    key: str,
    base: dict[str, str],
    seeded: Seeded,
    data: DataSet,
    counts: list[int],
) -> None:
    """Start-up, reads, and the first and a deep page with the extra configurations."""
    total = data.total_after_extra
    paths = read_paths(seeded)
    # As many configurations as the 10,000 figure reads, drawn from all of them: the same
    # working set, in a data set eleven times larger.
    everything = paths.by_id + [f"/api/v1/configurations/{item}" for item in seeded.extra]
    rng = random.Random(18)  # noqa: S311 (a sample, not security)  # nosec B311
    by_id = rng.sample(everything, len(paths.by_id))
    listed = f"/api/v1/applications/{seeded.listed_application}/configurations?limit=100"
    deep = f"{listed}&after={seeded.listed[data.deep_after - 1]}"
    for workers in counts:
        settings = {**base, "WORKERS": str(workers)}
        with running_server(database_url, key=key, settings=settings) as server:
            bench.run.start_up_seconds[workers] = server.start_up_seconds
            bench.report(
                f"  WORKERS={workers} start-up with {total:,} configurations:"
                f" {server.start_up_seconds:.1f} s"
            )
            url, headers = server.url, server.key_headers
            ceiling = CEILING_LARGE.format(total)
            warm(bench, server, workers, by_id)

            def figure(scenario: str, paths: list[str], headers: dict[str, str]) -> None:
                bench.measure(
                    workers,  # noqa: B023
                    scenario,
                    lambda: bench.gets(url, paths, headers),  # noqa: B023
                    ceiling=ceiling,  # noqa: B023
                )

            figure(ceiling, ["/health/live"], {})
            figure(BY_ID_LARGE.format(total), by_id, headers)
            figure(FIRST_PAGE, [listed], headers)
            figure(DEEP_PAGE.format(data.deep_after), [deep], headers)


def print_results(
    bench: Bench, data: DataSet, *, many: int, seconds: float, arguments: list[str] | None
) -> None:
    """The Markdown to paste into README "How fast"."""
    command = " ".join(["pipenv run bench", *(sys.argv[1:] if arguments is None else arguments)])
    generator = (
        f"wrk, {READ_CONNECTIONS} connections for reads"
        if bench.use_wrk
        else f"{PYTHON_THREADS} Python threads (no wrk: the figures measure the client too)"
    )
    with_sessions = bench.sessions
    lines = [
        "",
        f"`{command}` on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC;"
        f" {machine()}, PostgreSQL {with_sessions.server_version()}; load from {generator},"
        f" {seconds:g} s per figure; WORKERS=1 and WORKERS={many}.",
        "",
        *bench.run.seeding,
        "",
        *table(bench.run),
        "",
        "| workers | change to client across two instances | p50 ms | p99 ms | samples |",
        "|---|---|---:|---:|---:|",
        *(
            f"| {workers} | write on one, long poll answered on the other"
            f" | {p50:.1f} | {p99:.1f} | {count} |"
            for workers, (p50, p99, count) in sorted(bench.run.latencies.items())
        ),
        *(["", *bench.run.notes] if bench.run.notes else []),
        "",
        *target_table(
            targets(
                bench.run, workers=many, large=data.total_after_extra, deep_after=data.deep_after
            )
        ),
    ]
    bench.report("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
