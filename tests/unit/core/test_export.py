"""Spreadsheet-safe exports: OWASP's rule for cells that would run as formulas."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from funnel.core.export import csv_bytes, neutralise, spreadsheet_safe


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("https://x","go")', '\'=HYPERLINK("https://x","go")'),
        ("+86 138", "'+86 138"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Acme = good", "Acme = good"),
        ("'=already", "'=already"),  # neutralised once, stays as it is (an import keeps the quote)
        ("", ""),
        (None, None),
        (-5, -5),  # a number is no formula
    ],
)
def test_cells_that_start_a_formula_are_neutralised(value, expected):
    assert neutralise(value) == expected


def test_a_frame_keeps_numbers_and_neutralises_text_and_headers():
    frame = pd.DataFrame({"name": ["=1+2", "Acme"], "amount": [-3.5, 4.0], "=x": ["a", "b"]})
    safe = spreadsheet_safe(frame)
    assert safe["name"].tolist() == ["'=1+2", "Acme"]
    assert safe["amount"].tolist() == [-3.5, 4.0]
    assert list(safe.columns) == ["name", "amount", "'=x"]
    assert frame["name"].tolist() == ["=1+2", "Acme"]  # the original is untouched


def test_csv_bytes_carry_a_bom_for_excel_and_neutralised_cells():
    data = csv_bytes(pd.DataFrame({"公司": ["@evil", "华东"]}))
    assert data.startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")["公司"].tolist() == ["'@evil", "华东"]
