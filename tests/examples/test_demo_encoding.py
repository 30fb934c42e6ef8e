"""The core's tour (examples/encoding_demo.py) prints what its docstring promises."""

from __future__ import annotations

from typing import TYPE_CHECKING

from support.examples import loaded_example

if TYPE_CHECKING:
    import pytest


def test_the_tour_shows_what_a_browser_receives_and_what_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with loaded_example("encoding_demo") as tour:
        tour.main()
    out = capsys.readouterr().out
    # Line breaks in data arrive as LF; an event without data sets the id, dispatches nothing.
    assert "type='update'   lastEventId='1'        data='two lines\\nand CR\\nline breaks'" in out
    assert "lastEventId='3'        data='data after the id'" in out
    assert "reconnect after 2500 ms with Last-Event-ID: '3'" in out
    assert "invalid 'id' field: must not contain a line break" in out
    assert "invalid 'retry' field: must be >= 0 milliseconds, got -1" in out
