"""Config Service: the application factory and the command line (`python main.py serve|dev`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.config
import socket
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import uvicorn
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import operations
from api.auth.credentials_listener import CredentialsListener
from api.auth.identities import Identities
from api.auth.key_cache import KeyCache
from api.auth.reveal_memory import RevealMemory
from api.edge import metrics
from api.edge.body_limit import BodyLimitMiddleware
from api.edge.header_limit import HeaderLimitMiddleware
from api.edge.header_protocol import HeaderLimitProtocol, SettingsHeaderLimitProtocol
from api.edge.hot_routes import HotRouteMiddleware
from api.edge.rate_limit import RateLimitMiddleware
from api.edge.request_context import RequestContextMiddleware
from api.edge.shutdown import (
    CutOffMiddleware,
    DrainingServer,
    cut_off_database_work,
    graceful_shutdown_timeout,
)
from api.edge.workers import serve_workers, usable_cpus
from api.openapi.document import DESCRIPTION, install_openapi
from api.openapi.pages import install_docs
from api.problems.handlers import install_problem_handlers
from api.v1.router import router as v1_router
from commands.create_key import create_key
from commands.startup import (
    StartupFailed,
    check_port_is_free,
    prepare_database,
    warn_if_connections_may_run_out,
)
from config.logging_setup import database_url_secrets, logging_config
from config.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from database.pool import Database, connection_options
from database.readiness import ReadinessProbe
from database.url import resolve_database_url
from delivery.runtime import Delivery
from models.api_key import ApiKeyCreate, Role
from models.audit import Actor
from services.secret_values.cipher import SecretCipher

logger = logging.getLogger("config_service")

VERSION = "1.0.0"
# After a worker's own bound (grace and cut-off), how long the parent waits before killing it.
WORKER_EXIT_MARGIN_SECONDS = 5.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # `serve` resolved the URL before building the app; a `dev` worker, a process of its own,
    # resolves it here, joining the embedded server its reloader process started and owns.
    database_url: str = app.state.database_url or await run_in_threadpool(
        partial(resolve_database_url, settings, join_running=True)
    )
    database = Database.from_settings(settings, database_url, listener=app.state.metrics)
    if app.state.warm_up:
        await run_in_threadpool(database.warm_up)
    app.state.database = database
    app.state.metrics.watch(database)
    app.state.readiness = ReadinessProbe(
        database_url, connect_timeout_seconds=settings.database_connect_timeout_seconds
    )
    delivery = await Delivery.start(
        settings=settings,
        database=database,
        database_url=database_url,
        draining=app.state.draining,
    )
    app.state.delivery = delivery  # read by api/app_state.py's accessor
    identities: Identities = app.state.identities
    await identities.start()  # the issuers' keys arrive in the background
    key_cache: KeyCache = app.state.key_cache

    def forget_credentials() -> None:
        key_cache.clear()
        identities.bindings.clear()

    credentials = CredentialsListener(
        dsn=database_url,
        connect_options=connection_options(settings),
        on_change=forget_credentials,
    )
    app.state.credentials_listener = credentials
    background = [asyncio.create_task(credentials.run(), name="credentials-listener")]
    if app.state.metrics.multiprocess:
        background.append(
            asyncio.create_task(app.state.metrics.refresh_pool_forever(), name="pool-metrics")
        )
    try:
        yield
    finally:
        app.state.draining.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await identities.stop()
        await delivery.stop()
        # After a graceful end nothing runs; after uvicorn cut requests off, their statements
        # may: cancel them, or closing their connections would wait for them.
        database.cancel_running()
        await run_in_threadpool(database.close)


def create_app(
    settings: Settings | None = None, *, database_url: str | None = None, warm_up: bool = True
) -> FastAPI:
    """The app. Without `database_url` its start-up resolves one from the settings (and
    `warm_up=False` skips opening the idle connections, for a database known not to answer)."""
    settings = settings or load_settings()
    app = FastAPI(
        title="Config Service",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api/openapi/pages.py serves the pages without a CDN
        redoc_url=None,
        openapi_tags=[
            {"name": "applications", "description": "Owners of configurations."},
            {"name": "configurations", "description": "Named JSON documents."},
            {"name": "keys", "description": "API keys (admin only)."},
            {
                "name": "bindings",
                "description": "Which identity tokens are let in, with which role (admin only).",
            },
            {"name": "audit", "description": "Who changed what."},
            {"name": "operations", "description": "Health and metrics, for operators."},
        ],
    )
    app.state.settings = settings
    app.state.database_url = database_url
    app.state.warm_up = warm_up
    app.state.draining = threading.Event()
    app.state.metrics = metrics.Metrics()
    app.state.key_cache = KeyCache(seconds=settings.api_key_cache_seconds)
    app.state.secret_cipher = SecretCipher(settings.secrets_keyring.keys)
    app.state.reveal_memory = RevealMemory()

    app.state.identities = Identities(settings)
    app.include_router(v1_router)
    app.include_router(operations.router)
    app.add_middleware(HotRouteMiddleware)  # innermost: hot GETs answered past the router
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(HeaderLimitMiddleware, max_header_bytes=settings.max_header_bytes)
    app.add_middleware(CutOffMiddleware, draining=app.state.draining)
    app.add_middleware(RateLimitMiddleware, settings=settings, metrics=app.state.metrics)
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestContextMiddleware)  # outermost: every response gets its id
    install_problem_handlers(app)
    install_openapi(app)
    install_docs(app)
    return app


def import_string(item: type) -> str:
    """`module:name`, as uvicorn imports what a new process needs; derived from the item
    itself, so that renaming or moving it cannot leave a stale string behind."""
    return f"{item.__module__}:{item.__qualname__}"


def _serve(settings: Settings, *, reload: bool, log_config: dict[str, object]) -> int:
    """Serve `dev` with auto-reload (each reload a new worker process that builds the app
    from the settings), or `serve` on the database already prepared: in this process with
    WORKERS=1, else in WORKERS processes on one socket (api/edge/workers.py)."""
    if reload:
        uvicorn.run(
            "main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            log_config=log_config,
            access_log=False,
            reload=True,
            reload_dirs=[str(PROJECT_ROOT)],
            reload_excludes=[".postgres", ".venv"],
            # Each reloaded worker imports the protocol by name (it reads its limit itself).
            http=import_string(SettingsHeaderLimitProtocol),
            timeout_graceful_shutdown=graceful_shutdown_timeout(settings.shutdown_grace_seconds),
        )
        return 0
    database = prepare_database(settings, migrate=False)
    workers = settings.workers or usable_cpus()
    if database.answered:
        warn_if_connections_may_run_out(settings, database.url, workers=workers)
    if workers == 1:
        app = create_app(settings, database_url=database.url, warm_up=database.answered)
        draining_server(app, settings, log_config).run()
        return 0
    worker = Worker(
        settings=settings,
        database_url=database.url,
        warm_up=database.answered,
        log_config=log_config,
        workers=workers,
    )
    return serve_workers(
        target=worker,
        workers=workers,
        host=settings.host,
        port=settings.port,
        # Each worker's own bound: the grace, the cut-off, and a moment to close down.
        stop_timeout=graceful_shutdown_timeout(settings.shutdown_grace_seconds)
        + WORKER_EXIT_MARGIN_SECONDS,
    )


def draining_server(
    app: FastAPI, settings: Settings, log_config: dict[str, object]
) -> DrainingServer:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config,
        access_log=False,
        timeout_graceful_shutdown=graceful_shutdown_timeout(settings.shutdown_grace_seconds),
        http=HeaderLimitProtocol.with_limit(settings.max_header_bytes),
    )
    return DrainingServer(
        config,
        draining=app.state.draining,
        grace_seconds=settings.shutdown_grace_seconds,
        on_grace_over=lambda: cut_off_database_work(getattr(app.state, "database", None)),
    )


def per_worker_settings(settings: Settings, workers: int) -> Settings:
    """Each worker keeps its own rate-limit buckets, so each gets 1/`workers` of every budget:
    together they never allow more than the documented budget. A burst is at least 1 per
    worker (a burst smaller than WORKERS therefore allows up to WORKERS at once)."""
    if workers == 1:
        return settings
    return settings.model_copy(
        update={
            "rate_limit_per_second": settings.rate_limit_per_second / workers,
            "rate_limit_burst": max(1, settings.rate_limit_burst // workers),
            "rate_limit_address_per_second": settings.rate_limit_address_per_second / workers,
            "rate_limit_address_burst": max(1, settings.rate_limit_address_burst // workers),
            "rate_limit_auth_failures_per_minute": (
                settings.rate_limit_auth_failures_per_minute / workers
            ),
            "rate_limit_auth_failures_burst": max(
                1, settings.rate_limit_auth_failures_burst // workers
            ),
        }
    )


@dataclass(frozen=True)
class Worker:
    """One worker process of `serve` (pickled into a spawned process): builds its own app,
    with its own pool, cache and listener, and serves the socket the parent bound."""

    settings: Settings
    database_url: str
    warm_up: bool
    log_config: dict[str, object]
    workers: int

    def __call__(self, sockets: list[socket.socket]) -> None:
        logging.config.dictConfig(self.log_config)
        app = create_app(
            per_worker_settings(self.settings, self.workers),
            database_url=self.database_url,
            warm_up=self.warm_up,
        )
        draining_server(app, self.settings, self.log_config).run(sockets=sockets)


def print_development_key(settings: Settings) -> None:
    """`dev` only: a fresh admin key named `dev` each start (earlier ones keep working), so
    Swagger UI's Authorize button can be used at once. `serve` never makes one."""
    command = Actor(key_id=None, key_name="dev command")
    created = create_key(settings, ApiKeyCreate(name="dev", role=Role.ADMIN), actor=command)
    url = f"http://{settings.host}:{settings.port}/docs"
    print(
        f"\nDevelopment admin key (new at each start of `dev`; paste it into Authorize at {url}):"
        f"\n  export TOKEN={created.key}\n",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__)
    parser.add_argument(
        "command",
        choices=["serve", "dev"],
        help="serve: run the API; dev: apply migrations, then run the API with auto-reload",
    )
    arguments = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    # `dev` is for people: text logs unless LOG_FORMAT says otherwise.
    explicit_format = "log_format" in settings.model_fields_set
    log_format = (
        "text" if arguments.command == "dev" and not explicit_format else settings.log_format
    )
    secrets = (
        database_url_secrets(settings.database_url.get_secret_value())
        if settings.database_url is not None
        else []
    )
    log_config = logging_config(level=settings.log_level, log_format=log_format, secrets=secrets)
    logging.config.dictConfig(log_config)
    try:
        check_port_is_free(settings)
        if arguments.command == "dev":
            # Once, in this (the reloader's) process; its workers only serve.
            prepare_database(settings, migrate=True)
            print_development_key(settings)
        elif settings.api_key_pepper is None:
            logger.warning(
                "API_KEY_PEPPER is not set: API keys are hashed with the development pepper; "
                "set it to a long random secret of your own (changing it later voids every key)"
            )
        return _serve(settings, reload=arguments.command == "dev", log_config=log_config)
    except StartupFailed as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before uvicorn took over the signals
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
