"""What every benchmark script shares, so that each script holds only its scenarios.

- `server`: one uvicorn process per library (``--loop uvloop --http httptools``, 127.0.0.1, a
  free port), in its own process group and killed by group whatever happens; built on the
  repository's one server-process manager, ``tests/support/servers.py``.
- `client`: the HTTP/1.1 client side. h11 writes the requests and parses the responses (the
  Starlette binding's test exchange); the timed readers parse only the head with it and treat
  the body as raw bytes (see `client.StreamReader` for why).
- `counting`: timed streams counted by bytes, and what a stream table shows of them.
- `libraries`: the libraries compared, their labels and their app factories.
- `options`: the command-line options every server benchmark shares.
- `report`: tables, verdicts, the environment lines, and `measure_and_report`, the main loop.

Scripts import it as ``harness`` (``benchmarks/`` is their own folder on the import path); the
tests' ``support`` package is on the environment's path (``tools/dev-paths``).
"""
