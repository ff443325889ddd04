"""Set up and run the project with nothing but Python: `python3 run.py <script> [arguments]`.

It works the same as a normal user and as root, on Pythons that refuse `pip install` outside a
virtual environment (PEP 668: Debian 12, Ubuntu 23.04+, Homebrew), because it never installs
anything outside this folder:

1. creates the virtual environment `.venv` here (git-ignored), with pip;
2. installs Pipenv into it;
3. runs `pipenv sync` (`--dev` for everything but dev, serve, migrate and create-key), which
   installs the locked dependencies into that same `.venv`; skipped while Pipfile.lock is
   unchanged;
4. runs `pipenv run <script> [arguments]` and exits with its exit status.

Standard library only, and it runs on old Pythons far enough to say which one it needs.
"""

import hashlib
import os
import subprocess  # runs Python, pip and Pipenv with fixed argument lists, never a shell  # nosec B404
import sys
from pathlib import Path
from typing import NoReturn

MINIMUM_PYTHON = (3, 11)

if sys.version_info < MINIMUM_PYTHON:
    sys.exit(
        "run.py: Config Service needs Python {}.{} or newer; this is Python {}.{}.{} ({}).".format(
            *MINIMUM_PYTHON, *sys.version_info[:3], sys.executable
        )
    )

PROJECT = Path(__file__).resolve().parent
VENV = PROJECT / ".venv"
LOCK_FILE = PROJECT / "Pipfile.lock"
SYNC_STAMP = VENV / "pipfile-lock.sha256"
# Scripts that need only the service's own packages; every other one gets the test tools too.
RUNTIME_SCRIPTS = frozenset({"dev", "serve", "migrate", "create-key"})
USAGE = """usage: python3 run.py <script> [arguments]

Sets up .venv (Pipenv and the locked dependencies) when needed, then runs `pipenv run <script>`.
Scripts (from the Pipfile): dev, serve, migrate, create-key, test, lint, fuzz, bench; any other
command is run inside the environment as it is, e.g. `python3 run.py pytest -k revisions`."""


class SetupFailed(Exception):
    """A step that cannot go on; the message says what to do."""


def venv_executable(name: str, venv: Path | None = None) -> Path:
    venv = venv or VENV
    if os.name == "nt":
        return venv / "Scripts" / f"{name}.exe"
    return venv / "bin" / name


def say(message: str) -> None:
    print(f"run.py: {message}", file=sys.stderr, flush=True)


def call(command: list[str], *, quiet: bool = False, pipenv: bool = False) -> int:
    """Run a command in the project folder; return its exit status."""
    output = subprocess.DEVNULL if quiet else None
    completed = subprocess.run(  # noqa: S603 (fixed programs, our own arguments)  # nosec B603
        command,
        cwd=PROJECT,
        env=pipenv_environment() if pipenv else None,
        stdout=output,
        stderr=output,
        check=False,
    )
    return completed.returncode


def succeeds(command: list[str]) -> bool:
    return call(command, quiet=True) == 0


def run_step(command: list[str], failure: str, *, pipenv: bool = False) -> None:
    if call(command, pipenv=pipenv) != 0:
        raise SetupFailed(failure)


def create_venv(venv: Path, python: str = sys.executable) -> None:
    """A virtual environment with pip, also where Debian leaves out ensurepip (python3-venv)."""
    if succeeds([python, "-m", "venv", str(venv)]):
        return
    # Without ensurepip, venv can still make the environment; pip then comes from this Python's
    # own pip (pip 22.3 or newer can install into another environment with --python).
    run_step(
        [python, "-m", "venv", "--without-pip", str(venv)],
        f"could not create {venv} with {python} -m venv",
    )
    target = str(venv_executable("python", venv))
    install_pip = [python, "-m", "pip", "--python", target, "install", "--quiet", "pip"]
    if not succeeds(install_pip):
        raise SetupFailed(
            f"{python} cannot put pip into a virtual environment: install the python3-venv "
            "package (Debian/Ubuntu: sudo apt install python3-venv) and run this again"
        )


def lock_digest() -> str:
    return hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()


def synced_already(digest: str, *, dev: bool) -> bool:
    """True when the last successful sync installed this Pipfile.lock (with the dev packages,
    if they are needed now)."""
    try:
        stamp = SYNC_STAMP.read_text().split()
    except FileNotFoundError:
        return False
    return bool(stamp) and stamp[0] == digest and (not dev or "dev" in stamp[1:])


def pipenv_environment() -> dict[str, str]:
    """Make Pipenv use this project's .venv, whatever environment the caller has active."""
    environment = dict(os.environ)
    environment.pop("VIRTUAL_ENV", None)
    environment.pop("PIPENV_ACTIVE", None)
    environment.update(
        PIPENV_VENV_IN_PROJECT="1",
        PIPENV_IGNORE_VIRTUALENVS="1",
        PIPENV_VERBOSITY="-1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return environment


def set_up(*, dev: bool) -> Path:
    """Make .venv ready to run the scripts; return its pipenv."""
    python = venv_executable("python")
    pipenv = venv_executable("pipenv")
    if not python.exists() or (
        not pipenv.exists() and not succeeds([str(python), "-m", "pip", "--version"])
    ):
        say(f"creating the virtual environment .venv with {sys.executable}")
        create_venv(VENV)
    if not pipenv.exists():
        say("installing Pipenv into .venv")
        run_step(
            [str(python), "-m", "pip", "install", "--quiet", "pipenv"],
            "could not install Pipenv into .venv (see pip's message above)",
        )
    digest = lock_digest()
    if not synced_already(digest, dev=dev):
        sync = [str(pipenv), "sync", *(["--dev"] if dev else [])]
        say(f"installing the locked dependencies into .venv ({' '.join(sync[1:])})")
        SYNC_STAMP.unlink(missing_ok=True)
        run_step(sync, "pipenv sync failed (see its message above)", pipenv=True)
        SYNC_STAMP.write_text(f"{digest}{' dev' if dev else ''}\n")
    return pipenv


def replace_process(command: list[str]) -> NoReturn:
    """Become the command, so Ctrl-C, signals and the exit status are the script's own."""
    os.chdir(PROJECT)
    os.execve(command[0], command, pipenv_environment())  # noqa: S606  # nosec B606


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if argv else 2
    script = argv[0]
    try:
        pipenv = set_up(dev=script not in RUNTIME_SCRIPTS)
    except SetupFailed as error:
        say(str(error))
        return 1
    command = [str(pipenv), "run", *argv]
    if os.name == "nt":  # pragma: no cover -- Windows has no exec that keeps the exit status
        return call(command, pipenv=True)
    replace_process(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
