"""Puts ``tests`` and ``benchmarks`` on ``sys.path``, so that the stress scripts run the very
scenarios the tests run (``tests/support/reliability/``) and share the benchmarks' helpers
(``benchmarks/streaming.py``: the source revision and fingerprint of a run).

Import it before anything from ``support`` or ``streaming``. (mypy finds both when it checks
``tests``, ``benchmarks`` and ``stress`` together, as CI does.)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[1]

for folder in (REPO / "tests", REPO / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
