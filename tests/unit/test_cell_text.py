"""The pages' one way to show a stored value as text, for every shape an audit change can hold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pages._shared.customer_parts import text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        (True, "✓"),
        (Decimal("1234.5"), "1,234.50"),
        (["高意向", "大客户"], "高意向, 大客户"),
        ([], "—"),
        ([["2026-12-01", Decimal("500")], ["2027-01-01", None]], "2026-12-01, 500.00, 2027-01-01"),
        ("plain", "plain"),
    ],
)
def test_a_value_becomes_text_whatever_its_shape(value: object, shown: str) -> None:
    assert text(value) == shown
