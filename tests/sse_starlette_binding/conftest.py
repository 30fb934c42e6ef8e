"""Fixtures shared by the sse_starlette_binding tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend to run under: a test that takes it runs once per backend, driving its
    scenario with ``anyio.run(scenario, backend=backend)``."""
    return str(request.param)
