"""The start-up warning when WORKERS pools may outgrow PostgreSQL's max_connections."""

from __future__ import annotations

import logging

import pytest

from commands.startup import warn_if_connections_may_run_out
from conftest import make_settings
from testing.databases import run_sql


def room_of(database_url: str) -> int:
    rows = run_sql(
        database_url,
        "SELECT current_setting('max_connections')::integer"
        " - current_setting('superuser_reserved_connections')::integer",
    )
    return int(rows[0][0])


def test_workers_whose_pools_outgrow_max_connections_are_warned_about(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url, database_pool_min_size=1, database_pool_max_size=1000)
    room = room_of(database_url)
    with caplog.at_level(logging.WARNING, logger="config_service"):
        assert warn_if_connections_may_run_out(settings, database_url, workers=2) == room
    assert caplog.messages == [
        f"WORKERS=2 with DATABASE_POOL_MAX_SIZE=1000 may open 2006 connections, more than the "
        f"{room} PostgreSQL allows (max_connections minus superuser_reserved_connections), "
        "before any other instance or client; lower WORKERS or DATABASE_POOL_MAX_SIZE, or raise "
        "max_connections"
    ]


def test_pools_that_fit_are_not_warned_about(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url, database_pool_min_size=1, database_pool_max_size=2)
    with caplog.at_level(logging.WARNING, logger="config_service"):
        assert warn_if_connections_may_run_out(settings, database_url, workers=2) == room_of(
            database_url
        )
    assert caplog.messages == []


def test_a_database_that_does_not_answer_is_left_to_readiness(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    settings = make_settings(url, database_connect_timeout_seconds=1)
    with caplog.at_level(logging.WARNING, logger="config_service"):
        assert warn_if_connections_may_run_out(settings, url, workers=256) is None
    assert caplog.messages == []
