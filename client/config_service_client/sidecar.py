"""The sidecar: a configuration for shell scripts and containers, without a line of Python.

    config-service-client get APPLICATION NAME
        prints the document as JSON (the cached one, with a warning, when the service cannot
        answer and --cache-dir has it)
    config-service-client render APPLICATION NAME --output FILE [--exec COMMAND]
        writes the document to FILE (atomically, mode 0600 unless --mode says otherwise) and
        keeps it current until SIGTERM or SIGINT (then exits 0); after each write it runs
        COMMAND and/or sends --signal to the process in --pid-file

Both read CONFIG_SERVICE_URL, CONFIG_SERVICE_TOKEN and CONFIG_SERVICE_TOKEN_FILE. Exit status
1, with one line on stderr saying why, when there is no first document (no answer and none
cached, no such configuration, a refused key) or the file cannot be written; 2 for wrong
arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import subprocess  # runs the user's --exec command, split into arguments, never a shell  # nosec B404
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import get_args

from config_service_client.atomic_file import write_atomically
from config_service_client.client import Client
from config_service_client.credentials import CredentialsError
from config_service_client.document import Document
from config_service_client.errors import ConfigServiceError
from config_service_client.following import Transport

PROGRAM = "config-service-client"
DESCRIPTION = "Get a configuration from Config Service, or keep a file of it current."
EXEC_TIMEOUT_SECONDS = 60.0
logger = logging.getLogger("config_service_client")


class OutputNotWritten(Exception):
    """The rendered file cannot be written (no such directory, no permission, disk full)."""


class Stopped(BaseException):
    """SIGTERM or SIGINT arrived: stop at once (a BaseException, so nothing swallows it)."""


def _stop(signal_number: int, frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signal_number).name)


def _mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--mode must be octal, e.g. 600 or 0644 (got {text!r})"
        ) from None
    if not 0 <= mode <= 0o777:  # noqa: PLR2004
        raise argparse.ArgumentTypeError(f"--mode must be between 000 and 777 (got {text!r})")
    return mode


def _signal(text: str) -> signal.Signals:
    name = text.upper() if text.upper().startswith("SIG") else f"SIG{text.upper()}"
    try:
        return signal.Signals[name]
    except KeyError:
        raise argparse.ArgumentTypeError(f"--signal: no signal named {text!r}") from None


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("application", help="the application's name")
    common.add_argument("name", help="the configuration's name")
    common.add_argument("--url", help="the service's URL (default: $CONFIG_SERVICE_URL)")
    common.add_argument(
        "--token-file",
        help="a file holding the key or bearer token, read again when it changes "
        "(default: $CONFIG_SERVICE_TOKEN_FILE, or the key in $CONFIG_SERVICE_TOKEN)",
    )
    common.add_argument(
        "--cache-dir",
        help="keep the last good document here (0700), to start on it when the service "
        "cannot be reached",
    )
    common.add_argument(
        "--timeout", type=float, default=10.0, help="seconds for each request (default 10)"
    )
    top = argparse.ArgumentParser(prog=PROGRAM, description=DESCRIPTION)
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("get", parents=[common], help="print the document as JSON")
    render = commands.add_parser(
        "render", parents=[common], help="write the document to a file and keep it current"
    )
    render.add_argument("--output", required=True, type=Path, help="the file to write")
    render.add_argument(
        "--mode", type=_mode, default=0o600, help="the file's mode, in octal (default 600)"
    )
    render.add_argument(
        "--exec",
        dest="command_line",
        help="run this command after each write (split like a shell would, run without one)",
    )
    render.add_argument(
        "--signal", type=_signal, help="send this signal after each write, e.g. HUP"
    )
    render.add_argument("--pid-file", type=Path, help="the process to signal: its pid in a file")
    render.add_argument(
        "--transport",
        choices=get_args(Transport),
        default="auto",
        help="how to follow changes (default auto: the event stream, long polling where a "
        "proxy breaks streams)",
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    if arguments.command == "render" and (arguments.signal is None) != (arguments.pid_file is None):
        parser().error("--signal and --pid-file go together")
    logging.basicConfig(level=logging.INFO, format=f"{PROGRAM}: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    where = f"{arguments.application}/{arguments.name}"
    try:
        with Client(
            arguments.url,
            token_file=arguments.token_file,
            cache_dir=arguments.cache_dir,
            timeout=arguments.timeout,
        ) as client:
            if arguments.command == "get":
                return print_document(client, arguments.application, arguments.name)
            return render(client, arguments)
    except Stopped as stop:
        logger.info("stopped by %s", stop)
        return 0
    except (ConfigServiceError, CredentialsError, ValueError) as error:
        print(f"{PROGRAM}: cannot get {where}: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # the --cache-dir cannot be made or read
        print(f"{PROGRAM}: cannot get {where}: {error.strerror}: {error.filename}", file=sys.stderr)
        return 1
    except OutputNotWritten as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 1


def print_document(client: Client, application: str, name: str) -> int:
    document = client.get(application, name)
    print(document_text(document), end="")
    return 0


def document_text(document: Document) -> str:
    return json.dumps(document.value, indent=2, ensure_ascii=False) + "\n"


def render(client: Client, arguments: argparse.Namespace) -> int:
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _stop)
    output: Path = arguments.output
    for document in client.watch(
        arguments.application, arguments.name, transport=arguments.transport
    ):
        try:
            write_atomically(output, document_text(document).encode(), mode=arguments.mode)
        except OSError as error:
            raise OutputNotWritten(f"cannot write {output}: {error.strerror}") from None
        stale = f" (stale: fetched {document.fetched_at.isoformat(timespec='seconds')})"
        logger.info(
            "wrote revision %d of %s/%s to %s%s",
            document.revision,
            document.application,
            document.name,
            output,
            stale if document.stale else "",
        )
        if arguments.command_line:
            run_command(arguments.command_line)
        if arguments.signal is not None:
            send_signal(arguments.signal, arguments.pid_file)
    return 0  # a watch never ends by itself


def run_command(command_line: str) -> None:
    try:
        finished = subprocess.run(  # noqa: S603 (the user's own command, without a shell)  # nosec B603
            shlex.split(command_line), check=False, timeout=EXEC_TIMEOUT_SECONDS
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as error:
        logger.warning("--exec %s failed: %s", command_line, error)
        return
    if finished.returncode != 0:
        logger.warning("--exec %s exited with status %d", command_line, finished.returncode)


def send_signal(to_send: signal.Signals, pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, to_send)
    except (OSError, ValueError) as error:
        logger.warning("cannot send %s to the process in %s: %s", to_send.name, pid_file, error)
