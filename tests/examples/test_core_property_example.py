"""examples/core_property_test.py: the property finds the broken encoders' bugs, and only theirs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from support.examples import load_example

from sse_core import EventParser, ServerSentEvent, encode
from sse_core.strategies import dispatched_events

if TYPE_CHECKING:
    from collections.abc import Callable

example = load_example("core_property_test")

# Characters str.splitlines() breaks on that are not line breaks in an event stream.
SPLITLINES_ONLY = ("\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def received(wire: bytes) -> list[object]:
    return list(EventParser().feed(wire))


def test_sse_core_encoder_passes_the_property() -> None:
    example.check_round_trip(encode)


def test_the_property_finds_that_splitlines_drops_empty_data() -> None:
    with pytest.raises(AssertionError) as caught:
        example.check_round_trip(example.encode_with_splitlines)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    # Hypothesis shrinks to the smallest stream that fails: one event with empty data.
    assert "ServerSentEvent(data=''" in notes


def test_the_property_finds_what_splitlines_splits_on_too_much() -> None:
    with pytest.raises(AssertionError) as caught:
        example.check_round_trip(example.encode_with_patched_splitlines)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert any(repr(character)[1:-1] in notes for character in SPLITLINES_ONLY), notes


@pytest.mark.parametrize("data", ["", "x\n", "a\r\n", "a\u2028b", "\x85", "x\vy\fz"])
@pytest.mark.parametrize("broken", ["encode_with_splitlines", "encode_with_patched_splitlines"])
def test_each_counterexample_is_a_real_bug(data: str, broken: str) -> None:
    event = ServerSentEvent(data, id="1")
    expected = dispatched_events([event])
    assert received(encode(event)) == expected
    write: Callable[[ServerSentEvent], bytes] = getattr(example, broken)
    if broken == "encode_with_patched_splitlines" and not any(c in data for c in SPLITLINES_ONLY):
        assert received(write(event)) == expected  # what the patch did fix
    else:
        assert received(write(event)) != expected


def test_running_the_file_reports_both_bugs(capsys: pytest.CaptureFixture[str]) -> None:
    example.main()
    out = capsys.readouterr().out
    assert out.startswith("sse_core.encode: every generated stream arrived as it was sent\n")
    assert "encode_with_splitlines: hypothesis found a bug" in out
    assert "encode_with_patched_splitlines: hypothesis found a bug" in out
