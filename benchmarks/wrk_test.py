"""wrk's output is read right, and the PUT script carries ETags and reports a 412 once."""

from __future__ import annotations

import shutil

import pytest

from benchmarks.server import admin_key, running_server
from benchmarks.wrk import Throughput, get_script, parse_wrk, put_script, run_wrk
from testing.api_keys import bearer
from testing.seeding import create_application, create_configuration

OUTPUT = """Running 1s test @ http://127.0.0.1:1
  1 threads and 32 connections
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.00ms
     99%    1.50s
  1000 requests in 1.00s, 1.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   1234.50
Transfer/sec:      1.00MB
"""


def test_wrk_output_gives_rate_latencies_in_ms_and_every_error() -> None:
    assert parse_wrk(OUTPUT) == Throughput(1234.5, 0.812, 1500.0, 12)


def test_the_put_script_s_count_of_412s_is_read() -> None:
    measured = parse_wrk(OUTPUT + "Precondition failed (412): 5\n")
    assert (measured.errors, measured.conflicts) == (12, 5)
    assert parse_wrk(OUTPUT).conflicts == 0


def test_output_without_errors_counts_none() -> None:
    clean = "\n".join(
        line for line in OUTPUT.splitlines() if "errors" not in line and "Non-2xx" not in line
    )
    assert parse_wrk(clean).errors == 0


def test_output_that_is_not_wrk_s_is_refused_with_the_output() -> None:
    with pytest.raises(ValueError, match="unexpected wrk output:\nconnection refused"):
        parse_wrk("connection refused")


def test_the_get_script_escapes_paths_and_headers_as_lua_strings() -> None:
    script = get_script(['/a"b', "/c\\d"], {"If-None-Match": '"1"'})
    assert '"/a\\"b"' in script
    assert '"/c\\\\d"' in script
    assert 'wrk.headers["If-None-Match"] = "\\"1\\""' in script


def test_the_put_script_gives_each_thread_its_own_path_and_etag() -> None:
    script = put_script(["/x", "/y"], ['"3"', '"4"'], {"Authorization": "Bearer k"}, 10)
    assert 'local paths = {"/x", "/y"}' in script
    assert 'local etags = {"\\"3\\"", "\\"4\\""}' in script
    assert "thread:set('slot', next_thread)" in script
    assert "string.rep('p', 10)" in script


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_a_put_with_a_stale_etag_is_one_error_and_the_next_ones_succeed(
    database_url: str,
) -> None:
    key = admin_key(database_url, name="wrk test")
    with running_server(database_url, key=key) as server, server.client() as client:
        application = create_application(client)
        created = create_configuration(client, application["id"], "written", {"n": 0})
        path = f"/api/v1/configurations/{created['id']}"
        # Revision 1 is current: If-Match "7" gets 412, whose current revision the next uses.
        script = put_script([path], ['"7"'], bearer(key), 10)
        measured = run_wrk(server.url, script, seconds=1, connections=1, threads=1)
        after = client.get(path)

    assert (measured.errors, measured.conflicts) == (1, 1)
    assert measured.requests_per_second > 0
    assert after.json()["config"]["padding"] == "p" * 10
    assert after.json()["revision"] >= 2
