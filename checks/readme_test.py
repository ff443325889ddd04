"""The README's walkthrough is true: its curl examples run, in order, against the real service.

Every ```sh block of README.md that mentions localhost:8000 is part of one story. Its commands
run one after another in a single bash session (so `APP=$(...)` set in one block is there in
the next), against a live server on a fresh database, with localhost:8000 replaced by the
server's address. The comment lines right under a command show what it answers, and are
checked (the convention is described for authors at the top of the README's API section):

    # HTTP/1.1 412 Precondition Failed   the status line (the command must use curl -i)
    # ETag: "4"                          a header; `...` in a value matches anything
    # {"status": 412, ...}               the JSON body: the members shown, with these values;
                                         `...` stands for the rest, or for any value

A request with no status line shown must succeed (2xx or 3xx).
"""

from __future__ import annotations

import os
import shutil
import subprocess  # runs commands/create_key.py as the README says  # nosec B404
import sys
from pathlib import Path
from typing import Any

import pytest

from config.settings import PROJECT_ROOT
from conftest import make_settings
from database.migration_runner import MigrationRunner
from testing.live_server import run_live_server
from testing.readme_examples import (
    README,
    Example,
    Outcome,
    mismatches,
    read_examples,
    run_story,
)


@pytest.fixture
def tools() -> None:
    missing = [tool for tool in ("bash", "curl", "python3") if shutil.which(tool) is None]
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"the README's examples need {', '.join(missing)}")
    assert not missing, f"the README's examples need {', '.join(missing)}"


def created_key(database_url: str) -> str:
    """`pipenv run create-key --role admin --name readme` (the Pipfile's command), whose last
    line is the key."""
    assert "pipenv run create-key --role admin --name" in README.read_text()
    printed = subprocess.run(
        [sys.executable, "-m", "commands.create_key", "--role", "admin", "--name", "readme"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return printed.stdout.strip().splitlines()[-1]


@pytest.mark.usefixtures("tools")
def test_the_readme_examples_run_in_order_and_answer_what_they_show(
    empty_database_url: str, tmp_path: Path
) -> None:
    examples = read_examples(README.read_text())
    MigrationRunner(empty_database_url).up()
    # As a newcomer gets a key: the README's own command, on this database.
    token = created_key(empty_database_url)

    with run_live_server(
        make_settings(empty_database_url), admin_key=token, default_key=False
    ) as server:
        outcomes = run_story(examples, server.url, tmp_path, {"TOKEN": token})
        address = server.url.removeprefix("http://")

    report = [
        f"README.md line {example.line}: {example.command.splitlines()[0]}\n    {problem}"
        for example, outcome in zip(examples, outcomes, strict=True)
        for problem in mismatches(example, outcome, address)
    ]
    assert report == [], "\n".join(report)
    assert len(examples) >= 20
    assert sum(1 for example in examples if example.expected) >= 10


STORY = """
Prose, and a block that is not run:

```sh
pipenv run migrate
```

```sh
# Create
curl -i -X POST localhost:8000/things \\
  -d '{"name": "a",
       "size": 1}'
# HTTP/1.1 201 Created
# location: /things/...
# {"id": "...", "name": "a",
#  ...}

ID=$(curl -s localhost:8000/things | python3 -c 'print(1)')
curl localhost:8000/things/$ID
```
"""


def test_the_runnable_commands_are_read_with_what_they_show() -> None:
    examples = read_examples(STORY)

    assert examples == [
        Example(
            line=10,
            command='curl -i -X POST localhost:8000/things \\\n  -d \'{"name": "a",\n'
            '       "size": 1}\'',
            expected=(
                "HTTP/1.1 201 Created",
                "location: /things/...",
                '{"id": "...", "name": "a",',
                " ...}",
            ),
        ),
        Example(18, "ID=$(curl -s localhost:8000/things | python3 -c 'print(1)')", ()),
        Example(19, "curl localhost:8000/things/$ID", ()),
    ]


def outcome(status_line: str | None, stdout: str, **changes: Any) -> Outcome:
    values: dict[str, Any] = {
        "status_line": status_line,
        "headers": [("location", "/things/01X"), ("etag", '"1"')],
        "stdout": stdout,
        "stderr": "",
        "exit_status": 0,
        "variables": {"ID": "01X"},
    }
    values.update(changes)
    return Outcome(**values)


CREATED = "HTTP/1.1 201 Created\r\nlocation: /things/01X\r\n\r\n"
SHOWN = ("HTTP/1.1 201 Created", 'etag: "1"', '{"id": "$ID", "tags": ["x", ...], ...}')


@pytest.mark.parametrize(
    ("shown", "answer", "problems"),
    [
        (SHOWN, outcome("HTTP/1.1 201 Created", CREATED + '{"id": "01X", "tags": ["x"]}'), []),
        (
            SHOWN,
            outcome("HTTP/1.1 409 Conflict", CREATED + '{"id": "01Y", "tags": []}'),
            [
                "status is 'HTTP/1.1 409 Conflict', shown 'HTTP/1.1 201 Created'",
                'body: /id is "01Y", shown "01X"',
            ],
        ),
        (
            SHOWN,
            outcome("HTTP/1.1 201 Created", CREATED + '{"id": "01X", "tags": []}'),
            ["body: /tags has 0 items, shown 1"],
        ),
        (
            ("HTTP/1.1 201 Created", 'etag: "2"'),
            outcome("HTTP/1.1 201 Created", CREATED),
            ["header etag is ['\"1\"'], shown '\"2\"'"],
        ),
        (
            ('{"id": "01X"}',),
            outcome("HTTP/1.1 200 OK", '{"id": "01X", "name": "a"}'),
            ["body: / has members ['id', 'name'], shown ['id']"],
        ),
        (
            ("HTTP/1.1 200 OK",),
            outcome("HTTP/1.1 200 OK", "{}"),
            ["shows a status line, but the command does not print one (use curl -i)"],
        ),
        (
            (),
            outcome("HTTP/1.1 422 Unprocessable Entity", "{}"),
            ["answered 'HTTP/1.1 422 Unprocessable Entity', but the README shows no failure"],
        ),
        ((), outcome(None, ""), ["made no HTTP request"]),
        (
            (),
            outcome(None, "", exit_status=1, stderr="python3: not found\n"),
            ["exited with 1: python3: not found"],
        ),
    ],
)
def test_output_that_drifts_from_the_readme_is_reported(
    shown: tuple[str, ...], answer: Outcome, problems: list[str]
) -> None:
    example = Example(line=1, command="curl -i localhost:8000/things", expected=shown)

    assert mismatches(example, answer, "127.0.0.1:1234") == problems
