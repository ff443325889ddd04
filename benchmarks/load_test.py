"""The Python load generator (used without wrk) sends what wrk would: GETs of the paths, and
PUTs with If-Match that count a 412 once and carry on from the current revision."""

from __future__ import annotations

import httpx

from benchmarks import load
from benchmarks.wrk import Throughput
from conftest import LiveServer
from testing.api_keys import bearer
from testing.seeding import create_application, create_configuration


def test_gets_are_counted_and_a_404_is_an_error(
    live_server: LiveServer, client: httpx.Client
) -> None:
    assert live_server.admin_key is not None
    application = create_application(client)
    created = create_configuration(client, application["id"], "read", {"n": 1})
    headers = bearer(live_server.admin_key)

    found = load.run(
        live_server.url,
        load.gets([f"/api/v1/configurations/{created['id']}"], headers),
        seconds=0.3,
        threads=2,
    )
    missing = load.run(
        live_server.url,
        load.gets(["/api/v1/configurations/01JQ0000000000000000000000"], headers),
        seconds=0.3,
        threads=1,
    )

    assert found.requests_per_second > 0
    assert found.errors == 0
    assert missing.errors == round(missing.requests_per_second * 0.3)


def test_a_stale_etag_is_one_error_and_the_writes_after_it_succeed(
    live_server: LiveServer, client: httpx.Client
) -> None:
    assert live_server.admin_key is not None
    application = create_application(client)
    created = create_configuration(client, application["id"], "written", {"n": 0})
    path = f"/api/v1/configurations/{created['id']}"

    measured = load.run(
        live_server.url,
        load.puts([path], ['"9"'], bearer(live_server.admin_key), 5),
        seconds=0.3,
        threads=1,
    )

    assert (measured.errors, measured.conflicts) == (1, 1)
    after = client.get(path).json()
    assert after["config"]["padding"] == "ppppp"
    assert after["revision"] == round(measured.requests_per_second * 0.3)


def test_a_summary_gives_the_rate_and_percentiles_in_milliseconds() -> None:
    latencies = [index / 1000 for index in range(1, 101)]
    summary = load.summarise(latencies, 2, 2.0)
    assert (summary.requests_per_second, summary.errors) == (50.0, 2)
    assert (round(summary.p50_ms, 6), round(summary.p99_ms, 6)) == (50.5, 99.99)
    assert load.summarise([0.004], 0, 1.0) == Throughput(1.0, 4.0, 4.0, 0)
    assert load.summarise([], 0, 1.0) == Throughput(0.0, 0.0, 0.0, 0)
