"""The disk cache: private (0700 directory, 0600 files, checked at start), atomic, and a
file that cannot be read back exactly is ignored with a warning, never served."""

from __future__ import annotations

import json
import logging
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config_service_client.disk_cache import DiskCache
from config_service_client.document import Document
from config_service_client.errors import InsecureCacheDirectory

URL = "http://config.example:8000"
FETCHED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def document(revision: int = 3, name: str = "production") -> Document:
    return Document(
        application="billing",
        name=name,
        value={"pool": revision, "secret": "s3cr3t"},
        revision=revision,
        etag=f'"{revision}"',
        fetched_at=FETCHED,
    )


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_directory_is_made_private_and_documents_come_back_stale(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "cache"
    cache = DiskCache(directory, URL)
    cache.store(document())
    files = list(directory.iterdir())
    assert (mode_of(directory), [mode_of(path) for path in files]) == (0o700, [0o600])
    loaded = cache.load("billing", "production")
    assert loaded == Document(
        application="billing",
        name="production",
        value={"pool": 3, "secret": "s3cr3t"},
        revision=3,
        etag='"3"',
        fetched_at=FETCHED,
        stale=True,
    )
    assert cache.load("billing", "staging") is None
    assert DiskCache(directory, "http://other:8000").load("billing", "production") is None
    cache.forget("billing", "production")
    assert cache.load("billing", "production") is None


@pytest.mark.parametrize(("target", "mode"), [("directory", 0o755), ("file", 0o644)])
def test_a_cache_others_may_read_is_refused_at_start(
    tmp_path: Path, target: str, mode: int
) -> None:
    directory = tmp_path / "cache"
    DiskCache(directory, URL).store(document())
    path = directory if target == "directory" else next(directory.iterdir())
    path.chmod(mode)
    with pytest.raises(InsecureCacheDirectory) as refused:
        DiskCache(directory, URL)
    fix = "chmod 700" if target == "directory" else "chmod 600"
    assert f"the cache {target} {path} has mode 0{mode:o}" in str(refused.value)
    assert f"run `{fix} {path}`" in str(refused.value)


def test_a_link_in_place_of_a_cache_file_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    DiskCache(directory, URL)
    (directory / "x.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(InsecureCacheDirectory, match="is a link or a special file"):
        DiskCache(directory, URL)


def corrupt(path: Path, how: str) -> None:
    raw = path.read_bytes()
    record = json.loads(raw)
    if how == "cut short":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "value edited":
        record["value"]["pool"] = 4
        path.write_text(json.dumps(record))
    elif how == "revision not a number":
        record["revision"] = "3"
        path.write_text(json.dumps(record))
    elif how == "other format":
        record["format"] = 2
        path.write_text(json.dumps(record))
    elif how == "field missing":
        del record["etag"]
        path.write_text(json.dumps(record))
    elif how == "time without a zone":  # its age could not be told: a TypeError when served
        record["fetched_at"] = "2030-01-02T03:04:05"
        path.write_text(json.dumps(record))


@pytest.mark.parametrize(
    "how",
    [
        "cut short",
        "value edited",
        "revision not a number",
        "other format",
        "field missing",
        "time without a zone",
    ],
)
def test_a_corrupt_file_is_ignored_with_a_warning(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = DiskCache(tmp_path / "cache", URL)
    cache.store(document())
    cache.store(document(name="staging"))
    path = cache.path_of("billing", "production")
    corrupt(path, how)
    with caplog.at_level(logging.WARNING, logger="config_service_client"):
        assert cache.load("billing", "production") is None
        assert [found.name for found in cache.documents_of("billing")] == ["staging"]
    assert caplog.records[0].getMessage().startswith(f"ignoring the corrupt cache file {path}: ")


def test_a_file_holding_another_configuration_is_not_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = DiskCache(tmp_path / "cache", URL)
    cache.store(document(name="staging"))
    cache.path_of("billing", "staging").rename(cache.path_of("billing", "production"))
    with caplog.at_level(logging.WARNING, logger="config_service_client"):
        assert cache.load("billing", "production") is None
    assert "it holds another configuration" in caplog.text
