"""Channel names and event ids: what is accepted, what is refused, and how ids read back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_broadcast import (
    CHANNEL_MAX_LENGTH,
    InvalidChannelError,
    check_channel,
    format_event_id,
    parse_event_id,
)
from sse_broadcast._ids import EPOCH_LENGTH, new_epoch

EPOCH = "0123456789ab"


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        (f"{EPOCH}-1", 1, (EPOCH, (1,))),
        (f"{EPOCH}-0", 1, (EPOCH, (0,))),
        (f"{EPOCH}-18446744073709551615", 1, (EPOCH, (2**64 - 1,))),
        (f"{EPOCH}-1733390000123-0", 2, (EPOCH, (1733390000123, 0))),
        (f"{EPOCH}-5-7", 2, (EPOCH, (5, 7))),
        # Wrong number of parts for the backend: another backend's id.
        (f"{EPOCH}-1-0", 1, None),
        (f"{EPOCH}-1", 2, None),
        # Not canonical: every position has one spelling, so equal ids are equal strings.
        (f"{EPOCH}-01", 1, None),
        (f"{EPOCH}-+1", 1, None),
        (f"{EPOCH}- 1", 1, None),
        (f"{EPOCH}-1 ", 1, None),
        # Out of range: no stream id or counter is that large.
        (f"{EPOCH}-18446744073709551616", 1, None),
        (f"{EPOCH}-123456789012345678901", 1, None),
        # Epochs are exactly 12 lowercase hex digits.
        ("0123456789AB-1", 1, None),
        ("0123456789a-1", 1, None),
        ("0123456789abc-1", 1, None),
        ("g123456789ab-1", 1, None),
        # Not ids at all: a number, other digits, empty parts, nothing.
        ("42", 1, None),
        (f"{EPOCH}-", 1, None),
        (f"{EPOCH}--1", 1, None),
        (f"{EPOCH}-\u0661", 1, None),  # ARABIC-INDIC DIGIT ONE: str.isdigit() says yes
        (f"{EPOCH}-1\n", 1, None),
        ("", 1, None),
    ],
)
def test_parse_event_id(text: str, size: int, expected: object) -> None:
    assert parse_event_id(text, size) == expected


@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=3))
def test_format_then_parse_round_trips(position: list[int]) -> None:
    epoch = new_epoch()
    text = format_event_id(epoch, tuple(position))
    assert text.isascii()
    assert text.isprintable()
    assert " " not in text
    assert parse_event_id(text, len(position)) == (epoch, tuple(position))


def test_epochs_are_fresh_lowercase_hex() -> None:
    epochs = {new_epoch() for _ in range(100)}
    assert len(epochs) == 100
    for epoch in epochs:
        assert len(epoch) == EPOCH_LENGTH
        assert set(epoch) <= set("0123456789abcdef")


@pytest.mark.parametrize(
    "channel", ["a", "runs/42", "user:7.notifications", "A-Z_a-z~0=9+@", "x" * CHANNEL_MAX_LENGTH]
)
def test_valid_channels_are_returned_as_they_are(channel: str) -> None:
    assert check_channel(channel) == channel


@pytest.mark.parametrize(
    "channel",
    [
        "",
        "x" * (CHANNEL_MAX_LENGTH + 1),
        "with space",
        "tab\there",
        "line\nbreak",
        "nul\0",
        "hash{tag}",
        "café",
        "semi;colon",
        "quote'",
        "percent%20",
    ],
)
def test_invalid_channels_are_refused_naming_the_rule(channel: str) -> None:
    with pytest.raises(InvalidChannelError, match="1 to 200 characters") as caught:
        check_channel(channel)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("channel", [None, 42, b"bytes", ["a"]])
def test_channels_that_are_not_str_are_refused(channel: object) -> None:
    with pytest.raises(InvalidChannelError, match="must be a str"):
        check_channel(channel)
