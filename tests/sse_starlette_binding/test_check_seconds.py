"""`check_seconds`: the one check of a duration, public, and the one the response applies."""

from __future__ import annotations

from typing import Any

import pytest

import sse_starlette_binding
from sse_starlette_binding import EventSourceResponse, check_seconds


@pytest.mark.parametrize("value", [0, 0.0, 2, 2.5, 1e9], ids=repr)
def test_a_number_of_seconds_at_or_above_zero_passes(value: float) -> None:
    check_seconds("ping", value)


def test_none_passes_only_when_allowed() -> None:
    check_seconds("send_timeout", None, allow_none=True)
    with pytest.raises(TypeError, match="send_timeout must be a number of seconds, not NoneType"):
        check_seconds("send_timeout", None)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-1, ValueError, "ping must be >= 0 seconds, got -1"),
        (-0.5, ValueError, "ping must be >= 0 seconds, got -0.5"),
        (float("nan"), ValueError, "ping must be >= 0 seconds, got nan"),
        (True, TypeError, "ping must be a number of seconds, not bool"),
        ("15", TypeError, "ping must be a number of seconds, not str"),
    ],
    ids=["negative int", "negative float", "nan", "bool", "str"],
)
def test_anything_else_is_refused_naming_the_setting(
    value: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_seconds("ping", value)


@pytest.mark.parametrize(
    "setting", ["ping", "send_timeout", "shutdown_grace_period", "cleanup_timeout"]
)
def test_the_response_refuses_a_bad_duration_with_the_same_words(setting: str) -> None:
    message = f"^{setting} must be >= 0 seconds, got -1$"
    with pytest.raises(ValueError, match=message):
        check_seconds(setting, -1)
    options: dict[str, Any] = {setting: -1}
    with pytest.raises(ValueError, match=message):
        EventSourceResponse(iter(()), **options)


def test_it_is_public() -> None:
    assert "check_seconds" in sse_starlette_binding.__all__
