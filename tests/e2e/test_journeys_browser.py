"""A manager's day in Chromium against `streamlit run` on a demo database: import a CSV, work one customer
from a call to its first payment, and read the forecast. Every write is checked in the database too.

Needs Debian's Chromium (/usr/bin/chromium) and the playwright package; skipped without them.
Widgets are found by their Streamlit key (the `st-key-<key>` class), buttons and notices by their English
text from the catalog, so that a reworded label fails here only where the label itself is the point.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.db import make_engine, session_scope
from funnel.core.i18n import t
from funnel.customers.lists import list_values
from funnel.pipeline.stages import get_pipeline
from funnel.store.models import Activity, Contract, Customer, Objection, Payment, StageEvent, User
from funnel.working.qualification import BUDGET_BAND
from tests.e2e.conftest import CHROMIUM
from tests.e2e.test_browser import database_url, server  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")
TIMEOUT = 30_000


def en(key: str, **params: object) -> str:
    return t(key, "en", **params)


def signed_in_at(browser: Any, server: str, path: str, username: str = "manager") -> Any:  # noqa: F811
    """A page opened at `path` that signs in there (a deep link returns to its page after sign-in)."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US").new_page()
    page.goto(f"{server}{path}")
    page.get_by_label("Username or e-mail").fill(username)
    page.get_by_label("Password", exact=True).fill("loudou-demo")
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.get_by_text("Signed in as")).to_be_visible(timeout=TIMEOUT)
    return page


def keyed(page: Any, key: str) -> Any:
    """The element Streamlit rendered for the widget with this key."""
    return page.locator(f".st-key-{key}")


def fill(page: Any, key: str, value: str) -> None:
    keyed(page, key).locator("input, textarea").first.fill(value)


def choose(page: Any, key: str, option: str) -> None:
    """Pick `option` in the selectbox with this key.

    The list closes when the page scrolls under it, and a click scrolls its target into view first:
    bring the box into view, open it, and try again if the list closed before the option was clicked.
    """
    box = keyed(page, key).get_by_role("combobox")
    item = page.locator("[role=option]").filter(has_text=re.compile(rf"^\s*{re.escape(option)}\s*$"))
    for _ in range(3):
        box.scroll_into_view_if_needed()
        sync_api.expect(box).to_be_in_viewport(timeout=TIMEOUT)
        box.click()
        try:
            item.first.click(timeout=5_000)
            break
        except sync_api.Error:
            page.keyboard.press("Escape")
    sync_api.expect(box).to_have_value(option, timeout=TIMEOUT)


def notice(page: Any, text: str) -> None:
    sync_api.expect(page.get_by_text(text).first).to_be_visible(timeout=TIMEOUT)


def test_a_csv_uploaded_on_the_import_page_lands_as_customers(
    server: str,  # noqa: F811
    database_url: str,  # noqa: F811
    browser: Any,
    tmp_path: Path,
) -> None:
    csv = tmp_path / "expo-leads.csv"
    csv.write_text(
        "Name,Company,Mobile,Source\n"
        "Import Person One,E2E Import Co,13800000001,展会\n"
        "Import Person Two,E2E Import Co,13800000002,展会\n"
        "Import Person Three,E2E Import Co,13800000003,官网\n",
        encoding="utf-8",
    )
    page = signed_in_at(browser, server, "/import_leads")
    sync_api.expect(page.get_by_role("heading", name=en("import_page.title"))).to_be_visible(timeout=TIMEOUT)

    keyed(page, "import_upload").locator("input[type=file]").set_input_files(str(csv))
    # The columns were matched by their names: the preview shows the rows before anything is written.
    sync_api.expect(page.get_by_text(en("import_page.preview"))).to_be_visible(timeout=TIMEOUT)
    run = keyed(page, "import_run").get_by_role("button")
    sync_api.expect(run).to_be_enabled(timeout=TIMEOUT)
    run.click()

    sync_api.expect(page.get_by_text(en("import_page.result"), exact=True)).to_be_visible(timeout=60_000)
    created = page.locator("[data-testid='stMetric']").filter(has_text=en("import_page.count.created"))
    sync_api.expect(created).to_contain_text("3", timeout=TIMEOUT)

    engine = make_engine(database_url)
    with session_scope(engine) as session:
        rows = session.execute(
            select(Customer.name, Customer.channel).where(Customer.company == "E2E Import Co")
        ).all()
    engine.dispose()
    assert sorted(rows) == [
        ("Import Person One", "展会"),
        ("Import Person Three", "官网"),
        ("Import Person Two", "展会"),
    ]


@pytest.fixture
def fresh_customer(database_url: str) -> tuple[int, str]:  # noqa: F811
    """A new customer at first contact, owned by the demo manager (so the manager works it)."""
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        manager = session.scalars(select(User).where(User.username == "manager")).one()
        customer = create_lead(
            session,
            LeadInput(name="Journey Buyer", company="E2E Journey Ltd", email="journey@example.com",
                      stage="contact", owner_id=manager.id),
            actor=SYSTEM,
        )  # fmt: skip
        made = customer.id, customer.customer_no
    engine.dispose()
    return made


def test_a_manager_works_a_customer_from_a_call_to_the_first_payment(
    server: str,  # noqa: F811
    database_url: str,  # noqa: F811
    browser: Any,
    fresh_customer: tuple[int, str],
) -> None:
    customer_id, customer_no = fresh_customer
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        band_code, band_label = next((v.code, v.label("en")) for v in list_values(session, BUDGET_BAND))
    engine.dispose()
    page = signed_in_at(browser, server, f"/customer?id={customer_id}")
    sync_api.expect(page.get_by_text(customer_no).first).to_be_visible(timeout=TIMEOUT)

    # Qualify it first (a contract wins only a qualified customer; the form holds the version it loaded).
    page.get_by_role("tab", name=en("cust.tab.details")).click()
    choose(page, "qual_band", band_label)
    fill(page, "qual_month", "2027-03")
    fill(page, "qual_use_case", "Lead tracking for the sales team")
    keyed(page, "qual_save").get_by_role("button").click()
    notice(page, en("qual.saved", customer_no=customer_no))

    # A call, with what was learnt in its structured fields.
    page.get_by_role("tab", name=en("cust.tab.activities")).click()
    keyed(page, "act_kind").get_by_text(en("act.kind.call"), exact=True).click()
    fill(page, "act_needs", "Track leads from trade shows")
    fill(page, "act_budget", "about 50k")
    fill(page, "act_concerns", "Data migration")
    fill(page, "act_next_step", "Send the proposal")
    keyed(page, "act_save").get_by_role("button").click()
    notice(page, en("act.saved"))

    # Move the stage on.
    page.get_by_role("tab", name=en("cust.tab.details")).click()
    qualify = get_pipeline().name("qualify", "en")
    choose(page, "cust_move_to", qualify)
    keyed(page, "cust_move_submit").get_by_role("button").click()
    notice(page, en("cust.moved", customer_no=customer_no, stage=qualify))
    # Grade it.
    page.get_by_role("tab", name=en("cust.tab.details")).click()
    choose(page, "cust_edit_grade", "A")
    keyed(page, "cust_edit_submit").get_by_role("button").click()
    notice(page, en("cust.saved", customer_no=customer_no))

    # An objection, then a contract: a draft, submitted, approved by this manager; then a payment.
    page.get_by_role("tab", name=en("cust.tab.deals")).click()
    choose(page, "deal_obj_category", en("objection.price"))
    fill(page, "deal_obj_words", "Too expensive for year one")
    keyed(page, "deal_obj_save").get_by_role("button").click()
    notice(page, en("deals.obj.saved"))

    page.get_by_role("tab", name=en("cust.tab.deals")).click()
    fill(page, "deal_contract_no", "E2E-001")
    fill(page, "deal_contract_amount", "48000")
    keyed(page, "deal_contract_create").get_by_role("button").click()
    notice(page, en("deals.contract.created"))
    page.get_by_role("tab", name=en("cust.tab.deals")).click()
    page.get_by_role("button", name=en("deals.contract.submit", contract="E2E-001")).click()
    notice(page, en("deals.contract.submitted"))
    page.get_by_role("tab", name=en("cust.tab.deals")).click()
    approve = page.get_by_role("button", name=en("contracts.approve"))
    sync_api.expect(approve).to_be_visible(timeout=TIMEOUT)
    approve.click()
    notice(page, en("contracts.approved"))

    page.get_by_role("tab", name=en("cust.tab.deals")).click()
    fill(page, "deal_pay_amount", "20000")
    keyed(page, "deal_pay_record").get_by_role("button").click()
    notice(page, en("contracts.recorded"))

    engine = make_engine(database_url)
    with session_scope(engine) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        assert (customer.grade, customer.status, customer.budget_range) == ("A", "won", band_code)
        call = session.scalars(select(Activity).where(Activity.customer_id == customer_id)).one()
        assert (call.kind, call.needs, call.budget, call.concerns, call.next_step) == (
            "call", "Track leads from trade shows", "about 50k", "Data migration", "Send the proposal"
        )  # fmt: skip
        moved_to = session.scalars(select(StageEvent.to_stage).where(StageEvent.customer_id == customer_id))
        assert "qualify" in set(moved_to)
        objection = session.scalars(select(Objection).where(Objection.customer_id == customer_id)).one()
        assert (objection.category, objection.detail) == ("price", "Too expensive for year one")
        contract = session.scalars(select(Contract).where(Contract.customer_id == customer_id)).one()
        assert (contract.contract_no, contract.amount, contract.status) == (
            "E2E-001",
            Decimal("48000"),
            "signed",
        )
        paid = session.scalar(select(func.sum(Payment.amount)).where(Payment.contract_id == contract.id))
        assert paid == Decimal("20000")
    engine.dispose()


def test_the_forecast_page_draws_its_weeks_and_backtest(server: str, browser: Any) -> None:  # noqa: F811
    page = signed_in_at(browser, server, "/forecast", username="boss")
    sync_api.expect(page.get_by_role("heading", name=en("forecast.title"))).to_be_visible(timeout=TIMEOUT)
    sync_api.expect(page.get_by_text(en("forecast.by_week")).first).to_be_visible(timeout=TIMEOUT)
    sync_api.expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible(timeout=60_000)
    sync_api.expect(page.get_by_text(en("forecast.trust")).first).to_be_visible(timeout=60_000)
    assert page.get_by_text("Traceback").count() == 0
