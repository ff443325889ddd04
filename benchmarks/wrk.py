"""Load from `wrk` (`apt-get install wrk`): GETs of a list of paths, and PUTs with `If-Match`
where each connection writes its own configuration and carries the ETag each answer gives."""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # runs wrk with a fixed argument list, never a shell  # nosec B404
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
# wrk may overrun its duration a little; beyond this margin it is stopped.
_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class Throughput:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    # Answers of 400 or more (a 412 of a PUT with If-Match among them), and socket errors.
    errors: int
    # Of those, 412s (only PUTs with If-Match count them).
    conflicts: int = 0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Throughput:
    """The rate, median and 99th percentile, and errors of `wrk --latency` output."""
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if rate is None or p50 is None or p99 is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = sum(int(count) for count in re.findall(r"Non-2xx or 3xx responses:\s*(\d+)", output))
    socket_errors = re.search(r"Socket errors:(.*)", output)
    if socket_errors is not None:
        errors += sum(int(count) for count in re.findall(r"\d+", socket_errors.group(1)))
    conflicts = re.search(r"Precondition failed \(412\): (\d+)", output)
    return Throughput(
        float(rate.group(1)),
        _seconds(p50.group(1)) * 1000,
        _seconds(p99.group(1)) * 1000,
        errors,
        int(conflicts.group(1)) if conflicts else 0,
    )


def _lua_string(value: str) -> str:
    """A Lua string literal of `value` (JSON's escapes are a subset of Lua's for ASCII)."""
    return json.dumps(value, ensure_ascii=True)


def get_script(paths: list[str], headers: dict[str, str]) -> str:
    """Each request a GET of one of `paths` at random, with `headers`."""
    listed = ",\n".join(_lua_string(path) for path in paths)
    header_lines = "".join(
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}\n"
        for name, value in headers.items()
    )
    return (
        f"local paths = {{\n{listed}\n}}\n{header_lines}"
        "request = function()\n"
        "  return wrk.format('GET', paths[math.random(#paths)])\n"
        "end\n"
    )


def put_script(paths: list[str], etags: list[str], headers: dict[str, str], padding: int) -> str:
    """PUTs with `If-Match`, one wrk thread (and connection) per path: each thread writes its
    own configuration, and takes the ETag of each answer (or a 412's current revision) for the
    next request, so a 412 is an error the run counts and reports (a line that parse_wrk
    reads) rather than a state it stays in."""
    header_lines = "".join(
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}\n"
        for name, value in headers.items()
    )
    listed_paths = ", ".join(_lua_string(path) for path in paths)
    listed_etags = ", ".join(_lua_string(etag) for etag in etags)
    return (
        f"local paths = {{{listed_paths}}}\n"
        f"local etags = {{{listed_etags}}}\n"
        "local next_thread = 1\n"
        "local threads = {}\n"
        "setup = function(thread)\n"
        "  thread:set('slot', next_thread)\n"
        "  table.insert(threads, thread)\n"
        "  next_thread = next_thread + 1\n"
        "end\n"
        f"{header_lines}"
        "wrk.headers['Content-Type'] = 'application/json'\n"
        f"local padding = string.rep('p', {padding})\n"
        "local counter = 0\n"
        "conflicts = 0\n"
        "init = function(args)\n"
        "  path = paths[slot]\n"
        "  etag = etags[slot]\n"
        "end\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        '  local body = \'{"config": {"counter": \' .. counter ..'
        " ', \"padding\": \"' .. padding .. '\"}}'\n"
        # wrk.format uses the headers it is given instead of wrk.headers: pass them all.
        "  local headers = {}\n"
        "  for name, value in pairs(wrk.headers) do headers[name] = value end\n"
        "  headers['If-Match'] = etag\n"
        "  return wrk.format('PUT', path, headers, body)\n"
        "end\n"
        "response = function(status, headers, body)\n"
        "  if status == 412 then\n"
        "    conflicts = conflicts + 1\n"
        "    local revision = string.match(body, '\"current_revision\"%s*:%s*(%d+)')\n"
        "    if revision then etag = '\"' .. revision .. '\"' end\n"
        "  else\n"
        "    etag = headers['etag'] or headers['ETag'] or etag\n"
        "  end\n"
        "end\n"
        "done = function(summary, latency, requests)\n"
        "  local total = 0\n"
        "  for _, thread in ipairs(threads) do total = total + thread:get('conflicts') end\n"
        "  io.write(string.format('Precondition failed (412): %d\\n', total))\n"
        "end\n"
    )


def run_wrk(
    base_url: str, script: str, *, seconds: float, connections: int, threads: int
) -> Throughput:
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    duration = max(1, round(seconds))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "load.lua"
        path.write_text(script, encoding="utf-8")
        completed = subprocess.run(  # noqa: S603 (a fixed argument list)  # nosec B603
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(path),
                base_url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + _MARGIN_SECONDS,
        )
    return parse_wrk(completed.stdout)
