"""The credentials listener on a real PostgreSQL: a committed revocation or binding change is
heard, a rolled-back one is not."""

from __future__ import annotations

import asyncio

import pytest

from api.auth.credentials_listener import CredentialsListener
from database.pool import connect
from repositories.api_key_repository import ApiKeyRepository
from repositories.binding_repository import BindingRepository

HEARD_WITHIN_SECONDS = 10


def announce(database_url: str, *, what: str, commit: bool) -> None:
    connection = connect(database_url)
    try:
        if what == "key":
            ApiKeyRepository(connection).announce_revocation()
        else:
            BindingRepository(connection).announce_change()
        if commit:
            connection.commit()
        else:
            connection.rollback()
    finally:
        connection.close()


@pytest.mark.parametrize("what", ["key", "binding"])
def test_committed_changes_empty_the_caches_and_rolled_back_ones_do_not(
    database_url: str, what: str
) -> None:
    async def scenario() -> list[str]:
        heard: list[str] = []
        listener = CredentialsListener(
            dsn=database_url, connect_options={}, on_change=lambda: heard.append("cleared")
        )
        task = asyncio.create_task(listener.run())
        try:
            await asyncio.wait_for(listener.connected.wait(), HEARD_WITHIN_SECONDS)
            heard.append("connected")
            await asyncio.to_thread(announce, database_url, what=what, commit=False)
            await asyncio.to_thread(announce, database_url, what=what, commit=True)
            async with asyncio.timeout(HEARD_WITHIN_SECONDS):
                while heard[-1] != "cleared":
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # a second notification (the rolled-back one) would land
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return heard

    # Once on connecting (what may have been missed), once for the committed change.
    assert asyncio.run(scenario()) == ["cleared", "connected", "cleared"]
