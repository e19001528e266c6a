"""A prospect on a phone fills the public lead form in Chromium against `streamlit run`; the lead is stored.

Needs Debian's Chromium (/usr/bin/chromium) and the playwright package; skipped without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from funnel.access.permissions import SYSTEM
from funnel.capture.intake import add_source
from funnel.core.db import make_engine, session_scope
from funnel.store.models import Activity, Customer
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, database_url, server  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")


def test_a_lead_posted_through_the_public_form_appears_in_the_database(
    server: str,  # noqa: F811
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        slug = add_source(session, channel="展会", campaign="E2E expo", actor=SYSTEM).source.slug
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        phone: Any = browser.new_context(
            viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True
        )
        page = phone.new_page()
        page.goto(f"{server}/f/{slug}")
        page.get_by_role("heading", name="留下您的咨询").wait_for(timeout=30_000)
        page.get_by_label("姓名 *").fill("扫码访客")
        page.get_by_label("公司").fill("浏览器测试有限公司")
        page.get_by_label("手机").fill("13912345678")
        page.get_by_label("留言").fill("展会上看到你们的产品，请联系我")
        page.get_by_label("我同意").check()
        page.get_by_role("button", name="提交").click()
        page.get_by_role("heading", name="感谢您的留言！").wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "thanks.png"), full_page=True)
        browser.close()
    with session_scope(engine) as session:
        customer = session.scalars(select(Customer).where(Customer.company == "浏览器测试有限公司")).one()
        assert (customer.name, customer.channel, customer.campaign, customer.owner_id) == (
            "扫码访客",
            "展会",
            "E2E expo",
            None,
        )
        assert session.scalar(select(Activity.summary).where(Activity.customer_id == customer.id)) == (
            "展会上看到你们的产品，请联系我"
        )
    engine.dispose()
