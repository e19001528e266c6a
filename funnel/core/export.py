"""Exports that are safe to open in a spreadsheet: no cell the user typed can run as a formula.

OWASP's rule for CSV injection: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return is prefixed with a single quote, which spreadsheets show as text. Every CSV or Excel file the
project writes goes through `spreadsheet_safe`. The importer keeps such a quote as typed, so a
neutralised cell never comes back live.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """`value`, with a leading quote when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell neutralised (numbers stay numbers)."""
    safe = frame.copy()
    for column in safe.columns:
        if pd.api.types.is_object_dtype(safe[column]) or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise)
    safe.columns = [neutralise(str(name)) for name in safe.columns]
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A spreadsheet-safe CSV, UTF-8 with a BOM so that Excel reads Chinese text correctly."""
    return spreadsheet_safe(frame).to_csv(index=False).encode("utf-8-sig")
