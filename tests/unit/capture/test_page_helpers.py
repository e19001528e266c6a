"""The pages' streamlit-free helpers: filter periods, channel options, lead-form values."""

from datetime import date

import pandas as pd
import pytest

from funnel.analytics.periods import period_bounds
from funnel.analytics.presentation import entity_table, short_money
from funnel.capture.channels import SUGGESTED_CHANNELS, channel_options
from funnel.capture.lead_form import lead_form_defaults, lead_input

TODAY = date(2026, 3, 31)


@pytest.mark.parametrize(
    ("preset", "custom", "expected"),
    [
        ("all", (), (None, None)),
        ("30d", (), (date(2026, 3, 1), TODAY)),
        ("180d", (), (date(2025, 9, 30), TODAY)),
        ("custom", (date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 1, 1), date(2026, 1, 31))),
        ("custom", (date(2026, 1, 1),), (date(2026, 1, 1), None)),  # the second date not picked yet
        ("custom", (), (None, None)),
    ],
)
def test_period_bounds(preset: str, custom: tuple[date, ...], expected: tuple) -> None:
    assert period_bounds(preset, today=TODAY, custom=custom) == expected


def test_channel_options_put_suggestions_first_and_add_channels_from_the_data_once() -> None:
    options = channel_options(["官网", "老客户"])
    assert options == [*SUGGESTED_CHANNELS, "老客户"]


def test_an_empty_lead_form_makes_a_lead_input_with_nothing_but_the_first_stage() -> None:
    lead = lead_input(lead_form_defaults("lead"))
    assert (lead.name, lead.phone, lead.channel, lead.grade, lead.stage) == (None, None, None, None, "lead")


def test_lead_input_carries_the_typed_values() -> None:
    values = {**lead_form_defaults("lead"), "name": "Acme", "phone": "13812345678", "grade": "A"}
    lead = lead_input(values)
    assert (lead.name, lead.phone, lead.grade) == ("Acme", "13812345678", "A")


def test_entity_table_adds_each_steps_share_of_customers() -> None:
    frame = pd.DataFrame(
        {"step": ["customers", "opportunities"], "customers": [10, 4], "amount": [None, 1000.0]}
    )
    assert entity_table(frame)["share"].tolist() == [1.0, 0.4]
    empty = frame.assign(customers=[0, 0])
    assert entity_table(empty)["share"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("amount", "lang", "shown"),
    [
        (0, "en", "¥0"),
        (9_500, "en", "¥9,500"),
        (86_400, "en", "¥86k"),
        (34_312_000, "en", "¥34.3M"),
        (9_500, "zh", "¥9,500"),
        (34_312_000, "zh", "¥3431万"),
        (250_000_000, "zh", "¥2.5亿"),
    ],
)
def test_short_money(amount: float, lang: str, shown: str) -> None:
    assert short_money(amount, lang) == shown
