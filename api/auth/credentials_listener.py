"""One LISTEN connection per process on the credentials channel: a key revoked or a binding
created or deleted by any process of any instance empties this process's key and binding
caches, so a revocation takes effect everywhere within the notification's delay instead of
API_KEY_CACHE_SECONDS (streams and long polls held by the revoked key end at their next
check, as they do in the process that revoked it).

Notifications carry no key: revocations are rare, and checking every key again once costs one
query each. While the connection is down a revocation may be missed, so the caches are emptied
again each time it (re)connects; in between, API_KEY_CACHE_SECONDS still bounds the delay.
The change log has a listener of its own (delivery/change_listener.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from database.listen_connection import ListenConnection, ListenConnectionLost
from repositories.api_key_repository import CREDENTIALS_CHANNEL

logger = logging.getLogger(__name__)

LISTENER_APPLICATION_NAME = "config-service-credentials"
FIRST_RETRY_SECONDS = 0.1
LAST_RETRY_SECONDS = 5.0
WAIT_SECONDS = 30.0


class CredentialsListener:
    def __init__(
        self, *, dsn: str, connect_options: dict[str, Any], on_change: Callable[[], None]
    ) -> None:
        self._dsn = dsn
        self._connect_options = connect_options
        self._on_change = on_change
        self.connected = asyncio.Event()

    async def run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                connection = await ListenConnection.open(
                    dsn=self._dsn,
                    channel=CREDENTIALS_CHANNEL,
                    application_name=LISTENER_APPLICATION_NAME,
                    options=self._connect_options,
                )
                try:
                    self._on_change()  # what may have been missed while not listening
                    self.connected.set()
                    delay = FIRST_RETRY_SECONDS
                    while True:
                        if await connection.wait_for_notification(WAIT_SECONDS):
                            self._on_change()
                finally:
                    self.connected.clear()
                    connection.close()
            except ListenConnectionLost as error:
                logger.warning(
                    "credentials listener lost its connection, retrying in %.1f s: %s",
                    delay,
                    error,
                )
            except Exception:  # the listener must outlive any one failure
                logger.exception("credentials listener failed, retrying in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY_SECONDS)
