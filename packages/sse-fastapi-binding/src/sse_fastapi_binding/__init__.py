"""Dependency-injected, typed Server-Sent Event streams for FastAPI.

The stream dependencies arrive with their own issue; until then this package only carries its
metadata so that the workspace, its lock file and its wheel exist.
"""

__all__: list[str] = []
