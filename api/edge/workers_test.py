"""How many workers `serve` runs by default: the CPUs this process may use."""

from __future__ import annotations

import fcntl
import itertools
import multiprocessing
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from api.edge.workers import (
    MAX_RESTART_DELAY_SECONDS,
    MULTIPROCESS_DIRECTORY_VARIABLE,
    OWNER_LOCK,
    RESTART_DELAY_SECONDS,
    STABLE_SECONDS,
    WorkerSupervisor,
    _run_worker,
    cgroup_quota,
    metrics_directory,
    restart_delay,
    usable_cpus,
)


@pytest.mark.parametrize(
    ("cpu_max", "quota"),
    [
        ("max 100000\n", None),
        ("150000 100000\n", 1.5),
        ("50000 100000\n", 0.5),
        ("400000 100000\n", 4.0),
        ("garbage\n", None),
    ],
)
def test_the_cgroup_quota_is_read_from_cpu_max(tmp_path: Path, cpu_max: str, quota: float) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)

    assert cgroup_quota(path) == quota


def test_without_a_cgroup_file_there_is_no_quota(tmp_path: Path) -> None:
    assert cgroup_quota(tmp_path / "absent", tmp_path / "absent-v1") is None


@pytest.mark.parametrize(
    ("quota_us", "period_us", "quota"),
    [("150000\n", "100000\n", 1.5), ("-1\n", "100000\n", None), ("x\n", "100000\n", None)],
)
def test_under_cgroup_v1_the_quota_is_read_from_cfs_quota_and_period(
    tmp_path: Path, quota_us: str, period_us: str, quota: float | None
) -> None:
    """Hosts with cgroup v1 (older Docker and Kubernetes nodes) give a container's `--cpus`
    as cpu.cfs_quota_us over cpu.cfs_period_us; without it a 1-CPU container on a 64-CPU host
    would run 64 workers."""
    v1 = tmp_path / "cpu"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text(quota_us)
    (v1 / "cpu.cfs_period_us").write_text(period_us)

    assert cgroup_quota(tmp_path / "absent", v1) == quota


def test_the_cgroup_v2_file_wins_over_v1(tmp_path: Path) -> None:
    v1 = tmp_path / "cpu"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text("150000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    (tmp_path / "cpu.max").write_text("max 100000\n")

    assert cgroup_quota(tmp_path / "cpu.max", v1) is None
    assert usable_cpus(tmp_path / "absent", v1) == min(2, len(os.sched_getaffinity(0)))


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        # A fraction of a CPU still gets one worker; 1.5 CPUs get two.
        ("50000 100000", 1),
        ("150000 100000", 2),
        ("100000000 100000", None),  # a quota above the affinity: the affinity decides
        ("max 100000", None),
    ],
)
def test_usable_cpus_is_the_smaller_of_affinity_and_quota(
    tmp_path: Path, cpu_max: str, expected: int | None
) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))

    assert usable_cpus(path, tmp_path / "absent-v1") == (
        affinity if expected is None else min(expected, affinity)
    )


def test_usable_cpus_follows_the_affinity(tmp_path: Path) -> None:
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert usable_cpus(tmp_path / "absent", tmp_path / "absent-v1") == 1
    finally:
        os.sched_setaffinity(0, before)


def test_the_metrics_directory_is_private_removed_at_the_end_and_so_are_abandoned_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(MULTIPROCESS_DIRECTORY_VARIABLE, raising=False)
    ended = subprocess.Popen(["true"])  # noqa: S607  # nosec B603 B607
    ended.wait()  # reaped: its pid names no process (until reused, which takes a while)
    abandoned = tmp_path / f"config-service-metrics-{ended.pid}-abcd"
    running = tmp_path / f"config-service-metrics-{os.getpid()}-efgh"
    abandoned.mkdir()
    running.mkdir()

    with metrics_directory() as directory:
        assert os.environ[MULTIPROCESS_DIRECTORY_VARIABLE] == str(directory)
        assert directory.is_dir()
        assert not abandoned.exists()
        assert running.is_dir()

    assert not directory.exists()
    assert MULTIPROCESS_DIRECTORY_VARIABLE not in os.environ


def test_a_worker_that_keeps_failing_at_start_is_restarted_ever_less_often() -> None:
    """Each restart is a new interpreter importing the whole service (about a CPU-second): at
    a fixed one a second per worker, a worker that cannot start would keep every CPU busy."""
    delays = [restart_delay(failures) for failures in range(1, 10)]

    assert delays[:4] == [
        RESTART_DELAY_SECONDS,
        2 * RESTART_DELAY_SECONDS,
        4 * RESTART_DELAY_SECONDS,
        8 * RESTART_DELAY_SECONDS,
    ]
    assert delays[-1] == MAX_RESTART_DELAY_SECONDS
    assert MAX_RESTART_DELAY_SECONDS >= 30


def test_a_worker_that_ran_a_while_is_restarted_after_the_first_delay_again() -> None:
    assert restart_delay(0) == RESTART_DELAY_SECONDS
    assert STABLE_SECONDS > MAX_RESTART_DELAY_SECONDS


def _serve_forever(sockets: list[socket.socket]) -> None:
    while True:
        time.sleep(1)


def test_a_worker_whose_parent_died_before_it_started_drains_at_once() -> None:
    """The parent's pid comes from the parent: a parent killed while the worker was still
    starting (its parent already init when it looked) must not leave it serving unsupervised."""
    worker = multiprocessing.get_context("spawn").Process(
        target=_run_worker,
        args=(_serve_forever, [], 1),  # pid 1: not this worker's parent
    )
    worker.start()
    worker.join(30)
    if worker.is_alive():
        worker.kill()
        worker.join()

    assert worker.exitcode == -signal.SIGTERM


def test_whose_metrics_directory_is_abandoned_is_told_by_its_lock_not_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pid in a name says nothing once it is reused (after a reboot) or when two pid
    namespaces (containers) share one temporary folder: a directory whose owner's lock is held
    is some running parent's, whatever its pid looks like here; one whose lock is free is
    abandoned, whatever process has its pid now."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(MULTIPROCESS_DIRECTORY_VARIABLE, raising=False)
    ended = subprocess.Popen(["true"])  # noqa: S607  # nosec B603 B607
    ended.wait()
    held = tmp_path / f"config-service-metrics-{ended.pid}-held"  # a live parent elsewhere
    reused = tmp_path / f"config-service-metrics-{os.getpid()}-free"  # its pid taken since
    for directory in (held, reused):
        directory.mkdir()
        (directory / OWNER_LOCK).touch()
    with (held / OWNER_LOCK).open("r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

        with metrics_directory() as directory:
            assert held.is_dir()
            assert not reused.exists()
            with (directory / OWNER_LOCK).open("r+") as own, pytest.raises(BlockingIOError):
                fcntl.flock(own, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours is held while it lives

    assert not directory.exists()


def _exit_at_once(sockets: list[socket.socket]) -> None:
    raise SystemExit(3)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_supervisor_waits_longer_each_time_a_worker_dies_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    supervisor = WorkerSupervisor(target=_exit_at_once, workers=1, sockets=[], stop_timeout=5)
    starts: list[float] = []
    seen: list[object] = []

    def started() -> bool:
        """Whether the supervisor started a new worker since the last call (then waited out)."""
        process = supervisor._processes[0]
        assert process is not None
        if seen and process is seen[-1]:
            return False
        seen.append(process)
        starts.append(clock.now)
        process.join(30)
        assert process.exitcode == 3
        return True

    supervisor._start(0)
    assert started()
    for _ in range(4):  # dies at once each time: started again 1, 2, 4, 8 s after its start
        for _tick in range(200):
            clock.now += 0.25
            supervisor._restart_dead()
            if started():
                break
        else:
            pytest.fail(f"not started again; started at {starts}")

    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps == [1.0, 2.0, 4.0, 8.0]
    supervisor._stop_all()


def test_a_worker_that_cannot_be_started_again_is_retried_and_the_parent_serves_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failed fork (EAGAIN, ENOMEM) while replacing one worker must not end the parent, and
    with it every other worker."""
    clock = _Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    supervisor = WorkerSupervisor(target=_exit_at_once, workers=1, sockets=[], stop_timeout=5)
    supervisor._start(0)
    first = supervisor._processes[0]
    assert first is not None
    first.join(30)
    real_start = supervisor._start
    failing = [OSError(11, "Resource temporarily unavailable")]

    def start(slot: int) -> None:
        if failing:
            raise failing.pop()
        real_start(slot)

    monkeypatch.setattr(supervisor, "_start", start)
    clock.now += 1
    supervisor._restart_dead()  # the fork fails: retried later
    assert supervisor._processes[0] is first
    clock.now += MAX_RESTART_DELAY_SECONDS
    supervisor._restart_dead()

    second = supervisor._processes[0]
    assert second is not None
    assert second is not first
    second.join(30)
    assert second.exitcode == 3
    supervisor._stop_all()
