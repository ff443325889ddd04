"""Every setting is documented: in .env.example (with its default) and in the README."""

from __future__ import annotations

import re

import pytest

from config.settings import PROJECT_ROOT, Settings

SETTINGS = sorted(name.upper() for name in Settings.model_fields)


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_setting_is_in_env_example(setting: str) -> None:
    text = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    assert re.search(rf"^#? ?{setting}=", text, re.MULTILINE), setting


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_setting_is_in_the_readme(setting: str) -> None:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    short = setting.removeprefix("DATABASE_KEEPALIVES_")
    assert f"`{setting}`" in text or f"`_{short}`" in text, setting


def test_env_example_defaults_are_the_real_defaults() -> None:
    text = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    defaults = Settings.model_fields
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.split("=", 1)
        default = defaults[name.lower()].default
        if name == "EMBEDDED_POSTGRES_DIR":
            assert default == PROJECT_ROOT / value
        else:
            assert str(default).lower() == value.lower(), name
