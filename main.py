"""Config Service: the application factory and the command line (`python main.py serve|dev`)."""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg2
import uvicorn
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import health, metrics
from api.body_limit import BodyLimitMiddleware
from api.docs import install_docs
from api.openapi import DESCRIPTION, install_openapi
from api.problems import install_problem_handlers
from api.request_context import RequestContextMiddleware
from api.shutdown import DrainingServer
from api.v1 import router as v1_router
from config.logging_setup import database_url_secrets, logging_config
from config.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from database.migration_runner import MigrationRunner
from database.pool import Database
from database.readiness import ReadinessProbe
from database.url import resolve_database_url

logger = logging.getLogger("config_service")

VERSION = "1.0.0"


class SchemaNotCurrent(RuntimeError):
    """The database schema does not match the migrations this code was written for."""


def check_schema(database_url: str) -> None:
    """Refuse to serve an out-of-date schema; a database that is down is not refused."""
    try:
        status = MigrationRunner(database_url).status()
    except psycopg2.OperationalError as error:
        logger.warning("database unreachable at start-up, serving 503 until it is: %s", error)
        return
    if not status.is_current:
        raise SchemaNotCurrent(status.describe())


def open_database(settings: Settings, database_url: str) -> Database:
    return Database(
        dsn=database_url,
        min_size=settings.database_pool_min_size,
        max_size=settings.database_pool_max_size,
        wait_seconds=settings.database_pool_timeout_seconds,
        connect_timeout_seconds=settings.database_connect_timeout_seconds,
        statement_timeout_ms=settings.database_statement_timeout_ms,
        lock_timeout_ms=settings.database_lock_timeout_ms,
        keepalives_idle_seconds=settings.database_keepalives_idle_seconds,
        keepalives_interval_seconds=settings.database_keepalives_interval_seconds,
        keepalives_count=settings.database_keepalives_count,
        tcp_user_timeout_ms=settings.database_tcp_user_timeout_ms,
    )


def _start(settings: Settings) -> tuple[Database, str]:
    database_url = resolve_database_url(settings)
    check_schema(database_url)
    database = open_database(settings, database_url)
    database.warm_up()
    return database, database_url


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    database, database_url = await run_in_threadpool(_start, settings)
    app.state.database = database
    app.state.metrics.watch(database)
    app.state.readiness = ReadinessProbe(
        database_url, connect_timeout_seconds=settings.database_connect_timeout_seconds
    )
    try:
        yield
    finally:
        app.state.draining.set()
        await run_in_threadpool(database.close)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title="Config Service",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api/docs.py serves the pages without a CDN
        redoc_url=None,
        openapi_tags=[
            {"name": "applications", "description": "Owners of configurations."},
            {"name": "configurations", "description": "Named JSON documents."},
            {"name": "operations", "description": "Health and metrics, for operators."},
        ],
    )
    app.state.settings = settings
    app.state.draining = threading.Event()
    app.state.metrics = metrics.Metrics()
    app.include_router(v1_router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestContextMiddleware)  # outermost: every response gets its id
    install_problem_handlers(app)
    install_openapi(app)
    install_docs(app)
    return app


def _serve(settings: Settings, *, reload: bool, log_config: dict[str, object]) -> None:
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
        )
        return
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config,
        access_log=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
    )
    DrainingServer(config, draining=app.state.draining).run()


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
    database_url = resolve_database_url(settings)
    # Worker processes (and the reloader's children) reach the same server through this.
    os.environ["DATABASE_URL"] = database_url
    if arguments.command == "dev":
        for name in MigrationRunner(database_url).up():
            print(f"applied {name}")
    try:
        check_schema(database_url)
    except SchemaNotCurrent as error:
        print(error, file=sys.stderr)
        return 1
    _serve(settings, reload=arguments.command == "dev", log_config=log_config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
