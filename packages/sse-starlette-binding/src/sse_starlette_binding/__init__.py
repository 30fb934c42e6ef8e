"""Server-Sent Events for Starlette, built on sse_core.

The response class and its helpers arrive with their own issue; until then this package only
carries its metadata so that the workspace, its lock file and its wheel exist.
"""

__all__: list[str] = []
