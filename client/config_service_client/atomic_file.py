"""Replace a file so that a reader sees the old content or the new, never a part of either,
and a crash (of this process or of the machine) leaves one of the two."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write `data` to a new file beside `path` (created with `mode`, never looser), fsync it,
    rename it over `path`, then fsync the directory so that the rename itself is durable."""
    directory = path.parent
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; widen only when asked to
                os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
    sync_directory(directory)


def sync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its renames need no directory fsync
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
