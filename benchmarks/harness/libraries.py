"""The libraries the server benchmarks compare: their keys, labels and app factories."""

from __future__ import annotations

from typing import Final

OURS: Final = "ours"
STARLETTE: Final = "sse-starlette"
FASTAPI: Final = "fastapi.sse"
RAW: Final = "raw ASGI"
LIBRARIES: Final = (OURS, STARLETTE, FASTAPI, RAW)
# The drop-in pair: sse-starlette's code (`_stream_apps.dropin_app`) run by each library.
DROPIN: Final = "drop-in"
DROPIN_STARLETTE: Final = "sse-starlette (drop-in code)"
DROPIN_LIBRARIES: Final = (DROPIN, DROPIN_STARLETTE)
# The idle measure's reference: Starlette's plain StreamingResponse, no SSE (idle only).
STREAMING_RESPONSE: Final = "StreamingResponse"
IDLE_LIBRARIES: Final = (*LIBRARIES, STREAMING_RESPONSE)
LABELS: Final = {
    OURS: "ours (sse-starlette-binding)",
    STARLETTE: "sse-starlette 3.7",
    FASTAPI: "fastapi.sse (FastAPI native)",
    RAW: "raw ASGI (1 message/event)",
    DROPIN: "drop-in: sse-starlette's code, import changed",
    DROPIN_STARLETTE: "sse-starlette 3.7, the same code",
    STREAMING_RESPONSE: "reference: Starlette StreamingResponse",
}
FACTORIES: Final = {
    OURS: "ours_app",
    STARLETTE: "sse_starlette_app",
    FASTAPI: "fastapi_app",
    RAW: "raw_app",
    DROPIN: "binding_dropin_app",
    DROPIN_STARLETTE: "sse_starlette_dropin_app",
    STREAMING_RESPONSE: "streaming_response_app",
}
"""Each library's app factory in `_stream_apps` (and, for the first four, `_latency_apps`)."""
