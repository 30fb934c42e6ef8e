"""What a missing tool means: a skip on a developer's machine, a failure in CI.

CI installs every tool the tests use (Node and npm packages, headless Chromium, redis-server,
nginx), so there a missing one is a broken set-up, never a reason to pass without running.
"""

from __future__ import annotations

__all__ = ["in_ci", "missing_tool"]

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """Whether we run in CI (the ``CI`` environment variable is set, and not to false/0)."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def missing_tool(tool: str, reason: str) -> NoReturn:
    """Skip the test because `tool` cannot run, for `reason`; in CI, fail it instead."""
    if in_ci():
        pytest.fail(f"{tool} cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"{tool} unavailable: {reason}")
