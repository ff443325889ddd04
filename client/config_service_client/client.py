"""`Client`: the blocking client. Its logic lives in the step generators (see commands.py);
this module only performs their commands with `httpx.Client` and `time.sleep`."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx

from config_service_client.commands import (
    CloseStream,
    Command,
    Emit,
    Exchange,
    OpenStream,
    Pause,
    ReadStream,
    Steps,
    StreamItem,
)
from config_service_client.credentials import HeaderSource
from config_service_client.document import Deleted, Document
from config_service_client.following import (
    ApplicationFollower,
    ConfigurationFollower,
    Follow,
    Transport,
)
from config_service_client.reading import Reader
from config_service_client.server_sent_events import EventParser, EventTooLarge
from config_service_client.settings import ClientSettings
from config_service_client.writing import Writer

T = TypeVar("T")


class ClientBase:
    """What `Client` and `AsyncClient` share: settings, the reader (caches) and the writer."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | HeaderSource | None = None,
        token_file: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.settings = ClientSettings.resolve(
            base_url, token=token, token_file=token_file, cache_dir=cache_dir, timeout=timeout
        )
        self._reader = Reader(self.settings)
        self._writer = Writer(self._reader)

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def _watch_steps(self, application: str, name: str, transport: Transport) -> Steps[None]:
        follower = ConfigurationFollower(self._reader, application, name)
        return Follow(follower, self._reader, transport).run()

    def _watch_application_steps(self, application: str, transport: Transport) -> Steps[None]:
        follower = ApplicationFollower(self._reader, application)
        return Follow(follower, self._reader, transport).run()


class _Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()
        self._parser = EventParser()

    def next(self) -> StreamItem:
        for line in self._lines:
            try:
                item = self._parser.feed(line)
            except EventTooLarge as error:
                raise httpx.RemoteProtocolError(str(error)) from None
            if item is not None:
                return item
        return None


class Client(ClientBase):
    """The blocking client. Use it as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | HeaderSource | None = None,
        token_file: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url, token=token, token_file=token_file, cache_dir=cache_dir, timeout=timeout
        )
        self._http = httpx.Client(transport=transport, follow_redirects=False)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, application: str, name: str) -> Document:
        """The configuration's current document, or the last good one marked `stale` when
        the service cannot answer."""
        return self._complete(self._reader.get(application, name))

    def watch(
        self, application: str, name: str, *, transport: Transport = "auto"
    ) -> Iterator[Document]:
        """The current document, then each new revision once, in order, for as long as the
        caller iterates. The first is `get()`'s (raising as it does)."""
        for item in self._iterate(self._watch_steps(application, name, transport)):
            if isinstance(item, Document):  # always: a configuration's watch emits no Deleted
                yield item

    def watch_application(
        self, application: str, *, transport: Transport = "auto"
    ) -> Iterator[Document | Deleted]:
        """Every configuration of the application, then each new revision and deletion."""
        yield from self._iterate(self._watch_application_steps(application, transport))

    def create(
        self,
        application: str,
        name: str,
        value: dict[str, Any],
        *,
        schema: dict[str, Any] | None = None,
        comments: str | None = None,
        message: str | None = None,
    ) -> Document:
        steps = self._writer.create(
            application, name, value, schema=schema, comments=comments, message=message
        )
        return self._complete(steps)

    def update(
        self,
        application: str,
        name: str,
        value: dict[str, Any],
        *,
        if_match: str | int | None = None,
        message: str | None = None,
    ) -> Document:
        """Replace the document; with `if_match` (an ETag or a revision) only if it is still
        that one (else `PreconditionFailed`, with the current ETag)."""
        steps = self._writer.update(application, name, value, if_match=if_match, message=message)
        return self._complete(steps)

    def patch(
        self,
        application: str,
        name: str,
        changes: dict[str, Any],
        *,
        if_match: str | int | None = None,
        message: str | None = None,
    ) -> Document:
        """Change the document with a JSON merge patch (RFC 7396: `None` removes a member)."""
        steps = self._writer.patch(application, name, changes, if_match=if_match, message=message)
        return self._complete(steps)

    def delete(self, application: str, name: str, *, if_match: str | int | None = None) -> None:
        self._complete(self._writer.delete(application, name, if_match=if_match))

    def _complete(self, steps: Steps[T]) -> T:
        items = self._run(steps)
        while True:
            try:
                next(items)
            except StopIteration as done:
                result: T = done.value
                return result

    def _iterate(self, steps: Steps[None]) -> Iterator[Document | Deleted]:
        yield from self._run(steps)

    def _run(self, steps: Steps[T]) -> Iterator[Any]:
        """Perform the commands of `steps`, yielding what it emits; returns its result."""
        stream: _Stream | None = None
        answer: Any = None
        failure: Exception | None = None
        try:
            while True:
                try:
                    command = steps.throw(failure) if failure is not None else steps.send(answer)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                answer, failure = None, None
                if isinstance(command, Emit):
                    yield command.item
                    continue
                try:
                    answer, stream = self._perform(command, stream)
                except httpx.TransportError as error:
                    failure = error
        finally:
            if stream is not None:
                stream.response.close()
            steps.close()

    def _perform(self, command: Command, stream: _Stream | None) -> tuple[Any, _Stream | None]:
        if isinstance(command, Exchange):
            return self._http.send(command.request), stream
        if isinstance(command, ReadStream):
            if stream is None:
                raise RuntimeError("ReadStream without an open stream")
            return stream.next(), stream
        if isinstance(command, CloseStream):
            if stream is not None:
                stream.response.close()
            return None, None
        if isinstance(command, Pause):
            time.sleep(command.seconds)
            return None, stream
        if isinstance(command, OpenStream):
            if stream is not None:
                stream.response.close()
            response = self._http.send(command.request, stream=True)
            if response.status_code == 200:  # noqa: PLR2004
                return response, _Stream(response)
            try:
                response.read()
            finally:
                response.close()
            return response, None
        raise TypeError(f"unknown command {command!r}")
