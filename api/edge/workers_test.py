"""How many workers `serve` runs by default: the CPUs this process may use."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from api.edge.workers import (
    MULTIPROCESS_DIRECTORY_VARIABLE,
    cgroup_quota,
    metrics_directory,
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
    assert cgroup_quota(tmp_path / "absent") is None


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

    assert usable_cpus(path) == (affinity if expected is None else min(expected, affinity))


def test_usable_cpus_follows_the_affinity(tmp_path: Path) -> None:
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert usable_cpus(tmp_path / "absent") == 1
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
