"""The package as users get it: `pip install ./client` in a fresh virtual environment, with
nothing of the service; its modules import only the standard library and httpx."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CLIENT = PACKAGE.parent
ALLOWED = {"httpx", "config_service_client"}


def imported_roots(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_package_imports_only_the_standard_library_and_httpx() -> None:
    modules = [
        path
        for path in PACKAGE.glob("*.py")
        if not path.name.endswith("_test.py") and path.name != "conftest.py"
    ]
    outside = {
        path.name: sorted(
            name
            for name in imported_roots(path)
            if name not in ALLOWED and name not in sys.stdlib_module_names
        )
        for path in modules
    }
    assert {name: found for name, found in outside.items() if found} == {}
    assert len(modules) > 10


def test_pip_install_of_the_folder_works_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    source = tmp_path / "client"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    # The build backend (setuptools) is this environment's: no index needed, nor the network.
    built = subprocess.run(  # noqa: S603 (pip, with arguments of this test)
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", str(source), "-w", str(wheels)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("config_service_client-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "config_service_client/py.typed" in names
    assert not [name for name in names if name.endswith(("_test.py", "conftest.py"))]

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    installed = subprocess.run(  # noqa: S603
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    # httpx and its dependencies from this environment, as an index would have given them.
    site = subprocess.run(  # noqa: S603
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    used = subprocess.run(  # noqa: S603
        [
            str(python),
            "-c",
            "import config_service_client as c; print(c.__file__); print(c.__version__)",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    helped = subprocess.run(  # noqa: S603
        [str(environment / "bin" / "config-service-client"), "render", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert used.returncode == 0, used.stderr
    assert used.stdout.splitlines()[0].startswith(str(environment))
    assert used.stdout.splitlines()[1] == "0.1.0"
    assert helped.returncode == 0, helped.stderr
    assert "--output OUTPUT" in helped.stdout
