"""Each distribution installs with its declared dependencies (extras aside), and they import."""

from __future__ import annotations

import importlib
from importlib.metadata import requires, version

import pytest
from packaging.requirements import Requirement


@pytest.mark.parametrize(
    "distribution", ["sse-starlette-binding", "sse-fastapi-binding", "sse-broadcast"]
)
def test_declared_dependencies_are_importable(distribution: str) -> None:
    module = importlib.import_module(distribution.replace("-", "_"))
    assert module.__all__ is not None
    for line in requires(distribution) or []:
        requirement = Requirement(line)
        if requirement.marker is None:
            assert requirement.specifier.contains(version(requirement.name)), requirement
