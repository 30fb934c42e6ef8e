"""Loopback addresses and enough file descriptors for the servers the tests, benchmarks and
stress scripts start (standard library only, so that the package suites that run without
Starlette can use it too, and so that a benchmark's server process imports nothing but its own
library by importing it)."""

from __future__ import annotations

__all__ = ["HOST", "free_port", "raise_fd_limit"]

import contextlib
import resource
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


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; returns the new soft
    limit. A server started afterwards inherits it, so call this before starting one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit still stops at the kernel's nr_open (a million, usually).
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
