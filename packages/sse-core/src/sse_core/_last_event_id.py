"""Reading the ``Last-Event-ID`` request header back into the id the server once sent."""

from __future__ import annotations

__all__ = ["last_event_id_from_header"]


def last_event_id_from_header(value: str | bytes | None) -> str | None:
    """Return the event id a reconnecting client sent in ``Last-Event-ID``, or None.

    Browsers send the id as UTF-8 bytes; ASGI servers hand header values over as `bytes`, and
    Starlette decodes them as latin-1, which turns every non-ASCII id into mojibake. Give this
    either form: a `str` is taken to be that latin-1 decoding and is undone first.

    Returns None when the header is absent or empty, and also when it cannot be an id that a
    server wrote: invalid UTF-8, or a CR, LF or NUL (which `ServerSentEvent` refuses). Spaces
    and tabs around the value are dropped, as HTTP drops them; so an id that starts or ends with
    whitespace cannot survive the round trip, and visible-ASCII ids are the portable choice.

    >>> last_event_id_from_header("caf\\xc3\\xa9-42")  # what Starlette gives for "café-42"
    'café-42'
    >>> last_event_id_from_header(None) is None
    True
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            # Not a latin-1 decoding of header bytes: the caller already has real text.
            raw = value.encode("utf-8", errors="surrogatepass")
    else:
        raw = bytes(value)
    raw = raw.strip(b" \t")
    if not raw or b"\r" in raw or b"\n" in raw or b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
