"""Following changes: the event stream with exact resume, and long polling where a proxy breaks
streams.

The stream of the application is opened without a position the first time (the service's
`: stream open` comment says it is subscribed), then the current state is read, so nothing
between the first read and the subscription is missed. Every later connection sends
`Last-Event-ID`, the position of the last change handled, and the service replays every change
after it: a restart or another instance misses nothing and repeats nothing. (Until a first
event brings a position, each connection reads the current state again instead.) A position only
moves once its change has been handed to the caller, so a failure midway asks for it again.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal, Protocol

import httpx

from config_service_client.backoff import Backoff
from config_service_client.commands import CloseStream, Emit, Pause, Steps, open_stream, read_stream
from config_service_client.document import Deleted, Document
from config_service_client.errors import (
    ConfigServiceError,
    NotFound,
    ProblemError,
    ProtocolViolation,
    error_from_response,
)
from config_service_client.reading import Reader, describe_failure, may_serve_stale
from config_service_client.server_sent_events import Comment, ServerSentEvent
from config_service_client.service_api import EVENT_STREAM

logger = logging.getLogger("config_service_client")

Transport = Literal["auto", "stream", "long-poll"]
TRANSPORTS: tuple[Transport, ...] = ("auto", "stream", "long-poll")
# The service sends `: keep-alive` every EVENTS_HEARTBEAT_SECONDS (15 by default); a stream
# silent for this long is dead (a NAT or proxy dropped it without a word) and is reconnected.
STREAM_IDLE_SECONDS = 60.0
LONG_POLL_SECONDS = 30
APPLICATION_POLL_SECONDS = 10.0
UNWAITED_POLL_PAUSE_SECONDS = 5.0
# "auto" gives up on streams after this many in a row that opened but never said
# `: stream open` (a proxy that buffers or cuts them).
BROKEN_STREAMS_BEFORE_LONG_POLL = 2
APPLICATION_CHANGES = ("application_renamed", "application_deleted")


class Follower(Protocol):
    application: str

    def start(self) -> Steps[None]: ...

    def resync(self) -> Steps[None]: ...

    def on_change(self, change: dict[str, Any]) -> Steps[None]: ...

    def poll(self) -> Steps[None]: ...


class ConfigurationFollower:
    """One configuration, by application name and configuration name: every revision the
    stream reports, once each, in order."""

    def __init__(self, reader: Reader, application: str, name: str) -> None:
        self.reader = reader
        self.application = application
        self.name = name
        self.last: Document | None = None
        self.revision = 0  # the last revision handed out; 0 once the configuration is gone
        self.configuration_id: str | None = None
        # While our id is unknown (a read by name does not tell it): ids of configurations
        # found never to have been ours, so that each is looked up once.
        self.others: set[str] = set()

    def _emit(self, document: Document) -> Steps[None]:
        self.reader.keep(document)
        self.last, self.revision = document, document.revision
        yield Emit(document)

    def _gone(self) -> None:
        self.revision, self.configuration_id = 0, None

    def start(self) -> Steps[None]:
        document = yield from self.reader.get(self.application, self.name)
        self.last, self.revision = document, document.revision
        yield Emit(document)

    def resync(self) -> Steps[None]:
        """Read the current document from PostgreSQL (never behind) and hand it out if it is
        not the one handed out last."""
        try:
            document = yield from self.reader.current(self.application, self.name, fresh=True)
        except NotFound:
            self._gone()
            return
        if document.revision != self.revision:
            yield from self._emit(document)

    def on_change(self, change: dict[str, Any]) -> Steps[None]:
        configuration_id, name = change.get("configuration_id"), change.get("name")
        ours_by_id = self.configuration_id is not None and configuration_id == self.configuration_id
        if name != self.name and not ours_by_id:
            if (yield from self._renamed_away(change)):
                self._gone()
            return
        if change.get("kind") == "deleted" or name != self.name:  # deleted, or renamed away
            self._gone()
            return
        if self.configuration_id is not None and not ours_by_id:  # another one took our name
            self.revision = 0
        self.configuration_id = configuration_id if isinstance(configuration_id, str) else None
        revision = change.get("revision")
        if isinstance(revision, int) and revision > self.revision:
            document = yield from self._at_revision(revision)
            if document is not None:
                yield from self._emit(document)

    def _renamed_away(self, change: dict[str, Any]) -> Steps[bool]:
        """Whether `change`, of another name, renames ours away. Known at once by id; while
        our id is unknown (no event of ours seen yet), by the name of its previous revision:
        else a configuration created later under our name would be taken for ours, and its
        revisions up to ours skipped."""
        configuration_id, revision = change.get("configuration_id"), change.get("revision")
        if (
            self.configuration_id is not None
            or change.get("kind") not in ("updated", "restored")
            or not isinstance(configuration_id, str)
            or configuration_id in self.others
            or not isinstance(revision, int)
            or revision < 2  # noqa: PLR2004
        ):
            return False
        try:
            before = yield from self.reader.revision_by_id(
                self.application, configuration_id, revision - 1
            )
        except NotFound:
            return False  # deleted since: its own event follows
        if before.name == self.name:
            return True
        self.others.add(configuration_id)
        return False

    def _at_revision(self, revision: int) -> Steps[Document | None]:
        """The document at `revision`: the current one when it is that (read from the
        service's memory), else that revision from the history; None when it is gone."""
        try:
            current = yield from self.reader.current(self.application, self.name)
            if current.revision == revision:
                return current
            return (yield from self.reader.at_revision(self.application, self.name, revision))
        except NotFound:
            return None

    def poll(self) -> Steps[None]:
        """One long poll: hand out the document if it changed within the wait."""
        etag = self.last.etag if self.last is not None and self.revision else '"0"'
        try:
            document = yield from self.reader.long_poll(
                self.application, self.name, etag, LONG_POLL_SECONDS
            )
        except NotFound:
            self._gone()
            raise
        if isinstance(document, bool):
            if not document:  # unchanged at once, without waiting: do not spin
                yield Pause(UNWAITED_POLL_PAUSE_SECONDS)
            return
        if document.revision < self.revision:  # recreated, or an instance that lags: ask again
            document = yield from self.reader.current(self.application, self.name, fresh=True)
        if document.revision != self.revision:
            yield from self._emit(document)


class ApplicationFollower:
    """Every configuration of one application: each new revision as a `Document`, each
    deletion as `Deleted`."""

    def __init__(self, reader: Reader, application: str) -> None:
        self.reader = reader
        self.application = application
        self.known: dict[str, Document] = {}  # by configuration id
        # Revisions handed out from the disk cache (ids unknown), by name: the first resync
        # hands out only what differs from them.
        self.cached: dict[str, int] = {}

    def _emit(self, configuration_id: str, document: Document) -> Steps[None]:
        self.reader.keep(document)
        self.known[configuration_id] = document
        yield Emit(document)

    def _emit_deleted(self, configuration_id: str) -> Steps[None]:
        gone = self.known.pop(configuration_id)
        self.reader.forget(self.application, gone.name)
        yield Emit(Deleted(self.application, gone.name))

    def start(self) -> Steps[None]:
        try:
            current = yield from self.reader.configurations(self.application)
        except (httpx.TransportError, ConfigServiceError) as error:
            cached = self.reader.disk.documents_of(self.application) if self.reader.disk else []
            if not may_serve_stale(error) or not cached:
                raise
            logger.warning(
                "serving the %d cached documents of %s: the service did not answer (%s)",
                len(cached),
                self.application,
                describe_failure(error),
            )
            for document in cached:
                self.cached[document.name] = document.revision
                yield Emit(document)
            return  # the first connection's resync hands out what changed (keyed by name)
        for configuration_id, document in current.items():
            yield from self._emit(configuration_id, document)

    def resync(self) -> Steps[None]:
        try:
            current = yield from self.reader.configurations(self.application)
        except NotFound:
            current = {}
        for configuration_id in [key for key in self.known if key not in current]:
            yield from self._emit_deleted(configuration_id)
        cached, self.cached = self.cached, {}
        for name in [name for name in cached if name not in {d.name for d in current.values()}]:
            self.reader.forget(self.application, name)
            yield Emit(Deleted(self.application, name))
        for configuration_id, document in current.items():
            known = self.known.get(configuration_id)
            if known is None and cached.get(document.name) == document.revision:
                self.known[configuration_id] = document  # the cached one is still current
                continue
            if known is None or (known.revision, known.name) != (document.revision, document.name):
                if known is not None and known.name != document.name:
                    yield Emit(Deleted(self.application, known.name))
                yield from self._emit(configuration_id, document)

    def on_change(self, change: dict[str, Any]) -> Steps[None]:
        configuration_id, revision = change.get("configuration_id"), change.get("revision")
        if not isinstance(configuration_id, str):
            return
        if change.get("kind") == "deleted":
            if configuration_id in self.known:
                yield from self._emit_deleted(configuration_id)
            return
        known = self.known.get(configuration_id)
        if not isinstance(revision, int) or (known is not None and revision <= known.revision):
            return
        try:
            document = yield from self.reader.revision_by_id(
                self.application, configuration_id, revision
            )
        except NotFound:
            return  # deleted since: its own event follows
        if known is not None and known.name != document.name:
            yield Emit(Deleted(self.application, known.name))
        yield from self._emit(configuration_id, document)

    def poll(self) -> Steps[None]:
        yield Pause(APPLICATION_POLL_SECONDS)
        yield from self.resync()


def change_of(event: ServerSentEvent) -> dict[str, Any]:
    try:
        change = json.loads(event.data)
    except ValueError:
        raise ProtocolViolation(f"an event whose data is no JSON: {event.data[:100]!r}") from None
    if not isinstance(change, dict):
        raise ProtocolViolation("an event whose data is no JSON object")
    return change


def position_of(event: ServerSentEvent) -> int:
    if event.id is None or not event.id.isdigit():
        raise ProtocolViolation(f"an event without a change-log position as its id: {event.id!r}")
    return int(event.id)


class BrokenStream(Exception):
    """The stream opened but carries nothing (a proxy that buffers or cuts it)."""


class Follow:
    """The loop of one watch: connect, resume, reconnect with backoff."""

    def __init__(self, follower: Follower, reader: Reader, transport: Transport) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(
                f"transport must be one of {', '.join(TRANSPORTS)} (got {transport!r})"
            )
        self.follower = follower
        self.reader = reader
        self.transport = transport
        self.backoff = Backoff()
        self.position: int | None = None
        self.application_id: str | None = None
        self.resync_needed = True
        self.broken_streams = 0

    def run(self) -> Steps[None]:
        yield from self.follower.start()
        while self.transport != "long-poll":
            failed, retry_after = yield from self._attempt(self._stream)
            if self.broken_streams >= BROKEN_STREAMS_BEFORE_LONG_POLL and self.transport == "auto":
                logger.warning(
                    "the event stream of %s does not come through (a proxy that buffers or "
                    "cuts streams?): following it by long polling instead",
                    self.follower.application,
                )
                self.transport = "long-poll"
                break
            # Also after a stream the service ended (it is shutting down): a short pause,
            # jittered, so that its clients do not all come back to the next instance at once.
            yield from self._pause(retry_after)
        while True:
            failed, retry_after = yield from self._attempt(self._poll)
            if failed:
                yield from self._pause(retry_after)

    def _pause(self, retry_after: float | None) -> Steps[None]:
        pause = self.backoff.next_pause(retry_after)
        if retry_after is not None:
            logger.warning(
                "the service asks to retry after %g s: pausing %.1f s", retry_after, pause
            )
        yield Pause(pause)

    def _attempt(self, step: Any) -> Steps[tuple[bool, float | None]]:
        """Run one connection (or poll): (whether it failed, the Retry-After to honour).
        Failures that retrying cannot mend (401, 403, a 4xx) end the watch."""
        retry_after: float | None = None
        try:
            yield from step()
        except httpx.TransportError as error:
            logger.warning(
                "lost the connection to %s (%s); reconnecting",
                self.reader.api.settings.base_url,
                describe_failure(error),
            )
        except BrokenStream as error:
            self.broken_streams += 1
            logger.warning("%s", error)
        except NotFound as error:
            logger.warning("%s; trying again", error.detail or error)
            self.application_id, self.resync_needed = None, True
            self.reader.application_ids.pop(self.follower.application, None)
        except ProblemError as error:
            if not error.retryable:
                raise
            logger.warning("the service answered %s", error)
            retry_after = error.retry_after
        except ProtocolViolation as error:
            logger.warning("%s; reconnecting", error)
        else:
            self.backoff.reset()
            yield CloseStream()
            return False, None
        yield CloseStream()
        return True, retry_after

    def _poll(self) -> Steps[None]:
        yield from self.follower.poll()

    def _stream(self) -> Steps[None]:
        if self.application_id is None:
            self.application_id = yield from self.reader.application_id(self.follower.application)
        request = self.reader.api.events(self.application_id, self.position, STREAM_IDLE_SECONDS)
        response = yield from open_stream(request)
        if response.status_code != 200:  # noqa: PLR2004
            raise error_from_response(response)
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith(EVENT_STREAM):
            raise BrokenStream(f"the event stream answered {content_type or 'no content type'}")
        try:
            first = yield from read_stream()
        except httpx.ReadTimeout:
            raise BrokenStream("the event stream opened but sent nothing") from None
        if not isinstance(first, Comment):
            raise BrokenStream("the event stream ended before it said it was open")
        self.broken_streams = 0
        logger.debug(
            "following %s by its event stream, after position %s",
            self.follower.application,
            self.position,
        )
        # Without a position (no event yet since the first connection) this stream replays
        # nothing: what changed while reconnecting is found by reading again.
        if self.resync_needed or self.position is None:
            yield from self.follower.resync()
            self.resync_needed = False
        # Only now: a stream that opens but whose first read fails keeps backing off.
        self.backoff.reset()
        while True:
            item = yield from read_stream()
            if item is None:
                return  # the service ended it (shutting down): reconnect at once
            if isinstance(item, ServerSentEvent):
                reconnect = yield from self._handle(item)
                if reconnect:
                    return

    def _handle(self, event: ServerSentEvent) -> Steps[bool]:
        """Hand out what `event` brings; True when the stream must be opened anew."""
        position = position_of(event)
        reconnect = False
        if event.event == "reset":
            yield from self.follower.resync()
        else:
            change = change_of(event)
            if change.get("kind") in APPLICATION_CHANGES:
                # The name may lead elsewhere now: find it again, then read it all again.
                self.application_id, self.resync_needed = None, True
                self.reader.application_ids.pop(self.follower.application, None)
                reconnect = True
            else:
                yield from self.follower.on_change(change)
        self.position = position
        return reconnect
