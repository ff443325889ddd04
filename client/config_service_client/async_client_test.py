"""`AsyncClient` against the real service: the same steps as `Client`, run by asyncio."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from config_service_client import AsyncClient, Document, NotFound, PreconditionFailed
from config_service_client.conftest import StoppedService, put, seed
from conftest import LiveServer


def test_get_write_and_watch(live_server: LiveServer, admin: httpx.Client, admin_key: str) -> None:
    seeded = seed(admin, {"v": 1})

    async def scenario() -> tuple[list[Document], Document, Document]:
        async with AsyncClient(live_server.url, token=admin_key) as client:
            first = await client.get(seeded.application, "production")
            again = await client.get(seeded.application, "production")
            assert again.value is first.value  # revalidated: 304
            seen: list[Document] = []
            async with contextlib.aclosing(client.watch(seeded.application, "production")) as w:
                async for document in w:
                    seen.append(document)
                    if document.revision == 1:
                        await asyncio.to_thread(put, admin, seeded, {"v": 2})
                    elif document.revision == 2:
                        await client.patch(
                            seeded.application, "production", {"w": 3}, if_match=document.etag
                        )
                    else:
                        break
            with pytest.raises(PreconditionFailed):
                await client.update(seeded.application, "production", {}, if_match='"1"')
            with pytest.raises(NotFound):
                await client.get(seeded.application, "staging")
            created = await client.create(seeded.application, "staging", {"s": 1})
            await client.delete(seeded.application, "staging")
            return seen, first, created

    seen, first, created = asyncio.run(scenario())
    assert [(document.revision, document.value) for document in seen] == [
        (1, {"v": 1}),
        (2, {"v": 2}),
        (3, {"v": 2, "w": 3}),
    ]
    assert (first.revision, created.revision, created.name) == (1, 1, "staging")


def test_the_async_watch_of_an_application_starts_on_the_cache_when_the_service_is_down(
    stopped_service: StoppedService,
) -> None:
    down = stopped_service

    async def first_of_watch() -> Document | object:
        client = AsyncClient(down.url, token=down.key, cache_dir=down.cache, timeout=2)
        async with client, contextlib.aclosing(client.watch_application(down.application)) as w:
            async for item in w:
                return item
        return None

    first = asyncio.run(first_of_watch())
    assert isinstance(first, Document)
    assert (first.name, first.value, first.stale) == ("production", {"feature": "on"}, True)
