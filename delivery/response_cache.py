"""Each process's memory of current configurations, as ready-to-send response bodies.

Entries are keyed by configuration id and hold both bodies this service sends for it (the
Configuration JSON and the bare document, secrets masked; revealed ones made on demand) with
its revision; a second index finds them by
(application name, configuration name). Bounded in bytes, least recently used first out.

It never goes backwards: `latest` remembers the newest revision this process has heard of for
recently changed configurations (from its own writes and from the change log), and a fill read
from PostgreSQL before a newer change is refused. A fill is also refused when `latest` forgot
something after the read began (the `epoch` moved), as then it cannot tell.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from models.change import Change, ChangeKind
from models.configuration import Configuration
from services.secret_values.cipher import SecretCipher
from services.secret_values.locations import SecretLocations
from services.secret_values.views import masked, revealed

ENTRY_OVERHEAD_BYTES = 400
LATEST_LIMIT = 100_000
GONE = 2**63  # `latest` value of a deleted configuration: newer than any revision


def json_bytes(value: Any) -> bytes:
    """Serialised as FastAPI serialises a response, so cached and uncached bodies match."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class CachedConfiguration:
    """A configuration's two bodies as every caller that may not reveal secrets gets them
    (precomputed: such a read costs no work per request); for one that holds secrets, also
    the stored configuration, from which its revealed bodies are made once, on the first
    read that may see them (`revealed`)."""

    configuration_id: str
    application_id: str
    name: str
    revision: int
    resource_body: bytes
    document_body: bytes
    application_name: str | None = None
    stored: Configuration | None = None
    _revealed: list[tuple[bytes, bytes]] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def of(
        cls, configuration: Configuration, application_name: str | None = None
    ) -> CachedConfiguration:
        """From `configuration` as stored (its secrets sealed)."""
        shown = masked(configuration)
        return cls(
            configuration_id=configuration.id,
            application_id=configuration.application_id,
            name=configuration.name,
            revision=configuration.revision,
            resource_body=json_bytes(shown.model_dump(mode="json", by_alias=True)),
            document_body=json_bytes(shown.config),
            application_name=application_name,
            stored=configuration if configuration.secrets else None,
        )

    @property
    def has_secrets(self) -> bool:
        return self.stored is not None

    def revealed(self, cipher: SecretCipher) -> tuple[bytes, bytes]:
        """(resource body, document body) with the secret values themselves; the masked ones
        when there are none. Raises SecretKeyUnavailable or SecretUndecryptable."""
        if self.stored is None:
            return self.resource_body, self.document_body
        if not self._revealed:  # two reads may both make it: the same bytes either way
            plain = revealed(self.stored, cipher)
            resource = json_bytes(plain.model_dump(mode="json", by_alias=True))
            self._revealed.append((resource, json_bytes(plain.config)))
        return self._revealed[0]

    @property
    def size(self) -> int:
        """Bytes it may take, the revealed bodies included: each is at most the masked one
        plus the envelopes' text (a value's JSON is shorter than its envelope)."""
        masked_size = len(self.resource_body) + len(self.document_body)
        if self.stored is None:
            return masked_size + ENTRY_OVERHEAD_BYTES
        locations = SecretLocations.of(self.stored.secrets)
        sealed = sum(len(str(envelope)) for _, envelope in locations.values(self.stored.config))
        return 2 * masked_size + 2 * sealed + ENTRY_OVERHEAD_BYTES


class ResponseCache:
    """Safe to use from any thread: sync write routes update it from the threadpool while the
    event loop reads it, so every public method holds the cache's lock (and only this file
    takes it)."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.epoch = 0
        self._entries: OrderedDict[str, CachedConfiguration] = OrderedDict()
        self._by_name: dict[tuple[str, str], str] = {}
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, configuration_id: str) -> CachedConfiguration | None:
        with self._lock:
            return self._get(configuration_id)

    def get_by_name(self, application_name: str, name: str) -> CachedConfiguration | None:
        with self._lock:
            configuration_id = self._by_name.get((application_name, name))
            return None if configuration_id is None else self._get(configuration_id)

    def fill(self, entry: CachedConfiguration, *, epoch: int) -> None:
        """Keep what a read found, unless something newer was heard of since `epoch`."""
        with self._lock:
            self._fill(entry, epoch=epoch)

    def outdated(self, entry: CachedConfiguration) -> bool:
        """Whether a newer revision (or the deletion) of it has been heard of."""
        with self._lock:
            return self._latest.get(entry.configuration_id, 0) > entry.revision

    def written(self, configuration: Configuration) -> None:
        """This process acknowledged `configuration`: never serve anything older from now on."""
        with self._lock:
            self._remember(configuration.id, configuration.revision)
            self._fill(CachedConfiguration.of(configuration), epoch=self.epoch)

    def deleted(self, configuration_id: str) -> None:
        with self._lock:
            self._remember(configuration_id, GONE)
            self._remove(configuration_id)

    def forget_application(self, application_id: str, *, deleted: bool) -> None:
        """Drop the application's entries (renamed: names changed; deleted: all gone)."""
        with self._lock:
            self._forget_application(application_id, deleted=deleted)

    def apply(self, change: Change) -> None:
        """A change from the log: entries older than it leave (the next read refills them)."""
        with self._lock:
            if change.kind is ChangeKind.APPLICATION_RENAMED:
                self._forget_application(change.application_id, deleted=False)
                return
            if change.configuration_id is None:
                return
            revision = GONE if change.ends_configuration else (change.revision or 0)
            self._remember(change.configuration_id, revision)
            current = self._entries.get(change.configuration_id)
            if current is not None and current.revision < revision:
                self._remove(change.configuration_id)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_name.clear()
            self._latest.clear()
            self.size = 0
            self.epoch += 1

    def _get(self, configuration_id: str) -> CachedConfiguration | None:
        entry = self._entries.get(configuration_id)
        if entry is not None:
            self._entries.move_to_end(configuration_id)
        return entry

    def _fill(self, entry: CachedConfiguration, *, epoch: int) -> None:
        latest = self._latest.get(entry.configuration_id)
        if latest is None and epoch != self.epoch:
            return
        if latest is not None and entry.revision < latest:
            return
        current = self._entries.get(entry.configuration_id)
        if current is not None and current.revision > entry.revision:
            return
        if current is not None and entry.application_name is None:
            entry = _with_application_name(entry, current.application_name)
        self._store(entry)

    def _forget_application(self, application_id: str, *, deleted: bool) -> None:
        for entry in list(self._entries.values()):
            if entry.application_id == application_id:
                if deleted:
                    self._remember(entry.configuration_id, GONE)
                self._remove(entry.configuration_id)
        self.epoch += 1  # fills read before this may hold what is gone

    def _remember(self, configuration_id: str, revision: int) -> None:
        if revision >= self._latest.get(configuration_id, 0):
            self._latest[configuration_id] = revision
        self._latest.move_to_end(configuration_id)
        if len(self._latest) > LATEST_LIMIT:
            self._latest.popitem(last=False)
            self.epoch += 1

    def _store(self, entry: CachedConfiguration) -> None:
        if entry.size > self.max_bytes:
            return
        self._remove(entry.configuration_id)
        self._entries[entry.configuration_id] = entry
        self.size += entry.size
        if entry.application_name is not None:
            self._by_name[(entry.application_name, entry.name)] = entry.configuration_id
        while self.size > self.max_bytes:
            self._remove(next(iter(self._entries)))

    def _remove(self, configuration_id: str) -> None:
        entry = self._entries.pop(configuration_id, None)
        if entry is None:
            return
        self.size -= entry.size
        if entry.application_name is not None:
            key = (entry.application_name, entry.name)
            if self._by_name.get(key) == configuration_id:
                del self._by_name[key]


def _with_application_name(
    entry: CachedConfiguration, application_name: str | None
) -> CachedConfiguration:
    return replace(entry, application_name=application_name)
