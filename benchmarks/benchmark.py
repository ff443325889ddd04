"""Measure Config Service: `pipenv run bench [--seconds S] [--threads T] [--configurations N]`.

Starts two real servers (`main.py serve`, benchmarks/server.py) on a throw-away database next
to DATABASE_URL's, or on the embedded PostgreSQL, seeds it, then runs each scenario for S
seconds from T client threads over keep-alive HTTP connections and prints requests per second
and latency percentiles; then the delivery figures (benchmarks/delivery.py). It asserts nothing
about speed: the figures are for people to compare between changes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time

import httpx

from benchmarks.delivery import run_delivery
from benchmarks.load import Request, Result, run
from benchmarks.server import running_server
from config.settings import load_settings
from database.migration_runner import MigrationRunner
from database.url import resolve_database_url
from testing.databases import temporary_database


def seed(client: httpx.Client, configurations: int) -> list[str]:
    application = client.post(
        "/api/v1/applications", json={"name": f"benchmark-{time.time_ns()}"}
    ).json()
    document = {
        "database": {"host": "db.internal", "pool_size": 20, "timeout_seconds": 2.5},
        "features": {f"flag_{index}": index % 2 == 0 for index in range(50)},
        "limits": [{"name": f"tier-{index}", "rps": index * 100} for index in range(20)],
    }
    ids = []
    for index in range(configurations):
        response = client.post(
            "/api/v1/configurations",
            json={"application_id": application["id"], "name": f"c{index}", "config": document},
        )
        ids.append(response.json()["id"])
    return [application["id"], *ids]


def scenarios(application_id: str, ids: list[str]) -> dict[str, Request]:
    etags: dict[str, str] = {}

    def read(client: httpx.Client, rng: random.Random) -> httpx.Response:
        return client.get(f"/api/v1/configurations/{rng.choice(ids)}")

    def revalidate(client: httpx.Client, rng: random.Random) -> httpx.Response:
        configuration_id = rng.choice(ids)
        if configuration_id not in etags:
            etags[configuration_id] = client.get(
                f"/api/v1/configurations/{configuration_id}"
            ).headers["etag"]
        return client.get(
            f"/api/v1/configurations/{configuration_id}",
            headers={"If-None-Match": etags[configuration_id]},
        )

    def write(client: httpx.Client, rng: random.Random) -> httpx.Response:
        # Each thread writes its own configuration: this measures writes, not contention.
        configuration_id = ids[threading.get_ident() % len(ids)]
        return client.patch(
            f"/api/v1/configurations/{configuration_id}",
            content=f'{{"config": {{"counter": {rng.random()}}}}}',
            headers={"Content-Type": "application/merge-patch+json"},
        )

    def list_page(client: httpx.Client, _: random.Random) -> httpx.Response:
        return client.get(f"/api/v1/applications/{application_id}/configurations?limit=100")

    return {
        "GET configuration": read,
        "GET, If-None-Match (304)": revalidate,
        "PATCH configuration": write,
        "GET list of 100": list_page,
    }


def format_row(name: str, result: Result, seconds: float) -> str:
    latencies = sorted(result.latencies)
    count = len(latencies)
    if count < 2:  # noqa: PLR2004
        return f"{name:<28}{count:>9}{'-':>10}{'-':>9}{'-':>9}{'-':>9}{result.errors:>8}"
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"{name:<28}{count:>9}{count / seconds:>10.0f}"
        f"{cuts[49] * 1000:>9.2f}{cuts[94] * 1000:>9.2f}{cuts[98] * 1000:>9.2f}{result.errors:>8}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipenv run bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario (10)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (8)")
    parser.add_argument("--configurations", type=int, default=100, help="to seed (100)")
    parser.add_argument(
        "--samples", type=int, default=200, help="write-to-waiting-client samples (200)"
    )
    parser.add_argument("--waiters", type=int, default=10_000, help="concurrent long polls (10000)")
    arguments = parser.parse_args(argv)

    postgresql = resolve_database_url(load_settings())
    with temporary_database(postgresql, prefix="config_service_benchmark") as database_url:
        MigrationRunner(database_url).up()
        with (
            running_server(database_url) as first,
            running_server(database_url) as second,
            first.client() as client,
        ):
            application_id, *ids = seed(client, arguments.configurations)
            print(
                f"{arguments.threads} client threads, {arguments.seconds:g} s per scenario, "
                f"{len(ids)} configurations; latencies in ms"
            )
            print(
                f"{'scenario':<28}{'requests':>9}{'req/s':>10}{'p50':>9}{'p95':>9}{'p99':>9}{'errors':>8}"
            )
            for name, request in scenarios(application_id, ids).items():
                result = run(
                    first.url,
                    request,
                    headers=first.key_headers,
                    seconds=arguments.seconds,
                    threads=arguments.threads,
                )
                print(format_row(name, result, arguments.seconds), flush=True)
            run_delivery(
                first=first,
                second=second,
                seconds=arguments.seconds,
                threads=arguments.threads,
                configurations=arguments.configurations,
                samples=arguments.samples,
                waiters=arguments.waiters,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
