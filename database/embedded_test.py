"""Run as root, the embedded PostgreSQL's side effects on the machine are announced first."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from database.embedded import SYSTEM_USER, root_changes, warn_about_root_changes


@pytest.fixture
def private_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A data folder and a binaries folder below a folder only its owner may enter."""
    closed = tmp_path / "closed"
    (closed / "pg" / "data").mkdir(parents=True)
    (closed / "bin").mkdir()
    closed.chmod(0o700)
    tmp_path.chmod(0o755)
    return closed / "pg" / "data", closed / "bin"


def test_every_folder_to_be_opened_is_named_with_its_modes(private_tree: tuple[Path, Path]) -> None:
    data, binaries = private_tree
    closed = data.parent.parent

    changes = root_changes(data, binaries)

    assert f"chmod go+rx {closed} (700 -> 755)" in changes
    assert [change for change in changes if str(closed.parent) in change] == [
        f"chmod go+rx {closed} (700 -> 755)"
    ]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only as root")
def test_the_warning_says_what_happens_as_root(
    private_tree: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    data, binaries = private_tree

    with caplog.at_level(logging.WARNING, logger="database.embedded"):
        warn_about_root_changes(data, binaries)

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("running as root: PostgreSQL will not run as root")
    assert f"system user {SYSTEM_USER!r}" in message
    assert f"chmod go+rx {data.parent.parent} (700 -> 755)" in message
    assert f"{data} is given to that user" in message
