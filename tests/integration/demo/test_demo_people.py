"""Demo people read like a real team's data: names, numbers and companies agree; lists, tags, scores."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from funnel.access.permissions import SYSTEM
from funnel.customers.lists import labels
from funnel.demo.generate import generate_demo
from funnel.store.models import Contact, Customer, CustomerTag

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_a_chinese_name_has_a_mainland_mobile_and_an_english_one_a_matching_number(engine, session):
    generate_demo(engine, leads=300, seed=4, anchor=date(2026, 6, 30), actor=SYSTEM)

    rows = session.execute(
        select(Customer.name, Customer.company, Contact.phone)
        .join(Contact, Contact.customer_id == Customer.id)
        .where(Contact.is_primary.is_(True))
    ).all()
    for name, company, phone in rows:
        if CJK.search(name):
            assert phone is None or re.fullmatch(r"1[3-9]\d{9}", phone), (name, phone)
            assert CJK.search(company), (name, company)
        else:
            assert phone is None or re.fullmatch(r"\+1[2-9]\d{9}|\+447\d{9}", phone), (name, phone)
            assert not CJK.search(company), (name, company)
    assert any(not CJK.search(name) for name, _, _ in rows)


def test_the_demo_uses_the_managed_lists_links_tags_and_scores_every_lead(engine, session):
    generate_demo(engine, leads=300, seed=4, anchor=date(2026, 6, 30), actor=SYSTEM)

    channel_names = labels(session, "channel", "en")
    used = set(session.scalars(select(Customer.channel).distinct()))
    assert used <= set(channel_names) and channel_names["展会"] == "Trade show"
    assert session.scalar(select(func.count()).select_from(CustomerTag)) > 0
    assert session.scalar(select(func.count()).where(Customer.score.is_(None))) == 0
    assert session.scalar(select(func.count()).where(Customer.campaign.is_not(None))) > 0
    assert set(session.scalars(select(Customer.intake).distinct())) == {"form", "rep", "import"}
