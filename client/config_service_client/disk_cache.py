"""The last good document of each configuration, kept on disk for a start without the service.

A cached document holds what the client's key may see, secret values included for a key that
may reveal them, so the directory and its files are the owner's alone: the directory is 0700
and each file 0600, checked when the cache is opened (a looser one is refused, naming the
command that fixes it). Files are written atomically (write, fsync, rename); one that cannot
be read back exactly (cut short, edited, from another format) is ignored with a warning and
never served.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

from config_service_client.atomic_file import write_atomically
from config_service_client.document import Document
from config_service_client.errors import InsecureCacheDirectory

logger = logging.getLogger("config_service_client")

FORMAT = 1
SUFFIX = ".json"
CHECKS_PERMISSIONS = os.name == "posix"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checksum(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


class DiskCache:
    """Documents of one service (`base_url`) in `directory`, one file per configuration."""

    def __init__(self, directory: str | os.PathLike[str], base_url: str) -> None:
        self.directory = Path(directory)
        self.base_url = base_url
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._check_permissions()

    def _check_permissions(self) -> None:
        if not CHECKS_PERMISSIONS:
            return
        _check_private(self.directory, 0o077, "chmod 700")
        for path in self.directory.iterdir():
            if path.suffix == SUFFIX:
                _check_private(path, 0o077, "chmod 600")

    def path_of(self, application: str, name: str) -> Path:
        key = json.dumps([self.base_url, application, name], ensure_ascii=False).encode()
        return self.directory / f"{hashlib.sha256(key).hexdigest()[:40]}{SUFFIX}"

    def store(self, document: Document) -> None:
        """Keep `document` as the last good one; a failure to write is logged, not raised (the
        caller has its document; only a later start without the service would miss it)."""
        record = {
            "format": FORMAT,
            "base_url": self.base_url,
            "application": document.application,
            "name": document.name,
            "revision": document.revision,
            "etag": document.etag,
            "fetched_at": document.fetched_at.isoformat(),
            "sha256": checksum(document.value),
            "value": document.value,
        }
        path = self.path_of(document.application, document.name)
        try:
            write_atomically(path, canonical_json(record), mode=0o600)
        except OSError as error:
            logger.warning("cannot write the cache file %s: %s", path, error)

    def forget(self, application: str, name: str) -> None:
        self.path_of(application, name).unlink(missing_ok=True)

    def load(self, application: str, name: str) -> Document | None:
        """The cached document, or None (none cached, or the file was unusable: warned)."""
        path = self.path_of(application, name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            logger.warning("ignoring the cache file %s: cannot read it: %s", path, error)
            return None
        document = self._document(raw, path)
        if document is not None and (document.application, document.name) != (application, name):
            logger.warning("ignoring the cache file %s: it holds another configuration", path)
            return None
        return document

    def documents_of(self, application: str) -> list[Document]:
        """Every usable cached document of `application`, by name."""
        found = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            try:
                raw = path.read_bytes()
            except OSError as error:
                logger.warning("ignoring the cache file %s: cannot read it: %s", path, error)
                continue
            document = self._document(raw, path)
            if document is not None and document.application == application:
                found.append(document)
        return sorted(found, key=lambda document: document.name)

    def _document(self, raw: bytes, path: Path) -> Document | None:
        try:
            record = _record(raw)
            if record.get("base_url") != self.base_url:
                return None  # another service's document (same directory, several services)
            value = _checked_value(record)
            return Document(
                application=_text(record, "application"),
                name=_text(record, "name"),
                value=value,
                revision=_whole_number(record, "revision"),
                etag=_text(record, "etag"),
                fetched_at=_moment(record, "fetched_at"),
                stale=True,
            )
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("ignoring the corrupt cache file %s: %s", path, error)
            return None


def _record(raw: bytes) -> dict[str, Any]:
    record = json.loads(raw)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError("not a cache record of this version")
    return record


def _checked_value(record: dict[str, Any]) -> dict[str, Any]:
    value = record["value"]
    if not isinstance(value, dict) or checksum(value) != record["sha256"]:
        raise ValueError("its document does not match its checksum")
    return value


def _text(record: dict[str, Any], key: str) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not text")
    return value


def _moment(record: dict[str, Any], key: str) -> datetime:
    """A time with its zone: a naive one could not be compared with now (a document's age)."""
    moment = datetime.fromisoformat(_text(record, key))
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{key} has no time zone")
    return moment


def _whole_number(record: dict[str, Any], key: str) -> int:
    value = record[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{key} is not a whole number")
    return value


def _check_private(path: Path, forbidden_bits: int, fix: str) -> None:
    status = path.lstat()
    kind = "directory" if path.is_dir() else "file"
    if path.is_symlink() or not (stat.S_ISDIR(status.st_mode) or stat.S_ISREG(status.st_mode)):
        raise InsecureCacheDirectory(
            f"the cache {kind} {path} is a link or a special file; the cache holds configuration "
            "(secret values too, for a key that may reveal them), so it must be a plain "
            "directory of plain files that only its owner may read"
        )
    if status.st_uid != os.geteuid():
        raise InsecureCacheDirectory(
            f"the cache {kind} {path} belongs to user {status.st_uid}, not to this process's "
            f"user {os.geteuid()}; the cache must be this user's alone"
        )
    if status.st_mode & forbidden_bits:
        mode = stat.S_IMODE(status.st_mode)
        raise InsecureCacheDirectory(
            f"the cache {kind} {path} has mode {mode:04o}, which lets others than its owner "
            f"in; the cache holds configuration (secret values too, for a key that may reveal "
            f"them): run `{fix} {path}`"
        )
