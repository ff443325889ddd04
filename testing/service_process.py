"""`python main.py serve` in a process of its own, for the tests of serving (main_test.py and
main_workers_test.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess  # the service's own entry point with a fixed argument list  # nosec B404
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from psycopg2.extensions import make_dsn

from config.settings import PROJECT_ROOT
from testing.ports import free_port

# Never checked (the test server trusts local connections); must never appear in a log.
CANARY_PASSWORD = "canary-serve-Pa55-4c1d"  # noqa: S105  # nosec B105
GRACE_SECONDS = 10
OK = 200
STOP_SECONDS = GRACE_SECONDS + 10


@contextmanager
def service_process(
    database_url: str, log_path: Path, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The service in a process of its own; its log (stdout and stderr) in a file."""
    port = free_port()
    environment = {
        **os.environ,
        # The embedded test server trusts local connections, so the password is never checked.
        "DATABASE_URL": make_dsn(database_url, password=CANARY_PASSWORD),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "info",
        "DATABASE_LOCK_TIMEOUT_MS": "20000",
        "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "WORKERS": "1",  # tests of several workers say so
        **settings,
    }
    environment.pop("LOG_FORMAT", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # nosec B603
            [sys.executable, "main.py", "serve"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers too are ended below, whatever happens
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()  # noqa: S101  # nosec B101
            assert time.monotonic() < deadline, "the service did not start within 30 s"  # noqa: S101  # nosec B101
            try:
                if httpx.get(url + "/health/live", timeout=2).status_code == OK:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:  # a graceful end first, so its workers' files are removed
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
