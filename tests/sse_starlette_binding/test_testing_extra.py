"""The `testing` extra: h11 is needed by the URL client only, and its absence is explained."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sse_starlette_binding.testing import open_event_stream


def test_the_testing_package_imports_without_h11() -> None:
    # A fresh interpreter where h11 cannot be imported: the in-process client still loads.
    script = (
        "import sys; sys.modules['h11'] = None; "
        "import sse_starlette_binding.testing as testing; "
        "print(testing.EventStreamClient.__name__, 'h11' in sys.modules and sys.modules['h11'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["EventStreamClient", "None"]


def test_the_url_client_without_h11_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h11", None)  # what `import h11` finds when not installed
    monkeypatch.delitem(sys.modules, "sse_starlette_binding.testing._http", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"sse-starlette-binding\[testing\]"):
        open_event_stream("http://127.0.0.1:1/events")


def test_a_request_h11_refuses_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"not a valid HTTP/1\.1 request"):
        open_event_stream("http://127.0.0.1:1/events", headers={"X-Padded": " value"})
