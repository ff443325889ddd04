"""The migration command line: `pipenv run migrate [up|status|down [N]]` (no argument: up).

Exit codes: 0 done, 1 the migrations could not run (message on stderr), 2 bad usage or settings.
"""

from __future__ import annotations

import argparse
import sys

import psycopg2

from config.settings import SettingsError, load_settings
from database.migration_files import MigrationError, MigrationStatus
from database.migration_runner import MigrationRunner
from database.url import describe_connection_failure, resolve_database_url

STATUS_MARKERS = {
    "applied": "applied",
    "pending": "pending",
    "changed": "CHANGED",
    "missing": "MISSING",
}


def main(argv: list[str]) -> int:
    try:
        arguments = _parser().parse_args(argv)
    except SystemExit as exit_request:  # argparse has printed the usage or the help
        return exit_request.code if isinstance(exit_request.code, int) else 2
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    runner = MigrationRunner(
        resolve_database_url(settings),
        connect_timeout_seconds=settings.database_connect_timeout_seconds,
    )
    try:
        if arguments.command == "status":
            lines = status_lines(runner.status())
        elif arguments.command == "down":
            lines = _down_lines(runner.down(arguments.steps))
        else:
            lines = _up_lines(runner)
    except MigrationError as error:
        print(error, file=sys.stderr)
        return 1
    except psycopg2.OperationalError as error:
        print(describe_connection_failure(error), file=sys.stderr)
        return 1
    except psycopg2.Error as error:
        print(f"database error: {str(error).strip()}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def status_lines(status: MigrationStatus) -> list[str]:
    """One line per migration, marked with its state, then what to do about it."""
    lines = [
        f"{marker}  {name}"
        for state, marker in STATUS_MARKERS.items()
        for name in getattr(status, state)
    ]
    return [*lines, status.describe()]


def _up_lines(runner: MigrationRunner) -> list[str]:
    applied = runner.up()
    if applied:
        return [f"applied {name}" for name in applied]
    count = len(runner.status().applied)
    return [f"nothing to apply: schema is current ({count} migration{'' if count == 1 else 's'})"]


def _down_lines(reverted: list[str]) -> list[str]:
    if reverted:
        return [f"reverted {name}" for name in reverted]
    return ["nothing to revert: no migrations are applied"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipenv run migrate", description="Apply, revert or list the database migrations."
    )
    commands = parser.add_subparsers(dest="command", metavar="{up,status,down}")
    commands.add_parser("up", help="apply every pending migration (the default)")
    commands.add_parser("status", help="list applied, pending, changed and missing migrations")
    down = commands.add_parser("down", help="revert the newest applied migrations")
    down.add_argument(
        "steps", nargs="?", type=_positive_integer, default=1, help="how many (default 1)"
    )
    return parser


def _positive_integer(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {text!r})")
    return int(text)


if __name__ == "__main__":  # pragma: no cover -- run as a subprocess in the tests
    sys.exit(main(sys.argv[1:]))
