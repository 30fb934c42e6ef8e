"""Loading the scripts in examples/ as modules, so tests can call their apps in process."""

from __future__ import annotations

__all__ = ["load_example", "loaded_example"]

import contextlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

EXAMPLES: Final = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """The module of ``examples/<name>.py``, run once and registered under `name`."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def loaded_example(name: str) -> Iterator[ModuleType]:
    """`load_example(name)` for the length of a block, unloaded (from ``sys.modules``) after it.

    Hypothesis mixes string and number constants of the non-test modules it finds in
    ``sys.modules`` into what it generates, so an example left loaded changes what every later
    derandomized draw produces in the same session (tests/interop's generated cases, which
    must be the same on every run). A test that loads an example should use this.
    """
    module = load_example(name)
    try:
        yield module
    finally:
        sys.modules.pop(name, None)
