"""The product's import graph: no production module imports test support or `main`.

Production is every module except tests (`*_test.py`, `conftest.py`), the `testing/` package
and the benchmark. `main` builds the app from the layers; nothing in them may import it back.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("testing", "main")


def is_production(path: Path) -> bool:
    relative = path.relative_to(PROJECT)
    return not (
        relative.parts[0].startswith(".")
        or relative.parts[0] in {"testing", "benchmarks", "checks"}
        or relative.name.endswith("_test.py")
        or relative.name == "conftest.py"
    )


def production_modules() -> list[Path]:
    # main.py is the composition root: it may import everything, and nothing imports it.
    return sorted(
        path
        for path in PROJECT.rglob("*.py")
        if is_production(path) and path != PROJECT / "main.py"
    )


def imported_modules(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def forbidden_imports(source: str) -> list[str]:
    return sorted(
        module for module in imported_modules(source) if module.split(".")[0] in FORBIDDEN
    )


def test_the_production_modules_are_found() -> None:
    names = {path.relative_to(PROJECT).as_posix() for path in production_modules()}
    assert {"api/problems/handlers.py", "services/application_service.py"} <= names
    assert not any(name.startswith("testing/") or name.endswith("_test.py") for name in names)


@pytest.mark.parametrize(
    "path", production_modules(), ids=lambda path: path.relative_to(PROJECT).as_posix()
)
def test_no_production_module_imports_test_support_or_main(path: Path) -> None:
    assert forbidden_imports(path.read_text(encoding="utf-8")) == []


def test_the_check_sees_such_imports_and_only_those() -> None:
    source = (
        "import main\nfrom testing.live_server import LiveServer\nimport testing\n"
        "from . import sibling\nfrom api.problems.schema import Problem\nimport maintenance\n"
    )
    assert forbidden_imports(source) == ["main", "testing", "testing.live_server"]


HTTP_WORDS = re.compile(
    r"If-Match|If-None-Match|ETag|Last-Event-ID|header|status code"
    # a status code: "a 422", "a 5xx", or 422 and 503 on their own ("a 400-digit number" is not)
    r"|\ban? [45](?:\d\d|xx)(?![\w-])|\b(?:422|503)(?![\w-])",
    re.IGNORECASE,
)
BELOW_API = ("services", "models", "repositories", "database")


@pytest.mark.parametrize(
    "path",
    [path for path in production_modules() if path.relative_to(PROJECT).parts[0] in BELOW_API],
    ids=lambda path: path.relative_to(PROJECT).as_posix(),
)
def test_no_http_words_below_api(path: Path) -> None:
    """Services and what they use speak of versions and preconditions; api/ speaks HTTP."""
    assert HTTP_WORDS.findall(path.read_text(encoding="utf-8")) == []


def test_the_http_word_check_sees_status_codes() -> None:
    found = HTTP_WORDS.findall("is a 422; a 5xx; 503 to retry; a 400-digit integer; Last-Event-ID")
    assert found == ["a 422", "a 5xx", "503", "Last-Event-ID"]
