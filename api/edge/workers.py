"""`serve` with WORKERS > 1: one listening socket, bound here, served by N worker processes.

Each worker is a fresh (spawned) process that builds the app and runs the same DrainingServer
and header-limit protocol as a single-process `serve`, on the socket this parent bound, so the
kernel spreads connections between them. The parent only supervises: a worker that dies is
started again (no sooner than RESTART_DELAY_SECONDS after it started, and, while it keeps
dying within STABLE_SECONDS, twice as late each time up to MAX_RESTART_DELAY_SECONDS: each start
is a new interpreter importing the whole service, so a worker that cannot start must not keep
the CPUs busy), and SIGTERM or SIGINT to the parent is passed on as SIGTERM to every
worker, which drains and exits within the grace; a worker still running after the grace and
uvicorn's cut-off (`stop_timeout`) is killed. A worker whose parent vanished (killed outright)
drains and exits by itself.

Metrics: the parent makes a private PROMETHEUS_MULTIPROC_DIR for the workers'
prometheus-client files before the first worker starts, clears a dead worker's live gauges,
and removes the directory when the last worker has exited. A directory left behind by a parent
killed outright is removed by the next `serve` on the machine: the parent holds a lock in it
while it lives (OWNER_LOCK), which the kernel releases however the parent dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import SpawnProcess
from pathlib import Path
from types import FrameType
from typing import Protocol

from prometheus_client import multiprocess

logger = logging.getLogger(__name__)

MULTIPROCESS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIRECTORY_PREFIX = "config-service-metrics-"
# In each metrics directory, locked by its parent while it lives (the kernel lets go of the lock
# when the parent dies, however it dies): what tells a live directory from an abandoned one.
OWNER_LOCK = "owner.lock"
CHECK_SECONDS = 0.2
PARENT_CHECK_SECONDS = 0.5
RESTART_DELAY_SECONDS = 1.0
MAX_RESTART_DELAY_SECONDS = 32.0
# A worker that ran this long before it died was not failing to start: its slot's delay resets.
STABLE_SECONDS = 60.0
# uvicorn ends by raising the signal it stopped for again, once it has shut down cleanly.
CLEAN_EXIT_CODES = frozenset({0, -signal.SIGTERM, -signal.SIGINT})
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")  # a link to cpu,cpuacct where they are mounted together


class WorkerTarget(Protocol):
    """Run one worker on the sockets the parent bound (picklable: it crosses into a spawned
    process)."""

    def __call__(self, sockets: list[socket.socket]) -> None: ...


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX, cgroup_v1: Path = CGROUP_V1_CPU) -> int:
    """The CPUs this process may use: its scheduler affinity, or the cgroup quota if that is
    smaller (rounded up: a quota of 1.5 CPUs is worth a second worker), at least 1."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = affinity or os.cpu_count() or 1
    quota = cgroup_quota(cpu_max, cgroup_v1)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def cgroup_quota(cpu_max: Path = CGROUP_CPU_MAX, cgroup_v1: Path = CGROUP_V1_CPU) -> float | None:
    """CPUs' worth of time the cgroup quota allows: cgroup v2's `<quota> <period>` in cpu.max,
    or, where there is no such file, cgroup v1's cpu.cfs_quota_us over cpu.cfs_period_us; None
    without a quota (`max`, `-1`) or a readable file."""
    try:
        text = cpu_max.read_text(encoding="ascii")
    except OSError:
        return _cgroup_v1_quota(cgroup_v1)
    try:
        quota, period = text.split()[:2]
        if quota == "max":
            return None
        return int(quota) / int(period)
    except ValueError:
        return None


def _cgroup_v1_quota(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text(encoding="ascii"))
        period = int((directory / "cpu.cfs_period_us").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def restart_delay(failures: int) -> float:
    """How long after a worker's start it may be started again, after `failures` deaths in a
    row within STABLE_SECONDS of their start (0: it ran a while)."""
    delay = RESTART_DELAY_SECONDS
    for _ in range(1, failures):
        delay *= 2
        if delay >= MAX_RESTART_DELAY_SECONDS:
            return MAX_RESTART_DELAY_SECONDS
    return delay


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts on (as uvicorn's Config.bind_socket)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """A fresh private PROMETHEUS_MULTIPROC_DIR for this instance's workers, set in the
    environment they inherit, locked (OWNER_LOCK) while this process lives, and removed at the
    end."""
    _remove_abandoned_directories()
    directory = Path(tempfile.mkdtemp(prefix=f"{METRICS_DIRECTORY_PREFIX}{os.getpid()}-"))
    # Not inherited (PEP 446): only this process holds it.
    lock = os.open(directory / OWNER_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    previous = os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE)
    os.environ[MULTIPROCESS_DIRECTORY_VARIABLE] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_DIRECTORY_VARIABLE, None)
        else:
            os.environ[MULTIPROCESS_DIRECTORY_VARIABLE] = previous
        shutil.rmtree(directory, ignore_errors=True)
        os.close(lock)


def _remove_abandoned_directories() -> None:
    """The directories of parents that were killed outright (they could not remove their own)."""
    for directory in Path(tempfile.gettempdir()).glob(f"{METRICS_DIRECTORY_PREFIX}*-*"):
        if _abandoned(directory):
            shutil.rmtree(directory, ignore_errors=True)


def _abandoned(directory: Path) -> bool:
    """Its owner's lock is free. The pid in its name is no proof: it may have been reused (after
    a reboot) or belong to another pid namespace sharing this folder (another container)."""
    if directory.is_symlink() or not directory.is_dir():
        return False
    try:
        lock = os.open(directory / OWNER_LOCK, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:  # made an instant ago, not locked yet, or by an older version
        owner = directory.name.removeprefix(METRICS_DIRECTORY_PREFIX).split("-", 1)[0]
        return owner.isdigit() and not _alive(int(owner))
    except OSError:  # someone else's (private), a symbolic link, not a directory
        return False
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its parent is alive
        return False
    finally:
        os.close(lock)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _run_worker(target: WorkerTarget, sockets: list[socket.socket], parent: int) -> None:
    # `parent` comes from the parent, not os.getppid() here: a parent killed while this process
    # was starting would otherwise leave it watching its new parent (init) forever.
    watcher = threading.Thread(
        target=_drain_when_orphaned, args=(parent,), name="parent-watch", daemon=True
    )
    watcher.start()
    # The terminal's Ctrl-C reaches every process of the group: no traceback for it.
    with contextlib.suppress(KeyboardInterrupt):
        target(sockets)


def _drain_when_orphaned(parent: int) -> None:
    """A parent killed outright (SIGKILL, the OOM killer) cannot pass SIGTERM on: a worker
    whose parent is gone shuts down gracefully by itself rather than serve on unsupervised."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


class WorkerSupervisor:
    def __init__(
        self,
        *,
        target: WorkerTarget,
        workers: int,
        sockets: list[socket.socket],
        stop_timeout: float,
        metrics_dir: Path | None = None,
    ) -> None:
        self._target = target
        self._sockets = sockets
        self._stop_timeout = stop_timeout
        self._metrics_dir = metrics_dir
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[SpawnProcess | None] = [None] * workers
        self._started_at: list[float] = [0.0] * workers
        # Per slot: deaths in a row soon after starting, and when a dead worker is due again.
        self._failures: list[int] = [0] * workers
        self._due: list[float | None] = [None] * workers
        # A plain flag: a signal handler must not take the lock an Event.wait may hold.
        self._stopping = False

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; 0 when every worker then exited cleanly."""
        previous = {
            sig: signal.signal(sig, self._handle_exit) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for slot in range(len(self._processes)):
                self._start(slot)
            while not self._stopping:
                time.sleep(CHECK_SECONDS)
                if not self._stopping:
                    self._restart_dead()
            return self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _start(self, slot: int) -> None:
        process = self._context.Process(
            target=_run_worker,
            args=(self._target, self._sockets, os.getpid()),
            name=f"config-service-worker-{slot + 1}",
        )
        process.start()
        self._processes[slot] = process
        self._started_at[slot] = time.monotonic()
        logger.info("started worker %d (pid %s)", slot + 1, process.pid)

    def _restart_dead(self) -> None:
        for slot, process in enumerate(self._processes):
            if process is None or process.is_alive():
                continue
            now = time.monotonic()
            due = self._due[slot]
            if due is None:  # just died
                process.join()
                self._forget_metrics(process)  # its live gauges stop counting at once
                ran = now - self._started_at[slot]
                self._failures[slot] = 0 if ran >= STABLE_SECONDS else self._failures[slot] + 1
                due = max(now, self._started_at[slot] + restart_delay(self._failures[slot]))
                self._due[slot] = due
                logger.warning(
                    "worker %d (pid %s) exited with code %s; starting it again in %.1f s",
                    slot + 1,
                    process.pid,
                    process.exitcode,
                    due - now,
                )
            if now < due:
                continue
            try:
                self._start(slot)
            except OSError as error:  # no process now (EAGAIN, ENOMEM): the others serve on
                self._failures[slot] += 1
                self._due[slot] = now + restart_delay(self._failures[slot])
                logger.warning("could not start worker %d again, retrying: %s", slot + 1, error)
                continue
            self._due[slot] = None

    def _stop_all(self) -> int:
        running = [p for p in self._processes if p is not None]
        for process in running:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
        clean = True
        for process in running:
            if process.is_alive():
                logger.error("worker (pid %s) still running after the grace: killed", process.pid)
                process.kill()
                process.join()
                clean = False
            elif process.exitcode not in CLEAN_EXIT_CODES:
                logger.error("worker (pid %s) exited with code %s", process.pid, process.exitcode)
                clean = False
            self._forget_metrics(process)
        return 0 if clean else 1

    def _forget_metrics(self, process: SpawnProcess) -> None:
        if self._metrics_dir is not None and process.pid is not None:
            multiprocess.mark_process_dead(process.pid, str(self._metrics_dir))  # type: ignore[no-untyped-call]


def serve_workers(
    *,
    target: WorkerTarget,
    workers: int,
    host: str,
    port: int,
    stop_timeout: float,
) -> int:
    """Bind once, run `workers` processes of `target` on the socket until SIGTERM or SIGINT."""
    sock = bind_socket(host, port)
    try:
        with metrics_directory() as directory:
            supervisor = WorkerSupervisor(
                target=target,
                workers=workers,
                sockets=[sock],
                stop_timeout=stop_timeout,
                metrics_dir=directory,
            )
            logger.info("serving on http://%s:%d with %d worker processes", host, port, workers)
            return supervisor.run()
    finally:
        sock.close()
