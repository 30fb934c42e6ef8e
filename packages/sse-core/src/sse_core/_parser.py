"""An incremental, spec-exact event-stream parser: bytes in, events out.

It implements WHATWG HTML, "Server-sent events", section "Interpreting an event stream", as a
browser's `EventSource` does, minus the networking: no sockets, clocks or reconnection here.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_BUFFER_SIZE", "EventParser"]

import codecs
import re
from typing import Final

from ._errors import BufferLimitExceeded
from ._parsed_event import ParsedEvent

DEFAULT_MAX_BUFFER_SIZE: Final = 16 * 1024 * 1024
"""The default bound, in characters, on an unfinished line plus an undispatched event's data."""

# WHATWG: a line ends with CRLF, with "a single U+000A LINE FEED (LF) character not preceded by a
# U+000D CARRIAGE RETURN (CR) character", or with "a single U+000D CARRIAGE RETURN (CR) character
# not followed by a U+000A LINE FEED (LF) character". The alternation tries CRLF first.
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")

_MAX_RETRY: Final = 2**64 - 1
_MAX_RETRY_DIGITS: Final = len(str(_MAX_RETRY))


class EventParser:
    """Parses an event stream incrementally, exactly as a browser's `EventSource` does.

    Feed it the bytes of one response as they arrive, in chunks of any size and split anywhere
    (inside a UTF-8 sequence, between the CR and LF of a CRLF); `feed` returns the events those
    bytes complete. `last_event_id` and `retry` hold what a client would reconnect with.

    Memory is bounded: if an unfinished line plus the data of an undispatched event grows past
    `max_buffer_size` characters, `feed` raises `BufferLimitExceeded` and the parser is closed.

    >>> parser = EventParser()
    >>> parser.feed(b"id: 1\\ndata: hel")
    []
    >>> parser.feed(b"lo\\n\\n")
    [ParsedEvent(event='message', data='hello', id='1')]
    >>> parser.last_event_id
    '1'
    """

    __slots__ = (
        "_after_cr",
        "_closed",
        "_data_lines",
        "_data_size",
        "_decoder",
        "_event_type",
        "_id_buffer",
        "_unfinished_parts",
        "_unfinished_size",
        "last_event_id",
        "max_buffer_size",
        "retry",
    )

    last_event_id: str
    """The last event ID string: what a client sends back in ``Last-Event-ID``."""
    retry: int | None
    """The last valid ``retry`` value (the reconnection time in ms), or None if none came."""

    def __init__(
        self, *, last_event_id: str = "", max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE
    ) -> None:
        if max_buffer_size < 1:
            raise ValueError(f"max_buffer_size must be at least 1, got {max_buffer_size}")
        self.max_buffer_size = max_buffer_size
        self.last_event_id = last_event_id
        self.retry = None
        # WHATWG: "Streams must be decoded using the UTF-8 decode algorithm", which strips one
        # leading BOM and turns each invalid sequence into U+FFFD. "utf-8-sig" strips the BOM
        # (even one split across chunks); errors="replace" substitutes as the Encoding standard
        # does, one U+FFFD per maximal invalid subpart.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        # The text after the last line break so far, in the pieces it arrived in: joined only
        # when its line ends, so a long line fed in many chunks costs linear time, not quadratic.
        self._unfinished_parts: list[str] = []
        self._unfinished_size = 0
        self._after_cr = False
        self._id_buffer = last_event_id
        self._event_type = ""
        self._data_lines: list[str] = []
        self._data_size = 0
        self._closed = False

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        """Take the next bytes of the stream; return the events they complete, in order."""
        if self._closed:
            raise RuntimeError("this EventParser is closed; start a new one for a new stream")
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if self._after_cr:
            # The text before ended with CR: if this text starts with LF, that LF belongs to the
            # same CRLF and does not end another (empty) line.
            self._after_cr = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        last_break = max(text.rfind("\n"), text.rfind("\r"))
        if last_break < 0:
            self._unfinished_parts.append(text)
            self._unfinished_size += len(text)
            self._check_limit([])
            return []
        self._after_cr = text.endswith("\r")
        complete = text[: last_break + 1]
        if self._unfinished_parts:
            self._unfinished_parts.append(complete)
            complete = "".join(self._unfinished_parts)
        tail = text[last_break + 1 :]
        self._unfinished_parts = [tail] if tail else []
        self._unfinished_size = len(tail)
        # Splitting up to and including the last line break leaves one empty string after it.
        lines = _LINE_BREAK.split(complete)
        lines.pop()
        events: list[ParsedEvent] = []
        for line in lines:
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        self._check_limit(events)
        return events

    def close(self) -> None:
        """End the stream. WHATWG: "any pending data must be discarded" (an event without its
        final blank line is never dispatched), so nothing is returned."""
        self._closed = True
        self._unfinished_parts = []
        self._unfinished_size = 0
        self._data_lines = []
        self._data_size = 0

    def _check_limit(self, events: list[ParsedEvent]) -> None:
        if self._unfinished_size + self._data_size > self.max_buffer_size:
            self.close()
            raise BufferLimitExceeded(self.max_buffer_size, events)

    def _process_line(self, line: str) -> ParsedEvent | None:
        # WHATWG: "If the line is empty (a blank line): Dispatch the event".
        if not line:
            return self._dispatch()
        # "If the line starts with a U+003A COLON character (:): Ignore the line."
        # "If the line contains a U+003A COLON character (:): Collect the characters on the line
        # before the first U+003A COLON character (:), and let field be that string. Collect the
        # characters on the line after the first U+003A COLON character (:), and let value be
        # that string. If value starts with a U+0020 SPACE character, remove it from value."
        # "Otherwise, [...] using the whole line as the field name, and the empty string as the
        # field value."
        field, colon, value = line.partition(":")
        if not field and colon:
            return None
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            # "Append the field value to the data buffer, then append a single U+000A LINE FEED
            # (LF) character to the data buffer." The LFs are added when the event is built.
            self._data_lines.append(value)
            self._data_size += len(value) + 1
        elif field == "event":
            # "Set the event type buffer to field value."
            self._event_type = value
        elif field == "id":
            # "If the field value does not contain U+0000 NULL, then set the last event ID
            # buffer to the field value. Otherwise, ignore the field."
            if "\0" not in value:
                self._id_buffer = value
        elif field == "retry":
            # "If the field value consists of only ASCII digits, then interpret the field value
            # as an integer in base ten, and set the event stream's reconnection time to that
            # integer. Otherwise, ignore the field." An empty value is ignored too, as browsers
            # do (web-platform-tests eventsource/format-field-retry-empty).
            # Browsers also ignore a value too large for their 64-bit integer, and so does this
            # parser (which also keeps int() away from its limit on the number of digits).
            if (
                value.isascii()
                and value.isdigit()
                and len(value) <= _MAX_RETRY_DIGITS
                and (retry := int(value)) <= _MAX_RETRY
            ):
                self.retry = retry
        # "Otherwise: The field is ignored."
        return None

    def _dispatch(self) -> ParsedEvent | None:
        # WHATWG, "dispatch the event": "Set the last event ID string of the event source to the
        # value of the last event ID buffer. The buffer does not get reset".
        self.last_event_id = self._id_buffer
        # "If the data buffer is an empty string, set the data buffer and the event type buffer
        # to the empty string and return."
        if not self._data_lines:
            self._event_type = ""
            return None
        # "If the data buffer's last character is a U+000A LINE FEED (LF) character, then
        # remove the last character from the data buffer." Joining the lines with LF is that.
        data = "\n".join(self._data_lines)
        # "Initialize event's type attribute to "message" [...] If the event type buffer has a
        # value other than the empty string, change the type of the newly created event to
        # equal the value of the event type buffer."
        event = ParsedEvent(self._event_type or "message", data, self.last_event_id)
        self._data_lines = []
        self._data_size = 0
        self._event_type = ""
        return event
