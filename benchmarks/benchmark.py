"""Measure Config Service: `pipenv run bench [--seconds S] [--threads T] [--configurations N]`.

Starts the real server (`main.py serve`) on a throw-away database next to DATABASE_URL's, or on
the embedded PostgreSQL, seeds it, then runs each scenario for S seconds from T client threads
over keep-alive HTTP connections and prints requests per second and latency percentiles. It
asserts nothing about speed: the figures are for people to compare between changes.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess  # starts this service's own main.py, never a shell  # nosec B404
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from benchmarks.delivery import run_delivery
from benchmarks.waiters import KEY_HEADERS
from config.settings import load_settings
from database.migration_runner import MigrationRunner
from database.url import resolve_database_url
from testing.api_keys import create_api_key
from testing.databases import temporary_database

Request = Callable[[httpx.Client, random.Random], httpx.Response]


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(database_url: str) -> Iterator[str]:
    with running_process(database_url) as (base_url, _):
        yield base_url


@contextmanager
def running_process(database_url: str) -> Iterator[tuple[str, int]]:
    """The server's base URL and process id."""
    port = _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        # The benchmark is one caller sending as fast as it can: measure the service, not 429s.
        "RATE_LIMIT_PER_SECOND": "0",
        "RATE_LIMIT_ADDRESS_PER_SECOND": "0",
        "RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "0",
    }
    process = subprocess.Popen(  # sys.executable and a fixed argument list  # nosec B603
        [sys.executable, "main.py", "serve"], env=environment
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/health/ready", timeout=1).status_code == 200:  # noqa: PLR2004
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not become ready")
            time.sleep(0.1)
        # An admin key on this database, made as create-key makes one, for every request.
        settings = load_settings().model_copy(update={"database_url": SecretStr(database_url)})
        KEY_HEADERS["Authorization"] = f"Bearer {create_api_key(settings, name='bench').key}"
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


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


def run(base_url: str, request: Request, *, seconds: float, threads: int) -> Result:
    result = Result()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(seed_value: int) -> None:
        rng = random.Random(seed_value)  # noqa: S311 (load shape, not security)  # nosec B311
        latencies: list[float] = []
        errors = 0
        with httpx.Client(base_url=base_url, headers=KEY_HEADERS, timeout=30) as client:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = request(client, rng)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code >= 400  # noqa: PLR2004
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return result


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
    parser = argparse.ArgumentParser(prog="benchmarks/benchmark.py", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario (10)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (8)")
    parser.add_argument("--configurations", type=int, default=100, help="to seed (100)")
    parser.add_argument(
        "--samples", type=int, default=200, help="write-to-waiting-client samples (200)"
    )
    parser.add_argument("--waiters", type=int, default=10_000, help="concurrent long polls (10000)")
    arguments = parser.parse_args(argv)

    server = resolve_database_url(load_settings())
    with temporary_database(server, prefix="config_service_benchmark") as database_url:
        MigrationRunner(database_url).up()
        with (
            running_process(database_url) as first,
            running_process(database_url) as second,
            httpx.Client(base_url=first[0], headers=KEY_HEADERS) as client,
        ):
            base_url = first[0]
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
                    base_url, request, seconds=arguments.seconds, threads=arguments.threads
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
