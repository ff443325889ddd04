"""Build step of the wheel: the package without its tests (`*_test.py`, `conftest.py`), which
sit beside the modules they test in the repository but need the service's test suite."""

from __future__ import annotations

from setuptools.command.build_py import build_py


class BuildWithoutTests(build_py):
    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        modules: list[tuple[str, str, str]] = super().find_package_modules(package, package_dir)
        return [
            (package_name, module, path)
            for package_name, module, path in modules
            if not module.endswith("_test") and module != "conftest"
        ]
