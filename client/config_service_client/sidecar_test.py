"""The sidecar as a real process against the real service: `get` for scripts, `render` that
keeps a file current (never half-written), runs a command and signals a process after each
write, exits 0 on SIGTERM, and 1 with one clear line when it has no first document."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from config_service_client.conftest import Seeded, StoppedService, put, seed
from config_service_client.sidecar import main
from conftest import LiveServer

GENEROUS_SECONDS = 30.0
PROGRAM = [sys.executable, "-m", "config_service_client"]


def environment(url: str, key: str) -> dict[str, str]:
    return {**os.environ, "CONFIG_SERVICE_URL": url, "CONFIG_SERVICE_TOKEN": key}


def run(arguments: list[str], url: str, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (the sidecar itself, with the test's arguments)
        [*PROGRAM, *arguments],
        env=environment(url, key),
        capture_output=True,
        text=True,
        timeout=GENEROUS_SECONDS,
        check=False,
    )


def test_get_prints_the_document_as_json(
    live_server: LiveServer, admin: httpx.Client, admin_key: str
) -> None:
    seeded = seed(admin, {"database": {"pool_size": 20}, "name": "Zürich"})
    printed = run(["get", seeded.application, "production"], live_server.url, admin_key)
    assert (printed.returncode, printed.stderr) == (0, "")
    assert json.loads(printed.stdout) == {"database": {"pool_size": 20}, "name": "Zürich"}


def test_get_without_the_service_serves_the_cache_or_says_why_not(
    stopped_service: StoppedService,
) -> None:
    down = stopped_service
    cached = run(
        ["get", down.application, "production", "--cache-dir", str(down.cache), "--timeout", "2"],
        down.url,
        down.key,
    )
    nothing = run(["get", down.application, "production", "--timeout", "2"], down.url, down.key)
    missing = run(["get", down.application, "staging", "--timeout", "2"], down.url, down.key)

    assert (cached.returncode, json.loads(cached.stdout)) == (0, {"feature": "on"})
    assert cached.stderr.startswith(
        "config-service-client: serving the last good document of "
        f"{down.application}/production (revision 1"
    )
    assert nothing.returncode == 1
    assert nothing.stdout == ""
    assert nothing.stderr.splitlines() == [
        f"config-service-client: cannot get {down.application}/production: cannot reach "
        f"{down.url} for {down.application}/production (ConnectError: [Errno 111] Connection "
        "refused) and no cache_dir to fall back on"
    ]
    assert missing.returncode == 1


def test_wrong_arguments_are_refused_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["render", "a", "b", "--output", "x", "--signal", "HUP"])
    assert refused.value.code == 2
    assert "--signal and --pid-file go together" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_mode:
        main(["render", "a", "b", "--output", "x", "--mode", "9"])
    assert bad_mode.value.code == 2
    assert "--mode must be octal, e.g. 600 or 0644 (got '9')" in capsys.readouterr().err


@contextmanager
def rendering(
    seeded: Seeded, url: str, key: str, output: Path, *options: str
) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(  # noqa: S603 (the sidecar itself)
        [*PROGRAM, "render", seeded.application, seeded.name, "--output", str(output), *options],
        env=environment(url, key),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=GENEROUS_SECONDS)
        if process.stderr is not None:
            process.stderr.close()


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + GENEROUS_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.02)


def content(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


HANGUP_COUNTER = """
import signal, sys, time
signal.signal(signal.SIGHUP, lambda *_: open(sys.argv[1], "a").write("HUP\\n"))
open(sys.argv[2], "w").write("ready")
time.sleep(120)
"""
APPEND_COPY = "import sys; open(sys.argv[2], 'a').write(open(sys.argv[1]).read())"


def test_render_keeps_the_file_current_runs_the_command_signals_and_stops_on_sigterm(
    live_server: LiveServer, admin: httpx.Client, admin_key: str, tmp_path: Path
) -> None:
    seeded = seed(admin, {"v": 1})
    output, copies, hangups, ready = (tmp_path / name for name in ("c.json", "log", "hups", "ok"))
    counter = subprocess.Popen(  # noqa: S603 (a script of this test)
        [sys.executable, "-c", HANGUP_COUNTER, str(hangups), str(ready)]
    )
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(f"{counter.pid}\n")
    command = f"{sys.executable} -c {json.dumps(APPEND_COPY)} {output} {copies}"
    try:
        wait_until(ready.exists, "the process to signal is ready")
        with rendering(
            seeded,
            live_server.url,
            admin_key,
            output,
            "--exec",
            command,
            "--signal",
            "HUP",
            "--pid-file",
            str(pid_file),
        ) as sidecar:
            wait_until(lambda: content(output) == {"v": 1}, "the first document is written")
            mode = stat.S_IMODE(output.stat().st_mode)
            put(admin, seeded, {"v": 2})
            wait_until(lambda: hangups.exists() and len(hangups.read_text()) == 8, "two HUPs")
            sidecar.send_signal(signal.SIGTERM)
            status = sidecar.wait(timeout=GENEROUS_SECONDS)
            assert sidecar.stderr is not None
            log = sidecar.stderr.read()
    finally:
        counter.kill()
        counter.wait()

    assert (status, mode, content(output)) == (0, 0o600, {"v": 2})
    assert copies.read_text() == '{\n  "v": 1\n}\n{\n  "v": 2\n}\n'  # each run saw a whole file
    assert f"wrote revision 1 of {seeded.application}/production to {output}" in log
    assert f"wrote revision 2 of {seeded.application}/production to {output}" in log
    assert log.rstrip().endswith("config-service-client: stopped by SIGTERM")


def test_the_rendered_file_is_never_seen_half_written(
    live_server: LiveServer, admin: httpx.Client, admin_key: str, tmp_path: Path
) -> None:
    def document(version: int) -> dict[str, Any]:
        return {"version": version, "padding": [str(version) * 64] * 4000}  # about 260 KB

    seeded = seed(admin, document(1))
    output = tmp_path / "config.json"
    seen: list[int] = []
    failures: list[str] = []
    done = threading.Event()

    def read_all_the_time() -> None:
        while not done.is_set():
            try:
                text = output.read_text()
            except FileNotFoundError:
                continue
            try:
                found = json.loads(text)
            except ValueError:
                failures.append(f"{len(text)} characters that are no JSON")
                continue
            if found != document(found["version"]):
                failures.append(f"version {found['version']} is not what was written")
            seen.append(found["version"])

    reader = threading.Thread(target=read_all_the_time)
    with rendering(seeded, live_server.url, admin_key, output, "--mode", "644"):
        wait_until(output.exists, "the first write")
        reader.start()
        try:
            for version in range(2, 12):
                put(admin, seeded, document(version))
                wait_until(lambda v=version: bool(seen) and seen[-1] == v, f"version {version}")
        finally:
            done.set()
            reader.join()
        mode = stat.S_IMODE(output.stat().st_mode)
    assert failures == []
    assert sorted(set(seen)) == list(range(1, 12)) or sorted(set(seen)) == list(range(2, 12))
    assert mode == 0o644
    assert [path.name for path in tmp_path.iterdir()] == ["config.json"]  # no leftovers


def test_render_without_a_first_document_exits_1_with_one_line(tmp_path: Path) -> None:
    closed = "http://127.0.0.1:9"
    result = run(
        ["render", "billing", "production", "--output", str(tmp_path / "x"), "--timeout", "2"],
        closed,
        "cs_anykey_whatever",
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"config-service-client: cannot get billing/production: cannot reach {closed} for "
        "billing/production (ConnectError: [Errno 111] Connection refused) and no cache_dir "
        "to fall back on"
    ]
    assert not (tmp_path / "x").exists()


def test_render_that_cannot_write_its_file_exits_1_with_one_line(
    live_server: LiveServer, admin: httpx.Client, admin_key: str, tmp_path: Path
) -> None:
    seeded = seed(admin, {"v": 1})
    output = tmp_path / "missing" / "config.json"
    result = run(
        ["render", seeded.application, "production", "--output", str(output)],
        live_server.url,
        admin_key,
    )
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        [f"config-service-client: cannot write {output}: No such file or directory"],
    )


def test_a_cache_dir_that_cannot_be_made_exits_1_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    cache = tmp_path / "file" / "cache"
    result = run(
        ["get", "billing", "production", "--cache-dir", str(cache)], "http://127.0.0.1:9", "k"
    )
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        [f"config-service-client: cannot get billing/production: Not a directory: {cache}"],
    )
