"""Channel names, history epochs and event ids: what they may be, how they are written and read.

An event id is ``<epoch>-<position>``: the epoch is a random token made when a channel's
history starts (`new_epoch`), the position is one or more decimal numbers joined by ``-`` that
grow with every event of that history (one number for the memory backend, a Redis stream entry
id's two for Redis). An id is only ever compared with the history of the channel it is used
on: the epoch says whether it belongs to that history, the position where in it.

Every id is visible ASCII, so it survives the ``Last-Event-ID`` round trip untouched (clients
trim whitespace and cut at control characters), and has exactly one spelling (no leading zeros),
so equal positions are equal strings.
"""

from __future__ import annotations

__all__ = [
    "CHANNEL_MAX_LENGTH",
    "EPOCH_LENGTH",
    "Position",
    "check_channel",
    "format_event_id",
    "new_epoch",
    "parse_event_id",
]

import re
import secrets
from typing import Final

from ._errors import InvalidChannelError

Position = tuple[int, ...]
"""Where an event is in its channel's history: compared as tuples, the later the greater."""

CHANNEL_MAX_LENGTH: Final = 200
"""The longest channel name: channels become Redis keys and often URL path segments, and a
name that long is already a mistake (a payload, not a name)."""

# Letters, digits and a few separators that need no escaping in a URL path, a Redis key or a
# log line. No braces: Redis Cluster reads `{...}` in a key as its hash tag.
_CHANNEL: Final = re.compile(r"[A-Za-z0-9._:/@+=~-]+")

EPOCH_LENGTH: Final = 12
"""Hex digits of an epoch: 48 random bits, so that a history that restarts (a flushed Redis, a
restarted process) takes an epoch no earlier id can carry, except by a 1 in 2**48 chance."""

# Numbers fit in Redis's unsigned 64-bit stream ids: 20 digits at most.
_NUMBER: Final = r"(?:0|[1-9][0-9]{0,19})"
_ID_PATTERNS: dict[int, re.Pattern[str]] = {}
_MAX_NUMBER: Final = 2**64 - 1


def check_channel(channel: object) -> str:
    """Return `channel` if it is a valid channel name, else raise `InvalidChannelError`.

    A channel name is 1 to 200 characters among ASCII letters, digits and ``. _ : / @ + = ~ -``.

    >>> check_channel("runs/42")
    'runs/42'
    """
    if not isinstance(channel, str):
        raise InvalidChannelError(f"a channel name must be a str, not {type(channel).__name__}")
    if not 0 < len(channel) <= CHANNEL_MAX_LENGTH or not _CHANNEL.fullmatch(channel):
        shown = channel if len(channel) <= 40 else channel[:40] + "..."
        raise InvalidChannelError(
            f"invalid channel name {shown!r}: it must be 1 to {CHANNEL_MAX_LENGTH} characters "
            "among ASCII letters, digits and . _ : / @ + = ~ -"
        )
    return channel


def new_epoch() -> str:
    """A fresh random epoch token (12 lowercase hex digits)."""
    return secrets.token_hex(EPOCH_LENGTH // 2)


def format_event_id(epoch: str, position: Position) -> str:
    """The event id of `position` in the history `epoch`.

    >>> format_event_id("0123456789ab", (7,))
    '0123456789ab-7'
    """
    return epoch + "".join(f"-{number}" for number in position)


def parse_event_id(text: str, size: int) -> tuple[str, Position] | None:
    """The epoch and position of event id `text`, whose position has `size` numbers; or None
    when `text` is not such an id (another backend's, a mangled one, or not one at all).

    >>> parse_event_id("0123456789ab-7", 1)
    ('0123456789ab', (7,))
    >>> parse_event_id("0123456789ab-07", 1) is None
    True
    """
    pattern = _ID_PATTERNS.get(size)
    if pattern is None:
        pattern = re.compile(rf"([0-9a-f]{{{EPOCH_LENGTH}}})((?:-{_NUMBER}){{{size}}})")
        _ID_PATTERNS[size] = pattern
    match = pattern.fullmatch(text)
    if match is None:
        return None
    position = tuple(int(number) for number in match[2][1:].split("-"))
    if any(number > _MAX_NUMBER for number in position):
        return None
    return match[1], position
