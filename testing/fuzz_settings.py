"""Hypothesis settings shared by the fuzzing and property tests.

FUZZ_EXAMPLES sets how many examples each property or operation gets (`pipenv run fuzz` raises
it). With CI set, generation is derandomized: every CI run tries the same inputs, so a failure
in CI reproduces locally with `CI=true`. Elsewhere examples are random and Hypothesis keeps
failing ones in the git-ignored .hypothesis/ folder, replaying them first on the next run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 100


def fuzz_examples(default: int = DEFAULT_EXAMPLES) -> int:
    configured = os.environ.get("FUZZ_EXAMPLES", "").strip()
    return int(configured) if configured else default


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def fuzz_settings(*, examples: int | None = None, **overrides: object) -> settings:
    """Examples over real HTTP: no deadline (a request's time is not the property), and the
    health checks about slow data generation off, since the server, not generation, is slow."""
    if in_ci():
        overrides = {"database": None, **overrides}  # derandomized: nothing to remember
    return settings(
        max_examples=fuzz_examples() if examples is None else examples,
        deadline=None,
        derandomize=in_ci(),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
        **overrides,  # type: ignore[arg-type]
    )
