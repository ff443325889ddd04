"""DATABASE_LOCK_TIMEOUT_MS as the bound on a request's whole wait for locks.

PostgreSQL's `lock_timeout` times each lock wait on its own: a write queued behind another
waiting write waits for two (the row's tuple lock, then the holder's transaction), and a write
run again after a conflict waits anew. So the service keeps the budget itself:

* A request has one `LockBudget` (the edge opens it with `new_request_budget`; work outside a
  request gets one per transaction). Each transaction spends it for as long as it runs, so a
  request's transactions, retries included, share what remains of it; time between them (a
  long poll's wait) costs nothing.
* `LockWatch` keeps the deadline of every running transaction. Once one is past it, the watch
  asks PostgreSQL which of those sessions are waiting for a lock, and cancels their statements;
  the pool then answers as for a lock timeout. A statement that is working, not waiting, is
  never cancelled for the budget (statement_timeout bounds it).

The session's own `lock_timeout` stays as it was and still ends most single waits itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg2
import psycopg2.extensions

logger = logging.getLogger(__name__)

Connection = psycopg2.extensions.connection

# After a deadline passed: how often the watch asks again whether those sessions wait for locks.
CHECK_INTERVAL_SECONDS = 0.1
WATCH_APPLICATION_NAME = "config-service-lock-watch"
# One statement for all sessions past their deadline: cancelling is left to the pool's own
# connections, so that it only ever hits a transaction that is still running.
SESSIONS_WAITING_FOR_A_LOCK = """
    SELECT pid FROM pg_stat_activity
    WHERE pid = ANY(%(pids)s) AND wait_event_type = 'Lock'
"""


class LockBudget:
    """What remains of one request's time for locks; spent by its transactions as they run."""

    def __init__(self) -> None:
        self.spent = 0.0

    def remaining(self, seconds: float) -> float:
        return max(0.0, seconds - self.spent)


_request_budget: ContextVar[LockBudget | None] = ContextVar("lock_budget", default=None)


def new_request_budget() -> None:
    """Give the request now starting (and the threads it runs work on) a budget of its own."""
    _request_budget.set(LockBudget())


class Watched:
    """One running transaction, as the watch sees it."""

    def __init__(self, connection: Connection, budget: LockBudget, deadline: float) -> None:
        self.connection = connection
        self.pid: int = connection.info.backend_pid
        self.budget = budget
        self.deadline = deadline
        self.started = time.monotonic()
        # The watch has sent a cancel: its lock budget is spent. PostgreSQL ignores a cancel
        # that arrives between statements, so this says nothing of the statement that failed.
        self.cancelled = False
        self.active = True
        self.lock = threading.Lock()  # held while cancelling, so the end waits for the cancel


class LockWatch:
    """Cancels the statements of transactions that outlive their lock budget while waiting for
    a lock. One thread, and one connection of its own opened when first needed."""

    def __init__(
        self, *, dsn: str, connect_options: dict[str, Any], lock_timeout_seconds: float
    ) -> None:
        self._dsn = dsn
        self._connect_options = connect_options
        self.seconds = lock_timeout_seconds
        self._watched: dict[int, Watched] = {}
        self._condition = threading.Condition()
        self._next_check: float | None = None
        self._thread: threading.Thread | None = None
        self._connection: Connection | None = None
        self._failing = False  # said once, not at every check, until PostgreSQL answers again
        self._stopped = False

    @contextmanager
    def watching(self, connection: Connection) -> Iterator[Watched]:
        """Watch the transaction about to run on `connection`, within what remains of the
        request's budget (a budget of its own outside a request)."""
        budget = _request_budget.get() or LockBudget()
        watched = Watched(connection, budget, time.monotonic() + budget.remaining(self.seconds))
        with self._condition:
            self._watched[id(watched)] = watched
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="lock-watch", daemon=True)
                self._thread.start()
            if self._next_check is None or watched.deadline < self._next_check:
                self._condition.notify()
        try:
            yield watched
        finally:
            with watched.lock:
                watched.active = False
            with self._condition:
                del self._watched[id(watched)]
            budget.spent += time.monotonic() - watched.started

    def close(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._connection is not None:
            self._connection.close()

    def _run(self) -> None:
        while True:
            with self._condition:
                overdue = self._wait_for_an_overdue_transaction()
                if overdue is None:
                    return
            self._cancel_lock_waits(overdue)
            time.sleep(CHECK_INTERVAL_SECONDS)

    def _wait_for_an_overdue_transaction(self) -> list[Watched] | None:
        """The transactions past their deadline, once there are any; None: stop."""
        while not self._stopped:
            now = time.monotonic()
            # Cancelled ones too: a cancel that came too late was ignored, and the transaction
            # may wait for a lock again.
            overdue = [watched for watched in self._watched.values() if watched.deadline <= now]
            if overdue:
                self._next_check = now
                return overdue
            deadlines = [watched.deadline for watched in self._watched.values()]
            self._next_check = min(deadlines, default=None)
            self._condition.wait(None if self._next_check is None else self._next_check - now)
        return None

    def _cancel_lock_waits(self, overdue: list[Watched]) -> None:
        try:
            waiting = self._sessions_waiting_for_a_lock([watched.pid for watched in overdue])
        except psycopg2.Error as error:
            if not self._failing:
                logger.warning(
                    "the lock watch cannot ask PostgreSQL who waits for a lock: %s", error
                )
            self._failing = True
            self._close_connection()
            return
        self._failing = False
        for watched in overdue:
            if watched.pid in waiting:
                with watched.lock:
                    if watched.active:
                        watched.cancelled = True
                        try:
                            watched.connection.cancel()
                        except psycopg2.Error as error:
                            logger.warning(
                                "could not cancel a statement waiting for a lock: %s", error
                            )

    def _sessions_waiting_for_a_lock(self, pids: list[int]) -> set[int]:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg2.connect(
                self._dsn, application_name=WATCH_APPLICATION_NAME, **self._connect_options
            )
            self._connection.autocommit = True
        with self._connection.cursor() as cursor:
            cursor.execute(SESSIONS_WAITING_FOR_A_LOCK, {"pids": pids})
            return {row[0] for row in cursor.fetchall()}

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
