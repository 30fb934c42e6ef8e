"""`last_event_id_from_header`: the header as servers hand it over -> the id that was sent."""

from __future__ import annotations

import pytest
from hypothesis import given

from sse_core import last_event_id_from_header
from sse_core import strategies as sse_st


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        (b"", None),
        ("42", "42"),
        (b"42", "42"),
        ("  42\t", "42"),
        ("caf\xc3\xa9", "café"),  # Starlette's latin-1 reading of b"caf\xc3\xa9"
        (b"caf\xc3\xa9", "café"),
        ("\xf0\x9f\x98\x80", "\U0001f600"),
        (b"\xff\xfe", None),  # not UTF-8: no server wrote it
        ("caf\xe9", None),  # latin-1 bytes that are not UTF-8
        (b"a\x00b", None),
        (b"a\nb", None),
        ("日本", "日本"),  # already real text (not a latin-1 decoding): taken as it is
    ],
)
def test_examples(header: str | bytes | None, expected: str | None) -> None:
    assert last_event_id_from_header(header) == expected


@given(event_id=sse_st.event_ids)
def test_every_writable_id_survives_the_header(event_id: str) -> None:
    raw = event_id.encode("utf-8")
    expected = event_id.strip(" \t") or None
    # HTTP drops surrounding whitespace; anything else comes back as it was sent.
    assert last_event_id_from_header(raw) == expected
    assert last_event_id_from_header(raw.decode("latin-1")) == expected
