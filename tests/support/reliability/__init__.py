"""Reliability scenarios against real servers, shared by the tests and the stress script.

A module per scenario (`churn`, `scale`, `slow_consumers`, `shutdown`, `misbehaving`,
`hostile_input`, and `parser`, which needs no server), each with the bounds its tests assert
(the figures measured against them are in docs/reliability.md, not in the code); the
machinery they share once: `common` (the app, its record, bounded waits), `measure` (the server
seen from outside) and `clients` (the streams the scenarios open).

Each scenario is a plain function that starts its own server (`support.servers.run_server`, in
its own process group, killed whatever happens) serving ``reliability_app.py``, drives it with
raw asyncio sockets from this process, measures the server from outside, and returns its
figures as a dataclass. It asserts nothing about the figures: ``tests/reliability`` runs the
scenarios at CI sizes and asserts the bounds, ``stress/reliability.py`` runs them at full size
and prints a table. One implementation, two sizes.

What is measured, and how:

- RSS and open file descriptors of the server process from ``/proc/<pid>/status`` and
  ``/proc/<pid>/fd``, so the measuring does not disturb the server;
- tasks (the server's own per-request tasks included) and objects tracked by the garbage
  collector through the app's ``/stats`` endpoint, one short request, whose own task is counted
  every time, so it cancels out of every difference;
- which producers started and which cleanups ran from the app's record file.

Every wait has a deadline: a scenario that cannot complete raises (`ScenarioError`, with the
server's log tail where it helps, or a `TimeoutError`) instead of hanging, and its server is
killed by process group on the way out.
"""
