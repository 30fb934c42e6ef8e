"""sse_core: the Server-Sent Events wire format, exact and fast, with no dependencies.

Encode what your endpoint yields into event-stream bytes, and parse event streams back into
events exactly as a browser's `EventSource` does:

>>> from sse_core import EventParser, ServerSentEvent, encode
>>> wire = encode(ServerSentEvent("hello\\nworld", event="greeting", id="1"))
>>> wire
b'id: 1\\nevent: greeting\\ndata: hello\\ndata: world\\n\\n'
>>> EventParser().feed(wire)
[ParsedEvent(event='greeting', data='hello\\nworld', id='1')]

Optional extras, imported only when you import them: `sse_core.pydantic` (typed event models
and their JSON Schema) and `sse_core.strategies` (hypothesis strategies).
"""

from ._encoder import EventEncoder, LineTerminator, encode, encode_comment, encode_many
from ._errors import BufferLimitExceeded, InvalidEventError, SSEError
from ._event import ServerSentEvent, SupportsServerSentEvent
from ._json import JSONDumps, to_json_text
from ._last_event_id import last_event_id_from_header
from ._parsed_event import ParsedEvent
from ._parser import DEFAULT_MAX_BUFFER_SIZE, EventParser
from ._wire import encode_event

__all__ = [
    "DEFAULT_MAX_BUFFER_SIZE",
    "BufferLimitExceeded",
    "EventEncoder",
    "EventParser",
    "InvalidEventError",
    "JSONDumps",
    "LineTerminator",
    "ParsedEvent",
    "SSEError",
    "ServerSentEvent",
    "SupportsServerSentEvent",
    "encode",
    "encode_comment",
    "encode_event",
    "encode_many",
    "last_event_id_from_header",
    "to_json_text",
]

__version__ = "0.1.0"
