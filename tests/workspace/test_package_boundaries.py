"""Each package uses the others (and its dependencies) through their public API only.

A module of one package must not import another package's private module, or a private name from
it: `from sse_core._wire import ...`, `import starlette._utils` and `from sse_core import _wire`
all fail here. Private means a `_`-prefixed part of the dotted name after the top-level package
(dunders such as `__version__` are public). A package's own private modules are its business.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Each import package of the workspace, such as packages/sse-core/src/sse_core.
IMPORT_PACKAGES = sorted(init.parent for init in (ROOT / "packages").glob("*/src/*/__init__.py"))


def imported_names(source: str) -> list[str]:
    """The absolute dotted names `source` imports: modules, and `module.name` for each name of
    a `from module import name` (which may be a module or not)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module]
            names += [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
    return names


def foreign_private_imports(source: str, own_package: str) -> list[str]:
    """The names in `source` that reach into a package other than `own_package` privately."""
    return [
        name
        for name in imported_names(source)
        if name.split(".")[0] != own_package
        and any(_is_private(part) for part in name.split(".")[1:])
    ]


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def test_every_package_is_looked_at() -> None:
    assert [package.name for package in IMPORT_PACKAGES] == [
        "sse_broadcast",
        "sse_core",
        "sse_fastapi_binding",
        "sse_starlette_binding",
    ]


@pytest.mark.parametrize("package", IMPORT_PACKAGES, ids=lambda package: package.name)
def test_no_module_imports_another_packages_private_module(package: Path) -> None:
    offenders = [
        f"{module.relative_to(ROOT)}: {name}"
        for module in sorted(package.rglob("*.py"))
        for name in foreign_private_imports(module.read_text(encoding="utf-8"), package.name)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        (
            "from sse_core._wire import encode_event",
            ["sse_core._wire", "sse_core._wire.encode_event"],
        ),
        ("import sse_core._json as j", ["sse_core._json"]),
        ("from sse_core import _wire, encode", ["sse_core._wire"]),
        ("from fastapi.dependencies import _utils", ["fastapi.dependencies._utils"]),
        (
            "def f():\n    from starlette._utils import x",
            ["starlette._utils", "starlette._utils.x"],
        ),
        ("if TYPE_CHECKING:\n    import anyio._core", ["anyio._core"]),
        # Public, or the package's own:
        ("from sse_core import encode_event, __version__", []),
        ("from __future__ import annotations", []),
        ("from own._private import x", []),
        ("from ._private import x", []),
        ("from . import _private", []),
    ],
)
def test_the_check_finds_what_it_looks_for(source: str, found: list[str]) -> None:
    assert foreign_private_imports(source, "own") == found
