"""The interop suite, importable as `interop` (tests/ is on the path): the case catalogue
(`interop.cases`), what a client should receive (`interop.expected`), what the clients received
(`interop.clients`) and the checks (`interop.checks`); the fixtures are in conftest.py and the
tests in test_interop.py. ``interop_app.py`` is the app uvicorn serves (it reads the cases from
the JSON file the fixture writes, not from here)."""
