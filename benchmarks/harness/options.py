"""The command-line options every server benchmark shares."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_run_options(
    parser: argparse.ArgumentParser,
    keys: Sequence[str],
    *,
    what: str,
    runs: int,
    quick_runs: int | None = None,
) -> None:
    """The options every server benchmark shares: ``--runs`` (default `runs`, or `quick_runs`
    with ``--quick`` when given), ``--only`` (a comma-separated subset of `keys`, the script's
    `what`: measures or cases) and ``--json``."""
    quick = "" if quick_runs is None else f", or {quick_runs} with --quick"
    parser.add_argument(
        "--runs",
        type=positive,
        default=None if quick_runs is not None else runs,
        metavar="N",
        help=f"runs to take the median of (default {runs}{quick})",
    )
    parser.add_argument(
        "--only",
        default=",".join(keys),
        metavar="LIST",
        help=f"comma-separated {what} to run, of: {', '.join(keys)} (default: all)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write every sample here"
    )


def chosen_keys(
    parser: argparse.ArgumentParser, args: argparse.Namespace, keys: Sequence[str], what: str
) -> tuple[str, ...]:
    """The `keys` that ``--only`` names, in their own order; a usage error for unknown ones."""
    named = args.only.split(",")
    unknown = set(named) - set(keys)
    if unknown:
        parser.error(f"unknown {what}: {', '.join(sorted(unknown))}")
    return tuple(key for key in keys if key in named)
