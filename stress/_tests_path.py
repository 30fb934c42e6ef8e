"""Puts ``tests`` on ``sys.path``, as pytest's ``pythonpath = ["tests"]`` does, so that the
stress scripts run the very scenarios the tests run (``tests/support/reliability.py``).

Import it before anything from ``support``. (mypy finds ``support`` when it checks ``tests`` and
``stress`` together, as CI does.)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

TESTS: Final = Path(__file__).resolve().parents[1] / "tests"

if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
