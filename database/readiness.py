"""Is the database ready for this service: does it answer, and is its schema the one expected?

Each probe opens a short-lived connection of its own rather than borrowing from the pool, so
a busy pool does not make the service look down, and a dead database is detected within the
connect timeout instead of hanging the probe.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import psycopg2

from database.migration_runner import MigrationRunner
from database.pool import connect

logger = logging.getLogger(__name__)

PROBE_STATEMENT_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    output: str | None = None


class ReadinessProbe:
    def __init__(self, dsn: str, *, connect_timeout_seconds: int) -> None:
        self._dsn = dsn
        self._connect_timeout_seconds = connect_timeout_seconds
        # The schema only changes on deploy: once seen current it is not queried again.
        self._schema_seen_current = threading.Event()

    def check_connection(self) -> CheckOutcome:
        try:
            connection = connect(
                self._dsn,
                connect_timeout=self._connect_timeout_seconds,
                application_name="config-service-health",
                options=f"-c statement_timeout={PROBE_STATEMENT_TIMEOUT_MS}",
            )
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            finally:
                connection.close()
        except psycopg2.Error as error:
            logger.warning("readiness: the database does not answer: %s", error)
            return CheckOutcome(passed=False, output="the database does not answer")
        return CheckOutcome(passed=True)

    def check_schema(self, *, database_answers: bool) -> CheckOutcome:
        if self._schema_seen_current.is_set():
            return CheckOutcome(passed=True)
        if not database_answers:
            return CheckOutcome(passed=False, output="unknown: the database does not answer")
        try:
            status = MigrationRunner(
                self._dsn, connect_timeout_seconds=self._connect_timeout_seconds
            ).status()
        except psycopg2.Error as error:
            logger.warning("readiness: could not read the schema history: %s", error)
            return CheckOutcome(passed=False, output="could not read the schema history")
        if not status.is_current:
            return CheckOutcome(passed=False, output=status.describe())
        self._schema_seen_current.set()
        return CheckOutcome(passed=True)
