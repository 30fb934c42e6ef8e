"""How events are stored in Redis streams: the entries' fields, and the publishing script.

One stream per channel, its key the prefix and the channel's name. Each entry holds one event:
``e`` its history's epoch, ``n`` its number in that history (1 for the first), the event's
fields (``d`` data, ``t`` type, ``r`` retry, ``c`` comment; absent when None) and ``f`` when it
is final. The entry's id (``<ms>-<seq>``, made by Redis) is the event's position; the event id
is ``<epoch>-<ms>-<seq>``. No sse-broadcast state lives anywhere else: a stream that is gone
(flushed, expired, lost in a restart) is a history that is gone, and the next publish starts a
new one with a new epoch.
"""

from __future__ import annotations

__all__ = [
    "ENDED_ERROR",
    "PUBLISH_SCRIPT",
    "entry_fields",
    "entry_record",
    "parse_stream_id",
    "stream_id",
    "text",
]

from typing import TYPE_CHECKING, Final

from sse_core import ServerSentEvent

from ._backend import Record
from ._ids import format_event_id

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._ids import Position

ENDED_ERROR: Final = "SSE_BROADCAST_ENDED"

# Atomic in Redis: the epoch is read from the stream's last entry (or made, with the first
# entry of a new history) in the same step as the XADD, so two publishers can never start two
# histories, or number two events alike. Trimming with "~" keeps at least MAXLEN entries (Redis
# drops whole nodes only), and never the last one, so the last entry always carries the epoch.
PUBLISH_SCRIPT: Final = (
    """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local epoch, number = ARGV[1], 1
if #last > 0 then
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'e' then epoch = fields[i + 1]
    elseif fields[i] == 'n' then number = tonumber(fields[i + 1]) + 1
    elseif fields[i] == 'f' then return redis.error_reply('"""
    + ENDED_ERROR
    + """')
    end
  end
end
local command = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', epoch, 'n', number}
for i = 4, #ARGV do command[#command + 1] = ARGV[i] end
local id = redis.call(unpack(command))
if ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {epoch, id}
"""
)


def text(value: bytes | str) -> str:
    """A Redis reply as text (the client may or may not decode replies itself)."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def entry_fields(template: ServerSentEvent, final: bool) -> list[str | int]:
    """The fields to store for `template` (a validated event without an id)."""
    fields: list[str | int] = []
    if template.data is not None:
        fields += ["d", template.data]
    if template.event is not None:
        fields += ["t", template.event]
    if template.retry is not None:
        fields += ["r", template.retry]
    if template.comment is not None:
        fields += ["c", template.comment]
    if final:
        fields += ["f", 1]
    return fields


def parse_stream_id(value: bytes | str) -> Position:
    """A stream entry id, ``<ms>-<seq>``, as a position."""
    milliseconds, _, sequence = text(value).partition("-")
    return (int(milliseconds), int(sequence))


def stream_id(position: Position) -> str:
    """A position as a stream entry id."""
    return f"{position[0]}-{position[1]}"


def entry_record(entry_id: bytes | str, fields: Mapping[bytes | str, bytes | str]) -> Record:
    """The record of one stream entry; its event is built (and encoded) here, once for this
    process, whatever the number of local subscribers."""
    values = {text(name): text(value) for name, value in fields.items()}
    epoch = values["e"]
    position = parse_stream_id(entry_id)
    retry = values.get("r")
    event = ServerSentEvent(
        values.get("d"),
        event=values.get("t"),
        id=format_event_id(epoch, position),
        retry=None if retry is None else int(retry),
        comment=values.get("c"),
    )
    return Record(epoch, position, int(values["n"]), event, "f" in values)
