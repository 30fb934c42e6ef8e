"""Tests of the examples that use sse_core outside Starlette (aiohttp, Django, plain asyncio),
importable as `examples` (tests/ is on the path) for the shared reader in `examples.streams`."""
