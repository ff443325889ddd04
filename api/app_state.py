"""What main's create_app and lifespan made for the requests to use, each read through one
typed accessor here: the settings, the pool, delivery, the key cache, identity tokens (issuers'
keys, verifier, bindings cache), the secrets' cipher and the reveals remembered, the metrics,
and what readiness reports (the draining flag, the probe)."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request
from starlette.applications import Starlette

from api.auth.identities import Identities
from api.auth.key_cache import KeyCache
from api.auth.reveal_memory import RevealMemory
from api.edge.metrics import Metrics
from config.settings import Settings
from database.pool import Database
from database.readiness import ReadinessProbe
from delivery.runtime import Delivery
from services.secret_values.cipher import SecretCipher


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def delivery_of(app: Starlette) -> Delivery:
    """The delivery runtime main's lifespan started for `app`."""
    delivery: Delivery = app.state.delivery
    return delivery


def get_delivery(request: Request) -> Delivery:
    return delivery_of(request.app)


def get_key_cache(request: Request) -> KeyCache:
    cache: KeyCache = request.app.state.key_cache
    return cache


def get_secret_cipher(request: Request) -> SecretCipher:
    """Seals and opens secret values with the keys of SECRETS_KEYS."""
    cipher: SecretCipher = request.app.state.secret_cipher
    return cipher


def get_reveal_memory(request: Request) -> RevealMemory:
    """The reveals this instance has seen audited (api/v1/representations.py)."""
    memory: RevealMemory = request.app.state.reveal_memory
    return memory


def get_identities(request: Request) -> Identities:
    identities: Identities = request.app.state.identities
    return identities


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def is_draining(request: Request) -> bool:
    """Whether shutdown has begun (SIGTERM arrived)."""
    draining: threading.Event = request.app.state.draining
    return draining.is_set()


def get_readiness(request: Request) -> ReadinessProbe | None:
    """The readiness probe; None until the lifespan has made it."""
    probe: ReadinessProbe | None = getattr(request.app.state, "readiness", None)
    return probe


# The same as route dependencies, `async def` though they never wait: FastAPI runs a plain
# `def` dependency in the thread pool, a hop (and a GIL hand-over) per request.


async def _settings(request: Request) -> Settings:
    return get_settings(request)


async def _database(request: Request) -> Database:
    return get_database(request)


async def _delivery(request: Request) -> Delivery:
    return get_delivery(request)


async def _identities(request: Request) -> Identities:
    return get_identities(request)


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_database)]
DeliveryDep = Annotated[Delivery, Depends(_delivery)]
IdentitiesDep = Annotated[Identities, Depends(_identities)]
