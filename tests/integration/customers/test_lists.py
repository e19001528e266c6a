"""Managed lists: bilingual names, lookup by code or either name, updates keep the code."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from funnel.core.errors import ValidationError
from funnel.customers.lists import find_value, labels, list_values, save_value


def test_values_have_a_name_per_language_and_are_found_by_any_of_them(session: Session) -> None:
    save_value(session, "source", code="trade_show", name_en="Trade show", name_zh="展会")
    save_value(session, "source", code="website", name_en="Website")  # no Chinese name: the English one
    session.commit()
    assert labels(session, "source", "zh") == {"trade_show": "展会", "website": "Website"}
    assert labels(session, "source", "en")["trade_show"] == "Trade show"
    found = find_value(session, "source", " 展会 ")
    assert found is not None and found.code == "trade_show"
    assert find_value(session, "source", "TRADE SHOW") == found
    assert find_value(session, "region", "展会") is None  # another list


def test_saving_an_existing_code_updates_it_and_inactive_values_leave_the_choices(session: Session) -> None:
    save_value(session, "mood", code="高意向", managed=False)
    save_value(session, "mood", code="高意向", name_en="High intent", active=False)
    session.commit()
    assert list_values(session, "mood") == []
    [value] = list_values(session, "mood", include_inactive=True)
    assert (value.name_en, value.name_zh, value.managed) == ("High intent", "High intent", True)


@pytest.mark.parametrize("code", ["", "   ", "x" * 65])
def test_a_bad_code_is_refused_by_name(session: Session, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        save_value(session, "tag", code=code)
    assert caught.value.errors[0].field == "code"
