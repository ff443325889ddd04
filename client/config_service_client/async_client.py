"""`AsyncClient`: the asyncio client, with the same arguments and methods as `Client`. It runs
the same step generators (see commands.py), performing their commands with
`httpx.AsyncClient` and `asyncio.sleep`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from config_service_client.client import ClientBase
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
from config_service_client.following import Transport
from config_service_client.server_sent_events import EventParser, EventTooLarge

T = TypeVar("T")


@dataclass(frozen=True)
class _Result(Generic[T]):
    value: T


class _AsyncStream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self._parser = EventParser()

    async def next(self) -> StreamItem:
        async for line in self._lines:
            try:
                item = self._parser.feed(line)
            except EventTooLarge as error:
                raise httpx.RemoteProtocolError(str(error)) from None
            if item is not None:
                return item
        return None


class AsyncClient(ClientBase):
    """The asyncio client. Use it as an async context manager, or call `aclose()`. Close a
    watch you stop early (`contextlib.aclosing`), so its connection closes at once."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | HeaderSource | None = None,
        token_file: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url, token=token, token_file=token_file, cache_dir=cache_dir, timeout=timeout
        )
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=False)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, application: str, name: str) -> Document:
        return await self._complete(self._reader.get(application, name))

    async def watch(
        self, application: str, name: str, *, transport: Transport = "auto"
    ) -> AsyncGenerator[Document, None]:
        async for item in self._run(self._watch_steps(application, name, transport)):
            if isinstance(item, Document):
                yield item

    async def watch_application(
        self, application: str, *, transport: Transport = "auto"
    ) -> AsyncGenerator[Document | Deleted, None]:
        async for item in self._run(self._watch_application_steps(application, transport)):
            if isinstance(item, Document | Deleted):
                yield item

    async def create(
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
        return await self._complete(steps)

    async def update(
        self,
        application: str,
        name: str,
        value: dict[str, Any],
        *,
        if_match: str | int | None = None,
        message: str | None = None,
    ) -> Document:
        steps = self._writer.update(application, name, value, if_match=if_match, message=message)
        return await self._complete(steps)

    async def patch(
        self,
        application: str,
        name: str,
        changes: dict[str, Any],
        *,
        if_match: str | int | None = None,
        message: str | None = None,
    ) -> Document:
        steps = self._writer.patch(application, name, changes, if_match=if_match, message=message)
        return await self._complete(steps)

    async def delete(
        self, application: str, name: str, *, if_match: str | int | None = None
    ) -> None:
        await self._complete(self._writer.delete(application, name, if_match=if_match))

    async def _complete(self, steps: Steps[T]) -> T:
        async for item in self._run(steps):
            if isinstance(item, _Result):
                result: T = item.value
                return result
        raise RuntimeError("the steps ended without a result")

    async def _run(self, steps: Steps[Any]) -> AsyncIterator[Any]:
        """Perform the commands of `steps`, yielding what it emits, then its `_Result`."""
        stream: _AsyncStream | None = None
        answer: Any = None
        failure: Exception | None = None
        try:
            while True:
                try:
                    command = steps.throw(failure) if failure is not None else steps.send(answer)
                except StopIteration as done:
                    yield _Result(done.value)
                    return
                answer, failure = None, None
                if isinstance(command, Emit):
                    yield command.item
                    continue
                try:
                    answer, stream = await self._perform(command, stream)
                except httpx.TransportError as error:
                    failure = error
        finally:
            if stream is not None:
                await stream.response.aclose()
            steps.close()

    async def _perform(
        self, command: Command, stream: _AsyncStream | None
    ) -> tuple[Any, _AsyncStream | None]:
        if isinstance(command, Exchange):
            return await self._http.send(command.request), stream
        if isinstance(command, ReadStream):
            if stream is None:
                raise RuntimeError("ReadStream without an open stream")
            return await stream.next(), stream
        if isinstance(command, CloseStream):
            if stream is not None:
                await stream.response.aclose()
            return None, None
        if isinstance(command, Pause):
            await asyncio.sleep(command.seconds)
            return None, stream
        if isinstance(command, OpenStream):
            if stream is not None:
                await stream.response.aclose()
            response = await self._http.send(command.request, stream=True)
            if response.status_code == 200:  # noqa: PLR2004
                return response, _AsyncStream(response)
            try:
                await response.aread()
            finally:
                await response.aclose()
            return response, None
        raise TypeError(f"unknown command {command!r}")
