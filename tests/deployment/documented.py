"""The nginx configuration docs/deployment.md documents, as the tests run it.

The tests run the block from the document itself, not a copy: the one fenced ``nginx`` block
there. Only its two addresses change, each exactly once (asserted): the app's (``server
127.0.0.1:8000;``) and the one nginx listens on (``listen 80;``). A test that needs a
different setting (a short read timeout, buffering forced on) adds it at the ``http`` level,
which the documented block inherits, so the block itself stays as written.
"""

from __future__ import annotations

__all__ = ["DOCUMENT", "documented_site", "site"]

import re
from pathlib import Path
from typing import Final

from support.ports import HOST

DOCUMENT: Final = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
APP_ADDRESS: Final = "server 127.0.0.1:8000;"
LISTEN: Final = "listen 80;"
_NGINX_BLOCK: Final = re.compile(r"^```nginx\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def documented_site() -> str:
    """The one ``nginx`` code block of docs/deployment.md, as written."""
    blocks = _NGINX_BLOCK.findall(DOCUMENT.read_text(encoding="utf-8"))
    assert len(blocks) == 1, f"{DOCUMENT} must hold exactly one nginx block, found {len(blocks)}"
    block: str = blocks[0]
    return block


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the documented nginx block must contain {old!r} once"
    return text.replace(old, new)


def site(app_port: int, listen_port: int) -> str:
    """The documented block, proxying to the app on `app_port` and listening on `listen_port`
    of 127.0.0.1."""
    text = _replace_once(documented_site(), APP_ADDRESS, f"server {HOST}:{app_port};")
    return _replace_once(text, LISTEN, f"listen {HOST}:{listen_port};")
