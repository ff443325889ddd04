"""The product's import graph: which part may import which.

A request travels api -> services -> repositories -> database; delivery sits between api and
services (it serves reads from memory and feeds streams); models and config are used by all.
identity (who a bearer token proves its holder is) stands beside them: pure, it uses models only,
api asks it, and config reads the trusted issuers' shape from it.
So, for the production modules (everything but tests, `conftest.py`, and the tooling folders
`testing/`, `benchmarks/` and `checks/`):

* models, config, database, repositories and services never import delivery or api;
* delivery never imports api;
* services use the database layer only through the unit of work, except the domain-level
  conflict error (database/errors.py) that retries act on;
* nothing imports `main` (the composition root) or `testing` (test support);
* below api, nothing imports the web framework.

A new top-level part fails `test_every_production_module_belongs_to_a_known_part` until it is
added to MAY_IMPORT with what it may import.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
TOOLING = frozenset({"testing", "benchmarks", "checks"})
PRODUCT_PARTS = (
    "api",
    "commands",
    "config",
    "database",
    "delivery",
    "identity",
    "models",
    "repositories",
    "services",
)

# What each part may import of the product: whole parts, or single modules by their full name.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "config": frozenset({"config", "identity.trusted_issuers"}),
    "models": frozenset({"models"}),
    "identity": frozenset({"identity", "models"}),
    "database": frozenset({"config", "database"}),
    "repositories": frozenset({"database", "models", "repositories"}),
    "services": frozenset({"models", "repositories", "services", "database.errors"}),
    "delivery": frozenset({"config", "database", "delivery", "models", "repositories", "services"}),
    "api": frozenset(
        {"api", "config", "database", "delivery", "identity", "models", "repositories", "services"}
    ),
    "commands": frozenset({"commands", "config", "database", "models", "repositories", "services"}),
    # The composition root builds the app from every part.
    "main": frozenset(PRODUCT_PARTS),
    # The bootstrap runs before anything is installed: the standard library only.
    "run": frozenset(),
    # The client is a package of its own (installed apart, httpx only): nothing of the service.
    "client": frozenset(),
}
WEB_FRAMEWORK = ("fastapi", "starlette", "uvicorn")
WITHOUT_WEB_FRAMEWORK = frozenset(
    {"config", "models", "database", "repositories", "services", "delivery", "identity"}
)


def part_of(path: Path) -> str:
    relative = path.relative_to(PROJECT)
    return relative.parts[0].removesuffix(".py")


def is_production(path: Path) -> bool:
    relative = path.relative_to(PROJECT)
    return not (
        relative.parts[0].startswith(".")
        or relative.parts[0] in TOOLING
        or relative.name.endswith("_test.py")
        or relative.name == "conftest.py"
    )


def production_modules() -> list[Path]:
    return sorted(path for path in PROJECT.rglob("*.py") if is_production(path))


def imported_names(source: str) -> set[str]:
    """The full dotted name of everything imported, at any depth of the code (imports inside
    functions too): `import a.b` gives a.b, `from a.b import c` gives a.b.c (c may be a module
    or a name in a.b: the rules below judge both alike)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def allowed(part: str, name: str) -> bool:
    """Whether `part` may import `name`: the part it is in, or a module above it, is allowed."""
    may = MAY_IMPORT[part]
    pieces = name.split(".")
    return any(".".join(pieces[:length]) in may for length in range(1, len(pieces) + 1))


def refused_imports(part: str, source: str) -> list[str]:
    ours = {*PRODUCT_PARTS, *TOOLING, "main", "run"}
    return sorted(
        name
        for name in imported_names(source)
        if name.split(".")[0] in ours and not allowed(part, name)
    )


def framework_imports(source: str) -> list[str]:
    return sorted(name for name in imported_names(source) if name.split(".")[0] in WEB_FRAMEWORK)


def test_the_production_modules_are_found() -> None:
    names = {path.relative_to(PROJECT).as_posix() for path in production_modules()}
    assert {
        "api/problems/handlers.py",
        "delivery/runtime.py",
        "services/application_service.py",
        "commands/create_key.py",
        "main.py",
    } <= names
    assert not any(name.split("/")[0] in TOOLING or name.endswith("_test.py") for name in names)


@pytest.mark.parametrize(
    "path", production_modules(), ids=lambda path: path.relative_to(PROJECT).as_posix()
)
def test_every_production_module_belongs_to_a_known_part(path: Path) -> None:
    assert part_of(path) in MAY_IMPORT, (
        f"{part_of(path)}/ is a new part: say in MAY_IMPORT what it may import"
    )


@pytest.mark.parametrize(
    "path", production_modules(), ids=lambda path: path.relative_to(PROJECT).as_posix()
)
def test_each_part_imports_only_what_it_may(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert refused_imports(part_of(path), source) == []


@pytest.mark.parametrize(
    "path",
    [path for path in production_modules() if part_of(path) in WITHOUT_WEB_FRAMEWORK],
    ids=lambda path: path.relative_to(PROJECT).as_posix(),
)
def test_no_web_framework_below_api(path: Path) -> None:
    assert framework_imports(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("part", "source", "refused"),
    [
        ("services", "from delivery.runtime import Delivery", ["delivery.runtime.Delivery"]),
        ("services", "import api.app_state", ["api.app_state"]),
        ("services", "from database.pool import Database", ["database.pool.Database"]),
        ("services", "from database.errors import TransactionConflict", []),
        ("services", "from database import errors", []),
        ("services", "from database import pool", ["database.pool"]),
        ("delivery", "from api.v1 import conditional", ["api.v1.conditional"]),
        ("delivery", "from services.delivery_service import DeliveryService", []),
        ("models", "from config.settings import Settings", ["config.settings.Settings"]),
        ("identity", "from models.identity_binding import ClaimValue", []),
        ("identity", "from services.errors import NotFound", ["services.errors.NotFound"]),
        ("config", "from identity.trusted_issuers import TrustedIssuer", []),
        (
            "config",
            "from identity.token_verifier import TokenVerifier",
            ["identity.token_verifier.TokenVerifier"],
        ),
        ("repositories", "from services.errors import NotFound", ["services.errors.NotFound"]),
        ("database", "import models.change", ["models.change"]),
        ("api", "from delivery.reads import read_current", []),
        ("api", "import main", ["main"]),
        ("api", "from testing import live_server", ["testing.live_server"]),
        ("commands", "import api.app_state", ["api.app_state"]),
        ("main", "from api.v1.router import router\nfrom commands import startup", []),
        ("main", "import testing", ["testing"]),
        ("run", "import config", ["config"]),
        ("api", "def later() -> None:\n    import main\n", ["main"]),
        ("services", "import maintenance\nfrom . import sibling\nimport json", []),
    ],
)
def test_the_rules_see_what_they_should(part: str, source: str, refused: list[str]) -> None:
    assert refused_imports(part, source) == refused


def test_the_framework_check_sees_imports_of_the_framework_only() -> None:
    source = "import starlette.concurrency\nfrom fastapi import Request\nimport fastapi_offline\n"
    assert framework_imports(source) == ["fastapi.Request", "starlette.concurrency"]


HTTP_WORDS = re.compile(
    r"If-Match|If-None-Match|ETag|Last-Event-ID|header|status code"
    # a status code: "a 422", "a 5xx", or 422 and 503 on their own ("a 400-digit number" is not)
    r"|\ban? [45](?:\d\d|xx)(?![\w-])|\b(?:422|503)(?![\w-])",
    re.IGNORECASE,
)
BELOW_API = ("services", "models", "repositories", "database")


@pytest.mark.parametrize(
    "path",
    [path for path in production_modules() if part_of(path) in BELOW_API],
    ids=lambda path: path.relative_to(PROJECT).as_posix(),
)
def test_no_http_words_below_api(path: Path) -> None:
    """Services and what they use speak of versions and preconditions; api/ speaks HTTP."""
    assert HTTP_WORDS.findall(path.read_text(encoding="utf-8")) == []


def test_the_http_word_check_sees_status_codes() -> None:
    found = HTTP_WORDS.findall("is a 422; a 5xx; 503 to retry; a 400-digit integer; Last-Event-ID")
    assert found == ["a 422", "a 5xx", "503", "Last-Event-ID"]
