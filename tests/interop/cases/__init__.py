"""The interop case catalogue: every case by name, in the order the server lists them.

What a case is: `interop.cases.kinds`; the cases of each binding: `interop.cases.starlette_binding`
and `interop.cases.fastapi_binding`.
"""

from __future__ import annotations

__all__ = [
    "CASE_INDEX",
    "CASE_NAMES",
    "FASTAPI_GENERATED_COUNT",
    "FASTAPI_TABLE_CASES",
    "GENERATED_COUNT",
    "TABLE_CASES",
    "all_cases",
    "case_path",
    "fastapi_cases",
    "stream_cases",
]

from functools import cache
from typing import Final

from interop.cases.fastapi_binding import (
    FASTAPI_RESUME_CASES,
    fastapi_table_cases,
    generated_fastapi_cases,
)
from interop.cases.kinds import Case, FastAPICase, ResumeCase, StreamCase
from interop.cases.starlette_binding import RESUME_CASES, generated_cases, table_cases

GENERATED_COUNT: Final = 300
FASTAPI_GENERATED_COUNT: Final = 80
TABLE_CASES: Final = table_cases()
FASTAPI_TABLE_CASES: Final = fastapi_table_cases()
CASE_NAMES: Final = [
    *(case.name for case in RESUME_CASES),
    *(case.name for case in TABLE_CASES),
    *(f"generated-{index:03d}" for index in range(GENERATED_COUNT)),
    *(case.name for case in FASTAPI_RESUME_CASES),
    *(case.name for case in FASTAPI_TABLE_CASES),
    *(f"fastapi-generated-{index:03d}" for index in range(FASTAPI_GENERATED_COUNT)),
]
"""Every case's name, in the order the server lists them: its URL (`case_path`) ends with its
index, its place here."""
CASE_INDEX: Final = {name: index for index, name in enumerate(CASE_NAMES)}


@cache
def all_cases() -> dict[str, Case]:
    """Every case by name, in `CASE_NAMES` order. Generating the 300 takes a couple of seconds,
    so it happens when the first test needs them, not when pytest collects this module."""
    cases: list[Case] = [
        *RESUME_CASES,
        *TABLE_CASES,
        *generated_cases(GENERATED_COUNT),
        *FASTAPI_RESUME_CASES,
        *FASTAPI_TABLE_CASES,
        *generated_fastapi_cases(FASTAPI_GENERATED_COUNT),
    ]
    assert [case.name for case in cases] == CASE_NAMES
    return {case.name: case for case in cases}


def stream_cases(prefix: str = "") -> list[StreamCase]:
    """The stream cases whose names start with `prefix`."""
    return [
        case
        for name, case in all_cases().items()
        if isinstance(case, StreamCase) and name.startswith(prefix)
    ]


def fastapi_cases(prefix: str = "") -> list[FastAPICase]:
    """The FastAPI stream cases whose names start with `prefix`."""
    return [
        case
        for name, case in all_cases().items()
        if isinstance(case, FastAPICase) and name.startswith(prefix)
    ]


def case_path(case: Case) -> str:
    """The case's URL path on the interop server (interop_app.case_list gives the harness the
    same one)."""
    index = CASE_INDEX[case.name]
    if isinstance(case, FastAPICase):
        return f"/fastapi/{case.endpoint}/{index}"
    if isinstance(case, ResumeCase):
        return f"{'/fastapi' if case.binding == 'fastapi' else ''}/resume/{index}"
    return f"/stream/{index}"
