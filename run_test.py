"""run.py, the bootstrap behind the README's two commands.

The whole path (a fresh clone, a stock Python, `python3 run.py test`) takes minutes and the
network, so it is checked by hand and in CI (.ci/run runs exactly that command); these tests
pin down the decisions it makes along the way.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import run

RUN_PY = Path(run.__file__)


def run_bootstrap(*arguments: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *(["-c", code] if code else [str(RUN_PY)]), *arguments]
    return subprocess.run(  # noqa: S603 (this Python, our own arguments)
        command, capture_output=True, text=True, check=False, timeout=60
    )


def test_an_older_python_is_refused_with_a_message_naming_the_version() -> None:
    pretend_3_10 = (
        "import runpy, sys; sys.version_info = (3, 10, 4, 'final', 0); "
        f"runpy.run_path({str(RUN_PY)!r}, run_name='__main__')"
    )

    completed = run_bootstrap(code=pretend_3_10)

    assert completed.returncode == 1
    assert completed.stderr == (
        "run.py: Config Service needs Python 3.11 or newer; "
        f"this is Python 3.10.4 ({sys.executable}).\n"
    )


@pytest.mark.parametrize(("arguments", "status"), [((), 2), (("--help",), 0), (("-h",), 0)])
def test_usage(arguments: tuple[str, ...], status: int) -> None:
    completed = run_bootstrap(*arguments)

    assert completed.returncode == status
    assert completed.stdout.startswith("usage: python3 run.py <script> [arguments]\n")


class Recorder:
    """Stands in for run.call: records each command and answers with a chosen exit status."""

    def __init__(self, failing: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.failing = failing

    def __call__(self, command: list[str], *, quiet: bool = False, pipenv: bool = False) -> int:
        self.commands.append(command)
        return 1 if self.failing is not None and self.failing in command else 0


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder whose .venv already has Python and Pipenv."""
    venv = tmp_path / ".venv"
    for name in ("python", "pipenv"):
        executable = run.venv_executable(name, venv)
        executable.parent.mkdir(parents=True, exist_ok=True)
        executable.write_text("")
    (tmp_path / "Pipfile.lock").write_text('{"default": {}}')
    monkeypatch.setattr(run, "VENV", venv)
    monkeypatch.setattr(run, "LOCK_FILE", tmp_path / "Pipfile.lock")
    monkeypatch.setattr(run, "SYNC_STAMP", venv / "pipfile-lock.sha256")
    return tmp_path


def test_nothing_is_run_while_pipfile_lock_is_unchanged(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(run, "call", recorder)

    first = run.set_up(dev=True)
    second = run.set_up(dev=True)
    runtime_only = run.set_up(dev=False)

    pipenv = str(project / ".venv" / "bin" / "pipenv")
    assert first == second == runtime_only == Path(pipenv)
    assert recorder.commands == [[pipenv, "sync", "--dev"]]
    assert run.SYNC_STAMP.read_text() == f"{run.lock_digest()} dev\n"


def test_a_changed_lock_or_a_need_for_the_dev_packages_syncs_again(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(run, "call", recorder)
    pipenv = str(project / ".venv" / "bin" / "pipenv")

    run.set_up(dev=False)
    run.set_up(dev=True)
    run.LOCK_FILE.write_text('{"default": {"fastapi": {}}}')
    run.set_up(dev=True)

    assert recorder.commands == [
        [pipenv, "sync"],
        [pipenv, "sync", "--dev"],
        [pipenv, "sync", "--dev"],
    ]


def test_a_failed_sync_is_tried_again_next_time(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "call", Recorder(failing="sync"))

    with pytest.raises(run.SetupFailed, match="pipenv sync failed"):
        run.set_up(dev=True)

    assert not run.SYNC_STAMP.exists()


def test_a_missing_pipenv_is_installed_into_the_project_venv(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(run, "call", recorder)
    (project / ".venv" / "bin" / "pipenv").unlink()
    python = str(project / ".venv" / "bin" / "python")

    run.set_up(dev=False)

    assert recorder.commands[:2] == [
        [python, "-m", "pip", "--version"],
        [python, "-m", "pip", "install", "--quiet", "pipenv"],
    ]


def test_pipenv_is_pointed_at_the_project_venv_whatever_is_active(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/else")
    monkeypatch.setenv("PIPENV_ACTIVE", "1")

    environment = run.pipenv_environment()

    assert "VIRTUAL_ENV" not in environment
    assert "PIPENV_ACTIVE" not in environment
    assert environment["PIPENV_VENV_IN_PROJECT"] == "1"
    assert environment["PIPENV_IGNORE_VIRTUALENVS"] == "1"


def test_creates_a_venv_with_pip(tmp_path: Path) -> None:
    venv = tmp_path / "venv"

    run.create_venv(venv)

    python = run.venv_executable("python", venv)
    pip_version = subprocess.run(  # noqa: S603 (the venv just made)
        [str(python), "-m", "pip", "--version"], capture_output=True, text=True, check=False
    )
    assert pip_version.returncode == 0
    assert str(venv) in pip_version.stdout


def python_without_ensurepip_or_pip(folder: Path) -> Path:
    """This Python as on Debian without python3-venv and python3-pip: `-m venv` fails unless
    given --without-pip, and `-m pip` fails."""
    wrapper = folder / "python"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --without-pip "*) ;; *" venv "*|*" pip "*) exit 1;; esac\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


@pytest.mark.skipif(os.name == "nt", reason="a POSIX shell script stands in for Python")
def test_without_ensurepip_or_pip_the_message_names_the_package_to_install(
    tmp_path: Path,
) -> None:
    python = python_without_ensurepip_or_pip(tmp_path)
    venv = tmp_path / "venv"

    with pytest.raises(run.SetupFailed) as failure:
        run.create_venv(venv, python=str(python))

    assert str(failure.value) == (
        f"{python} cannot put pip into a virtual environment: install the python3-venv "
        "package (Debian/Ubuntu: sudo apt install python3-venv) and run this again"
    )
    assert run.venv_executable("python", venv).exists()  # made by venv --without-pip
