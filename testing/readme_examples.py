"""Run the README's curl examples as one story and compare each answer with what it shows.

checks/readme_test.py uses this; the convention is described there and at the top of the README's
API section.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess  # runs bash on the README's own commands  # nosec B404
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
README_ADDRESS = "localhost:8000"
ANY = "\u2026any\u2026"  # what `...` becomes inside an expected JSON body
STATUS_LINE = re.compile(r"HTTP/[\d.]+ \d{3}( .*)?")
HEADER_LINE = re.compile(r"([A-Za-z0-9-]+): ?(.*)")
FIRST_ERROR_STATUS = 400
REQUEST_SECONDS = 60
VARIABLE_ASSIGNMENT = re.compile(r"^([A-Z_][A-Z0-9_]*)=")


@dataclass(frozen=True)
class Example:
    line: int  # where the command starts in README.md
    command: str
    expected: tuple[str, ...]  # the comment lines under it, without "# "


def is_complete(command: str) -> bool:
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command)
    except ValueError:  # a quote still open: the command goes on
        return False
    return True


def read_examples(text: str) -> list[Example]:
    """The commands of the runnable blocks, in order, each with the output shown under it."""
    examples: list[Example] = []
    block: list[tuple[int, str]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if block is None:
            if line.strip() == "```sh":
                block = []
        elif line.strip() == "```":
            if any(README_ADDRESS in text for _, text in block):
                examples.extend(read_block(block))
            block = None
        else:
            block.append((number, line))
    return examples


def read_block(lines: list[tuple[int, str]]) -> list[Example]:
    examples: list[Example] = []
    index = 0
    while index < len(lines):
        number, line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue  # blank, or prose above a command
        command = line
        while not is_complete(command) and index < len(lines):
            command += "\n" + lines[index][1]
            index += 1
        expected: list[str] = []
        while index < len(lines) and lines[index][1].startswith("#"):
            expected.append(lines[index][1].removeprefix("#").removeprefix(" "))
            index += 1
        examples.append(Example(number, command, tuple(expected)))
    return examples


def expected_json(text: str) -> Any:
    """Parse a shown JSON body in which `...` stands for omitted members, items or values."""
    parts = re.split(r'("(?:\\.|[^"\\])*")', text)  # strings at the odd positions
    for position in range(0, len(parts), 2):
        part = parts[position]
        part = re.sub(r"([{,])\s*\.\.\.\s*(?=[},])", rf'\1 "{ANY}": null', part)
        part = re.sub(r"\.\.\.", f'"{ANY}"', part)
        parts[position] = part
    return json.loads("".join(parts))


def json_mismatch(expected: Any, actual: Any, where: str = "") -> str | None:
    """Why actual does not look as shown, or None."""
    if expected in (ANY, "..."):
        return None
    if isinstance(expected, dict) and isinstance(actual, dict):
        return object_mismatch(expected, actual, where)
    if isinstance(expected, list) and isinstance(actual, list):
        return array_mismatch(expected, actual, where)
    if expected == actual and type(expected) is type(actual):
        return None
    return f"{where or '/'} is {json.dumps(actual)}, shown {json.dumps(expected)}"


def object_mismatch(expected: dict[str, Any], actual: dict[str, Any], where: str) -> str | None:
    shown = {key: value for key, value in expected.items() if key != ANY}
    missing = sorted(set(shown) - set(actual))
    unshown = sorted(set(actual) - set(shown))
    if missing or (unshown and ANY not in expected):
        return f"{where or '/'} has members {sorted(actual)}, shown {sorted(shown)}"
    found = (json_mismatch(value, actual[key], f"{where}/{key}") for key, value in shown.items())
    return next((problem for problem in found if problem), None)


def array_mismatch(expected: list[Any], actual: list[Any], where: str) -> str | None:
    open_ended = bool(expected) and expected[-1] == ANY
    shown = expected[:-1] if open_ended else expected
    if len(actual) < len(shown) or (not open_ended and len(actual) != len(shown)):
        return f"{where or '/'} has {len(actual)} items, shown {len(shown)}"
    found = (
        json_mismatch(value, item, f"{where}/{n}")
        for n, (value, item) in enumerate(zip(shown, actual, strict=False))
    )
    return next((problem for problem in found if problem), None)


def matches_text(shown: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(piece) for piece in shown.split("..."))
    return re.fullmatch(pattern, actual, flags=re.DOTALL) is not None


@dataclass(frozen=True)
class Outcome:
    status_line: str | None  # of the last request the command made
    headers: list[tuple[str, str]]
    stdout: str
    stderr: str
    exit_status: int
    variables: dict[str, str]


def mismatches(example: Example, outcome: Outcome, address: str) -> list[str]:
    """Every way the command's outcome differs from what the README shows under it."""
    if outcome.exit_status != 0:
        return [f"exited with {outcome.exit_status}: {outcome.stderr.strip()}"]
    if outcome.status_line is None:
        return ["made no HTTP request"] if "curl" in example.command else []
    shown = [line.replace(README_ADDRESS, address) for line in example.expected]
    for name in sorted(outcome.variables, key=len, reverse=True):
        shown = [line.replace(f"${name}", outcome.variables[name]) for line in shown]
    problems: list[str] = []
    body = outcome.stdout
    if body.startswith("HTTP/"):  # curl -i: the headers, a blank line, the body
        body = "".join(re.split(r"\r?\n\r?\n", body, maxsplit=1)[1:])
    elif shown and STATUS_LINE.fullmatch(shown[0]):
        return ["shows a status line, but the command does not print one (use curl -i)"]
    if shown and STATUS_LINE.fullmatch(shown[0]):
        problems += head_mismatches(shown, outcome)
        starts = [n for n, line in enumerate(shown) if line.startswith(("{", "["))]
        shown = shown[starts[0] :] if starts else []
    elif int(outcome.status_line.split()[1]) >= FIRST_ERROR_STATUS:
        problems.append(f"answered {outcome.status_line!r}, but the README shows no failure")
    if shown:
        problems += body_mismatches("\n".join(shown), body)
    return problems


def head_mismatches(shown: list[str], outcome: Outcome) -> list[str]:
    """The status line and the headers shown (the lines before the body)."""
    problems = []
    if outcome.status_line != shown[0]:
        problems.append(f"status is {outcome.status_line!r}, shown {shown[0]!r}")
    for line in shown[1:]:
        if line.startswith(("{", "[")):
            break
        header = HEADER_LINE.fullmatch(line)
        if header is None:
            problems.append(f"cannot read {line!r} as a header")
            continue
        name, value = header.groups()
        values = [v for n, v in outcome.headers if n.lower() == name.lower()]
        if not any(matches_text(value, actual) for actual in values):
            problems.append(f"header {name} is {values}, shown {value!r}")
    return problems


def body_mismatches(shown: str, body: str) -> list[str]:
    try:
        expected = expected_json(shown)
    except json.JSONDecodeError as error:
        return [f"cannot read the shown body {shown!r} as JSON ({error})"]
    try:
        actual = json.loads(body)
    except json.JSONDecodeError:
        return [f"answered {body!r}, shown {shown!r}"]
    found = json_mismatch(expected, actual)
    return [f"body: {found}"] if found else []


def run_story(
    examples: list[Example],
    base_url: str,
    workspace: Path,
    environment: dict[str, str] | None = None,
) -> list[Outcome]:
    """Run the commands in one bash session (with `environment` added to its variables);
    curl also saves each response's headers."""
    variables = sorted(
        {match.group(1) for e in examples if (match := VARIABLE_ASSIGNMENT.match(e.command))}
    )
    address = base_url.removeprefix("http://")
    script = [f'curl() {{ command curl -D "{workspace}/$STEP.headers" "$@"; }}']
    for step, example in enumerate(examples):
        command = example.command.replace(README_ADDRESS, address)
        output = f"{workspace}/{step}"
        script += [
            f"STEP={step}",
            f'{{\n{command}\n}} > "{output}.out" 2> "{output}.err"',
            f'echo $? > "{output}.status"',
            *(f'printf "%s=%s\\n" {name} "${name}" >> "{output}.vars"' for name in variables),
            f'touch "{output}.vars"',
        ]
    # curl reads $CURL_HOME/.curlrc: no request of the story may hang the test.
    (workspace / ".curlrc").write_text(f"max-time = {REQUEST_SECONDS}\n")
    subprocess.run(  # noqa: S603 (bash runs the README's own commands)  # nosec B603
        [shutil.which("bash") or "bash", "-c", "\n".join(script)],
        env={**os.environ, **(environment or {}), "CURL_HOME": str(workspace)},
        cwd=workspace,  # files the examples write (key.http, ...) stay out of the project
        check=False,
        timeout=600,
    )
    return [read_outcome(workspace, step) for step in range(len(examples))]


def read(path: Path) -> str:
    return path.read_bytes().decode()  # as written: HTTP's CRLF line ends included


def read_outcome(workspace: Path, step: int) -> Outcome:
    headers_file = workspace / f"{step}.headers"
    status_line: str | None = None
    headers: list[tuple[str, str]] = []
    if headers_file.exists():
        # With redirects or 100-continue there are several blocks; the last one is the answer.
        block = re.split(r"\r?\n\r?\n", read(headers_file).strip())[-1].splitlines()
        status_line = block[0].strip()
        for line in block[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    variables = dict(
        line.split("=", 1) for line in (workspace / f"{step}.vars").read_text().splitlines()
    )
    return Outcome(
        status_line=status_line,
        headers=headers,
        stdout=read(workspace / f"{step}.out"),
        stderr=(workspace / f"{step}.err").read_text(),
        exit_status=int((workspace / f"{step}.status").read_text()),
        variables={name: value for name, value in variables.items() if value},
    )
