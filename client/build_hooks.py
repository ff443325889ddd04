"""Build step of the wheel: the package without its tests (`*_test.py`, `conftest.py`), which
sit beside the modules they test in the repository but need the service's test suite."""

from __future__ import annotations

# setuptools ships no type information; only the build runs this module.
from setuptools.command.build_py import build_py  # type: ignore[import-untyped]


class BuildWithoutTests(build_py):  # type: ignore[misc]
    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        modules: list[tuple[str, str, str]] = super().find_package_modules(package, package_dir)
        return [
            (package_name, module, path)
            for package_name, module, path in modules
            if not module.endswith("_test") and module != "conftest"
        ]
