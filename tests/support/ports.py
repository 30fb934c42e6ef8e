"""Loopback addresses for the servers the tests start (standard library only, so that the
package suites that run without Starlette can use it too)."""

from __future__ import annotations

__all__ = ["HOST", "free_port"]

import socket
from typing import Final

HOST: Final = "127.0.0.1"
"""Every server a test starts listens here, and only here."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port
