"""No SQL in the project is built from values: every query is a constant with parameters.

The checker reads every .py file of the project (tests included) with `ast` and reports:
- SQL text built with an f-string that substitutes something, `%` formatting, `.format()` or
  `+` with anything but another literal;
- a `cursor.execute(...)` whose query is not a string literal, a module-level constant, a
  `psycopg2.sql` composition, or a parameter that every caller in the module fills with one of
  those.
The last tests feed it small snippets, to prove it catches each bad pattern.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRECTORIES = {".postgres", ".venv", ".git", ".hypothesis", "__pycache__", "htmlcov"}

_SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\b(?:CREATE|ALTER|DROP)\s+(?:TABLE|INDEX|DATABASE|SCHEMA|VIEW|ROLE|EXTENSION)\b"
    r"|\bTRUNCATE\b|\bSET\s+(?:SESSION|LOCAL)\b",
    re.IGNORECASE,
)

# Audited exceptions, keyed by (file, enclosing function), each with the reason it is safe.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "database/migration_runner_test.py",
        "*",
    ): "writes the text of test migration files (SQL files the runner reads), from values the "
    "tests themselves pick; it runs no query built from values",
    (
        "database/pool_test.py",
        "driver_error",
    ): "runs the statements its tests pass, each a literal in that file",
    (
        "database/migration_runner.py",
        "_run_in_transaction",
    ): "runs a migration file as written: migration files are reviewed code, not values",
    (
        "repositories/repository.py",
        "_fetch_one",
    ): "runs the query a repository passes; its callers' queries are checked where they call it, "
    "like execute()'s (see QUERY_RUNNERS)",
    (
        "testing/databases.py",
        "run_sql",
    ): "runs the statement a test passes; its callers' statements are checked where they call "
    "it (see QUERY_FUNCTIONS)",
}

# Calls whose first argument is run as SQL: the driver's, and the repositories' shared helper.
QUERY_RUNNERS = {"execute", "executemany", "mogrify", "_fetch_one"}
# Plain functions that run one of their arguments as SQL, by its position: the tests' helper.
QUERY_FUNCTIONS = {"run_sql": 1}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    function: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.function}): {self.problem}"


def looks_like_sql(text: str) -> bool:
    return bool(_SQL.search(text))


def _constant_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    return None


def _is_sql_composition(node: ast.AST) -> bool:
    """psycopg2.sql: SQL(...), Identifier(...), Composed(...), and .format/.join on them."""
    if not isinstance(node, ast.Call):
        return False
    function = node.func
    if isinstance(function, ast.Attribute) and function.attr in {"format", "join"}:
        return _is_sql_composition(function.value)
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    owner = function.value if isinstance(function, ast.Attribute) else None
    from_sql_module = owner is None or (isinstance(owner, ast.Name) and owner.id == "sql")
    return from_sql_module and name in {"SQL", "Composed", "Identifier", "Literal"}


class _Checker(ast.NodeVisitor):
    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.findings: list[Finding] = []
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.constants = {
            target.id: statement.value
            for statement in tree.body
            if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None
            for target in (
                statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            )
            if isinstance(target, ast.Name)
        }
        self.definitions = {
            node.name: node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]

    def report(self, node: ast.AST, problem: str) -> None:
        function = self.functions[-1].name if self.functions else "<module>"
        if (self.path, function) not in ALLOWED and (self.path, "*") not in ALLOWED:
            self.findings.append(Finding(self.path, getattr(node, "lineno", 0), function, problem))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.functions.append(node)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]  # noqa: N815

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        substitutes = any(isinstance(part, ast.FormattedValue) for part in node.values)
        if substitutes and looks_like_sql(_constant_text(node) or ""):
            self.report(node, "SQL built with an f-string")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        texts = [_constant_text(side) for side in (node.left, node.right)]
        if isinstance(node.op, ast.Mod) and looks_like_sql(texts[0] or ""):
            self.report(node, "SQL built with % formatting")
        if isinstance(node.op, ast.Add) and any(looks_like_sql(text or "") for text in texts):
            literal = all(
                isinstance(side, ast.Constant | ast.BinOp) for side in (node.left, node.right)
            )
            if not literal:
                self.report(node, "SQL built with + on a value")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if isinstance(function, ast.Attribute):
            if function.attr == "format" and looks_like_sql(_constant_text(function.value) or ""):
                self.report(node, "SQL built with .format()")
            executes = function.attr in QUERY_RUNNERS and node.args
            if executes and not self._safe_query(node.args[0], depth=0):
                self.report(node, f"{function.attr}() of a query that is not a constant")
        elif isinstance(function, ast.Name) and function.id in QUERY_FUNCTIONS:
            index = QUERY_FUNCTIONS[function.id]
            if len(node.args) > index and not self._safe_query(node.args[index], depth=0):
                self.report(node, f"{function.id}() of a query that is not a constant")
        self.generic_visit(node)

    def _safe_query(self, node: ast.AST, *, depth: int) -> bool:
        if _constant_text(node) is not None:
            return isinstance(node, ast.Constant)  # an f-string is reported where it is built
        if _is_sql_composition(node):
            return True
        if isinstance(node, ast.Attribute | ast.IfExp):
            return self._safe_attribute_or_choice(node, depth=depth)
        if not isinstance(node, ast.Name) or depth > 2:
            return False
        if node.id in self.constants and not self._assigned_in_function(node.id):
            return self._safe_query(self.constants[node.id], depth=depth + 1)
        return self._parameter_filled_safely(node.id, depth=depth)

    def _safe_attribute_or_choice(self, node: ast.Attribute | ast.IfExp, *, depth: int) -> bool:
        if isinstance(node, ast.Attribute):
            return node.attr.isupper()  # a constant of another module
        # A choice between queries (`LOCKED if lock else PLAIN`): both must be safe.
        return all(self._safe_query(branch, depth=depth) for branch in (node.body, node.orelse))

    def _assigned_in_function(self, name: str) -> bool:
        function = self.functions[-1] if self.functions else None
        return function is not None and any(
            isinstance(target, ast.Name) and target.id == name
            for statement in ast.walk(function)
            if isinstance(statement, ast.Assign)
            for target in statement.targets
        )

    def _parameter_filled_safely(self, name: str, *, depth: int) -> bool:
        """`name` is a parameter of the enclosing function, and every call of that function in
        this module passes a safe query for it."""
        if not self.functions:
            return False
        function = self.functions[-1]
        parameters = [argument.arg for argument in function.args.args]
        if name not in parameters + [argument.arg for argument in function.args.kwonlyargs]:
            return False
        position = (
            parameters.index(name) - (parameters[:1] in (["self"], ["cls"]))
            if (name in parameters)
            else None
        )
        calls = [
            call
            for call in self.calls
            if getattr(call.func, "attr", getattr(call.func, "id", None)) == function.name
        ]
        if not calls:
            return False
        for call in calls:
            given = [keyword.value for keyword in call.keywords if keyword.arg == name]
            if not given and position is not None and position < len(call.args):
                given = [call.args[position]]
            if not given or not self._safe_in_caller(given[0], call, depth=depth + 1):
                return False
        return True

    def _safe_in_caller(self, node: ast.AST, call: ast.Call, *, depth: int) -> bool:
        if isinstance(node, ast.Name) and node.id not in self.constants:
            return False  # a caller's local or parameter: not followed further
        return self._safe_query(node, depth=depth)


def check_source(source: str, path: str = "<snippet>") -> list[Finding]:
    tree = ast.parse(source)
    checker = _Checker(path, tree)
    checker.visit(tree)
    return checker.findings


def project_files() -> list[Path]:
    return sorted(
        path
        for path in PROJECT_ROOT.rglob("*.py")
        if not SKIPPED_DIRECTORIES.intersection(path.relative_to(PROJECT_ROOT).parts)
    )


def test_no_sql_in_the_project_is_built_from_values() -> None:
    findings = [
        finding
        for path in project_files()
        for finding in check_source(
            path.read_text(encoding="utf-8"), path.relative_to(PROJECT_ROOT).as_posix()
        )
    ]

    assert [str(finding) for finding in findings] == []


def test_the_checker_reads_the_project() -> None:
    paths = {path.relative_to(PROJECT_ROOT).as_posix() for path in project_files()}

    assert {"repositories/configuration_repository.py", "testing/databases.py"} <= paths


SAFE = [
    (
        'Q = "SELECT a FROM t"\nL = "SELECT a FROM t FOR UPDATE"\n'
        "def f(c, lock):\n    c.execute(L if lock else Q, {})\n"
    ),
    'Q = "SELECT id FROM t WHERE id = %(id)s"\ndef f(c):\n    c.execute(Q, {"id": 1})\n',
    'def f(c):\n    c.execute("SELECT 1")\n',
    'from psycopg2 import sql\ndef f(c, n):\n    c.execute(sql.SQL("DROP DATABASE {}").format('
    "sql.Identifier(n)))\n",
    'Q = "SELECT a FROM t"\nclass R:\n    def one(self, query):\n        self.c.execute(query)\n'
    "    def get(self):\n        return self.one(Q)\n",
    'Q = "SELECT a " "FROM t"\ndef f(c):\n    c.execute(Q)\n',
    'def f(name):\n    return f"applied {name}"\n',
    'Q = "SELECT a FROM t"\nclass R(Repository):\n    def get(self):\n'
    "        return self._fetch_one(Q, {})\n",
    'def f(dsn):\n    return run_sql(dsn, "SELECT a FROM t WHERE id = %(i)s", {"i": 1})\n',
]

UNSAFE = [
    ('def f(c, i):\n    c.execute(f"SELECT a FROM t WHERE id = {i}")\n', "f-string"),
    ('def f(c, i):\n    c.execute("SELECT a FROM t WHERE id = %s" % i)\n', "% formatting"),
    ('def f(c, i):\n    c.execute("SELECT a FROM t WHERE id = {}".format(i))\n', ".format()"),
    ('def f(c, i):\n    c.execute("DELETE FROM t WHERE id = " + i)\n', "+ on a value"),
    ('def f(c, i):\n    q = "SELECT a FROM t WHERE id = " + str(i)\n    c.execute(q)\n', "+"),
    ('def f(c, i):\n    q = f"UPDATE t SET a = {i}"\n', "f-string"),
    ("def f(c, query):\n    c.execute(query)\n", "not a constant"),
    (
        "class R:\n    def one(self, query):\n        self.c.execute(query)\n"
        "    def get(self, i):\n        return self.one(i)\n",
        "not a constant",
    ),
    ('Q = "SELECT a FROM t"\ndef f(c, i):\n    Q = i\n    c.execute(Q)\n', "not a constant"),
    ("def f(c, i):\n    c.execute(i.read())\n", "not a constant"),
    ('Q = "SELECT a FROM t"\ndef f(c, i, b):\n    c.execute(Q if b else i)\n', "not a constant"),
    (
        "class R(Repository):\n    def get(self, i):\n        return self._fetch_one(i, {})\n",
        "not a",
    ),
    ("def f(dsn, i):\n    return run_sql(dsn, i)\n", "run_sql() of a query that is not"),
]


@pytest.mark.parametrize("source", SAFE)
def test_the_checker_accepts_parameterised_sql(source: str) -> None:
    assert check_source(source) == []


@pytest.mark.parametrize(("source", "problem"), UNSAFE)
def test_the_checker_catches_sql_built_from_values(source: str, problem: str) -> None:
    findings = check_source(source)

    assert findings, source
    assert any(problem in finding.problem for finding in findings), findings
