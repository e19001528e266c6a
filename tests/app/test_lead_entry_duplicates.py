"""Lead entry: a duplicate is reported under the field that matched an existing customer."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.helpers import LEAD_ENTRY, element_after, open_page


@pytest.mark.parametrize(
    ("field", "first", "again"),
    [
        ("email", "li@acme.cn", "LI@acme.cn"),
        ("wechat", "li_acme_88", "li_acme_88"),
    ],
)
def test_a_duplicate_email_or_wechat_is_reported_under_that_field(
    app: AppTest, field: str, first: str, again: str
) -> None:
    open_page(app, LEAD_ENTRY)
    app.text_input(key="lead_name").input("First")
    app.text_input(key=f"lead_{field}").input(first)
    app.button(key="lead_submit").click().run()
    first_no = app.success[0].value.split("**")[1]

    app.text_input(key="lead_name").input("Second")
    app.text_input(key="lead_phone").input("13900001111")  # a new phone: only the other field matches
    app.text_input(key=f"lead_{field}").input(again)
    app.button(key="lead_submit").click().run()

    below = element_after(app, f"lead_{field}")
    assert (below.type, f"already exists ({first_no})" in below.value) == ("error", True)
    assert element_after(app, "lead_phone").type != "error"
    assert app.text_input(key="lead_name").value == "Second"
