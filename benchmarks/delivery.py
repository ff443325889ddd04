"""The delivery part of `pipenv run bench`: reads against this machine's ceiling, the time from
a write to a waiting client on another instance, and many concurrent long polls.

Load comes from `wrk` when it is installed (`apt install wrk`, `brew install wrk`): a Python
client on the same cores saturates before the server does. Without it, the Python client of
benchmarks/load.py runs, and the output says so.
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import subprocess  # runs wrk with a fixed argument list, never a shell  # nosec B404
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from benchmarks.load import run
from benchmarks.server import Server
from benchmarks.waiters import many_waiters, raise_open_files_limit

WRK_CONNECTIONS = 32
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class Throughput:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Throughput:
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if rate is None or p50 is None or p99 is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = sum(
        int(count)
        for count in re.findall(r"(?:Non-2xx or 3xx responses|timeout)\s*:?\s*(\d+)", output)
    )
    return Throughput(
        float(rate.group(1)), _seconds(p50.group(1)) * 1000, _seconds(p99.group(1)) * 1000, errors
    )


def _lua_script(paths: list[str], headers: dict[str, str]) -> str:
    listed = ", ".join('"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"' for path in paths)
    header_lines = "".join(
        f'wrk.headers["{name}"] = "{value.replace(chr(34), chr(92) + chr(34))}"\n'
        for name, value in headers.items()
    )
    return (
        f"local paths = {{{listed}}}\n{header_lines}"
        "request = function()\n"
        "  return wrk.format(nil, paths[math.random(#paths)])\n"
        "end\n"
    )


def with_wrk(
    base_url: str, paths: list[str], headers: dict[str, str], seconds: float
) -> Throughput:
    wrk = shutil.which("wrk") or "wrk"
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "paths.lua"
        script.write_text(_lua_script(paths, headers), encoding="utf-8")
        output = subprocess.run(  # noqa: S603 (a fixed argument list)  # nosec B603
            [
                wrk,
                "-t1",
                f"-c{WRK_CONNECTIONS}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                str(script),
                base_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return parse_wrk(output)


def with_python(
    server: Server, paths: list[str], headers: dict[str, str], seconds: float, threads: int
) -> Throughput:
    def request(client: httpx.Client, rng: random.Random) -> httpx.Response:
        return client.get(rng.choice(paths), headers=headers)

    result = run(server.url, request, headers=server.key_headers, seconds=seconds, threads=threads)
    cuts = percentiles(result.latencies)
    rate = len(result.latencies) / seconds
    return Throughput(rate, cuts[49] * 1000, cuts[98] * 1000, result.errors)


def percentiles(values: list[float]) -> list[float]:
    if len(values) < 2:  # noqa: PLR2004
        return (values or [0.0]) * 99
    return statistics.quantiles(values, n=100)


def load_generator() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def read_scenarios(
    application_name: str, ids: list[str], names: list[str], key_headers: dict[str, str]
) -> dict[str, tuple[list[str], dict[str, str]]]:
    by_name = [f"/api/v1/values/{quote(application_name, safe='')}/{name}" for name in names]
    return {
        "GET /health/live (ceiling)": (["/health/live"], {}),
        "GET configuration by id": ([f"/api/v1/configurations/{i}" for i in ids], key_headers),
        "GET values by name": (by_name, key_headers),
        "GET by id, If-None-Match (304)": (
            [f"/api/v1/configurations/{i}" for i in ids],
            {**key_headers, "If-None-Match": '"1"'},
        ),
    }


def measure_reads(
    server: Server,
    scenarios: dict[str, tuple[list[str], dict[str, str]]],
    *,
    seconds: float,
    threads: int,
    report: Callable[[str], None],
) -> None:
    generator = load_generator()
    report(
        f"\nDelivery reads, load from {generator}"
        + (f" ({WRK_CONNECTIONS} connections)" if generator == "wrk" else f" ({threads} threads)")
    )
    report(f"{'scenario':<34}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    ceiling = None
    for name, (paths, headers) in scenarios.items():
        if generator == "wrk":
            measured = with_wrk(server.url, paths, headers, seconds)
        else:
            measured = with_python(server, paths, headers, seconds, threads)
        ceiling = ceiling or measured.requests_per_second
        ratio = measured.requests_per_second / ceiling if ceiling else 0.0
        report(
            f"{name:<34}{measured.requests_per_second:>10.0f}{ratio:>8.2f}"
            f"{measured.p50_ms:>9.2f}{measured.p99_ms:>9.2f}{measured.errors:>8}"
        )


def change_to_client(
    writer_server: Server, waiter_server: Server, configuration_id: str, *, samples: int
) -> list[float]:
    """Seconds from a write's response on one instance to a waiting client's response on the
    other, `samples` times."""
    path = f"/api/v1/configurations/{configuration_id}"
    with writer_server.client() as writer, waiter_server.client() as reader:
        etag = reader.get(path).headers["etag"]
        delays = []
        for sample in range(samples):
            delay, etag = _one_change(writer, reader, path, etag, sample)
            delays.append(delay)
    return delays


def _one_change(
    writer: httpx.Client, reader: httpx.Client, path: str, etag: str, sample: int
) -> tuple[float, str]:
    answered: list[float] = []

    def wait() -> None:
        response = reader.get(path, headers={"If-None-Match": etag, "Prefer": "wait=30"})
        answered.append(time.perf_counter())
        if response.status_code != httpx.codes.OK:
            raise RuntimeError(f"the long poll got {response.status_code}")

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.02)  # let the request reach the server and wait
    response = writer.patch(
        path,
        content=f'{{"config": {{"sample": {sample}}}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    written = time.perf_counter()
    thread.join()
    return max(0.0, answered[0] - written), response.headers["etag"]


def seed_delivery(client: httpx.Client, configurations: int) -> tuple[str, list[str], list[str]]:
    """An application with `configurations` small documents, plus two to write to: returns
    its name, the ids and the names (the last two ids are for the write-to-client and
    many-waiters measurements)."""
    name = f"delivery bench {time.time_ns()}"
    application = client.post("/api/v1/applications", json={"name": name}).json()
    document = {"database": {"host": "db.internal", "pool_size": 20}, "features": {"x": True}}
    ids, names = [], []
    for index in range(configurations + 2):
        created = client.post(
            "/api/v1/configurations",
            json={"application_id": application["id"], "name": f"c{index}", "config": document},
        ).json()
        ids.append(created["id"])
        names.append(f"c{index}")
    return name, ids, names


def run_delivery(
    *,
    first: Server,
    second: Server,
    seconds: float,
    threads: int,
    configurations: int,
    samples: int,
    waiters: int,
    report: Callable[[str], None] = print,
) -> None:
    writer, waiter = first, second
    with writer.client() as client:
        application_name, ids, names = seed_delivery(client, configurations)
    *read_ids, latency_id, waiters_id = ids
    scenarios = read_scenarios(application_name, read_ids, names[:-2], waiter.key_headers)
    measure_reads(waiter, scenarios, seconds=seconds, threads=threads, report=report)

    delays = sorted(change_to_client(writer, waiter, latency_id, samples=samples))
    cuts = percentiles(delays)
    report(
        f"\nWrite on one instance to a waiting client's answer on the other ({len(delays)} "
        f"samples): p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms"
    )
    limit = raise_open_files_limit()
    per_waiter, answered, woken = many_waiters(waiter, writer, waiters_id, count=waiters)
    report(
        f"{waiters} concurrent long polls on one instance (open files limit {limit}): "
        f"{per_waiter / 1024:.1f} KiB RSS per waiter; one write answered {woken} with 200 "
        f"in {answered * 1000:.0f} ms"
    )
