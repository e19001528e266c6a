"""The leads search answers from indexes what the plain LIKE search answered, on each backend (issue #12)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import ColumnElement, delete, or_, select, text
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.customers.read import list_customers
from funnel.customers.search import (
    SearchText,
    contains_ids,
    escape_like,
    rebuild_search_index,
    search_index_problems,
    tag_match,
)
from funnel.store.models import Contact, Customer, CustomerShare, CustomerTag, ListItem

# (customer number, name, company, [(phone, email, wechat)])
PEOPLE = [
    ("C2611010001", "赵雷", "东莞恩悌投资管理有限公司", [("13297869073", None, "zhaolei88")]),
    ("C2611010002", "赵雷鸣", "苏州佳禾健康管理有限公司", [("13812345678", "lm@zhao.cn", None)]),
    ("C2611010003", "Dennis Boone", "Scott Group", [("+12308153576", "dennis.boone@example.com", None)]),
    ("C2611010004", "Kathleen Kennedy", "Kramer-Davis", [("+18195593458", "kk@example.com", "kk_wx")]),
    ("C2611010005", "100% Cotton", "a_b Trading", []),
    ("C2611010006", "Élodie Dupré", "Café Crème", [("13612345678", None, None), ("02088889999", None, None)]),
    ("C2611010007", '王"芳', "北京王芳科技", [("13700001111", "wf@bj.cn", "wangfang")]),
    ("C2611010008", "Kennedy Boone", None, [(None, "boone@example.com", None)]),
    ("C2611010009", "李四", "杭州东莞贸易", [("13297860000", None, None)]),
    ("C2611010010-1", "赵雷", "东莞恩悌投资管理有限公司", [("13297869073", None, "zhaolei88")]),
]

QUERIES = [
    # one and two characters: no trigram, read the plain way
    "赵", "赵雷", "东莞", "k", "Bo", "%", "_", "13",
    # three and more: through the trigram index
    "赵雷鸣", "东莞恩悌", "有限公司", "ken", "KENNEDY", "boone", "oone@exa", "Scott Gr", "a_b", "100%",
    "élodie", "Élo", "café", "Crème", '王"芳', '"', "kk_wx", "ZHAOLEI", "example.com",
    # numbers: exact customer numbers, their parts, upper and lower case
    "C2611010003", "c2611010003", "C2611010010", "10010-1", "2611010",
    # phones: whole (exact), typed with spaces or dashes, parts, with a plus
    "13297869073", "132 9786 9073", "1329786", "786-9073", "+12308153576", "12308153576", "0208888",
    "5678", "(020) 8888",
    # e-mails: whole (exact) and parts; a tag's name
    "dennis.boone@example.com", "DENNIS.BOONE@EXAMPLE.COM", "lm@zhao", "重要客户", "vip",
    # nothing
    "无此人", "zzz", "99999999",
]  # fmt: skip


@pytest.fixture
def people(session: Session) -> dict[str, int]:
    """The customers of PEOPLE (with their contacts and a tag on the first two), by customer number."""
    ids = {}
    for number, name, company, contacts in PEOPLE:
        customer = Customer(customer_no=number, name=name, company=company)
        session.add(customer)
        session.flush()
        for index, (phone, email, wechat) in enumerate(contacts):
            contact = Contact(customer_id=customer.id, name=f"{name} {index}", phone=phone, email=email)
            contact.wechat = wechat
            session.add(contact)
        ids[number] = customer.id
    tag = ListItem(list_name="tag", code="vip", name_en="VIP", name_zh="重要客户")
    session.add(tag)
    session.flush()
    session.add_all([CustomerTag(customer_id=ids[n], tag_id=tag.id) for n in ("C2611010001", "C2611010002")])
    session.commit()
    return ids


def like_search(session: Session, typed: str) -> set[int]:
    """The search before the trigram indexes (every row read with LIKE): exact hits first, else contains."""
    query = SearchText.of(typed)
    contact = select(Contact.customer_id).where(
        or_(
            Contact.email == typed.lower(),
            *([Contact.phone.in_({query.phone, f"+{query.phone}"})] if query.phone else []),
        )
    )
    exact = set(
        session.scalars(
            select(Customer.id).where(
                or_(Customer.customer_no.in_({typed, typed.upper()}), Customer.id.in_(contact))
            )
        )
    )
    if exact:
        return exact
    like = f"%{escape_like(typed)}%"
    phone_like = f"%{query.phone_digits}%" if query.phone_digits else like
    contact_match = select(Contact.customer_id).where(
        or_(
            Contact.phone.like(like, escape="\\"),
            Contact.phone.like(phone_like, escape="\\"),
            Contact.email.ilike(like, escape="\\"),
            Contact.wechat.ilike(like, escape="\\"),
        )
    )
    match: ColumnElement[bool] = or_(
        Customer.name.ilike(like, escape="\\"),
        Customer.company.ilike(like, escape="\\"),
        Customer.customer_no.ilike(like, escape="\\"),
        Customer.id.in_(contact_match),
        Customer.id.in_(tag_match(typed)),
    )
    return set(session.scalars(select(Customer.id).where(match)))


def searched(session: Session, typed: str, actor: Actor = SYSTEM) -> set[int]:
    return set(list_customers(session, actor=actor, search=typed, limit=1000)["id"])


@pytest.mark.parametrize("typed", QUERIES)
def test_the_indexed_search_finds_what_the_like_search_found(session, people, typed):
    assert searched(session, typed) == like_search(session, typed)


def test_the_queries_find_something_where_a_person_would_expect_it(session, people):
    # Guards the equality test against a fixture in which every query finds nothing.
    assert searched(session, "赵雷") == {
        people["C2611010001"],
        people["C2611010002"],
        people["C2611010010-1"],
    }
    assert searched(session, "132 9786 9073") == {people["C2611010001"], people["C2611010010-1"]}
    assert searched(session, "c2611010003") == {people["C2611010003"]}
    assert searched(session, "有限公司") == {
        people[n] for n in ("C2611010001", "C2611010002", "C2611010010-1")
    }
    assert searched(session, "boone") == {people["C2611010003"], people["C2611010008"]}
    assert searched(session, "oone@exa") == {people["C2611010003"], people["C2611010008"]}
    assert searched(session, "(020) 8888") == {people["C2611010006"]}
    assert searched(session, "vip") == {people["C2611010001"], people["C2611010002"]}


def test_the_search_follows_edits_and_deletes_in_the_same_transaction(session, people):
    customer = session.get(Customer, people["C2611010004"])
    customer.name = "Katherine Hepburn"
    contact = session.scalars(select(Contact).where(Contact.customer_id == customer.id)).one()
    contact.phone = "13900007777"
    session.flush()
    assert searched(session, "Hepburn") == {customer.id}
    assert searched(session, "Kathleen") == set()
    assert searched(session, "0000777") == {customer.id}
    assert searched(session, "1959345") == set()
    gone = people["C2611010009"]
    session.execute(delete(Contact).where(Contact.customer_id == gone))
    session.execute(delete(Customer).where(Customer.id == gone))
    assert searched(session, "杭州东莞") == set()
    session.rollback()
    assert searched(session, "Kathleen") == {people["C2611010004"]}
    assert searched(session, "杭州东莞") == {people["C2611010009"]}
    assert search_index_problems(session) == []


def test_a_rep_searches_only_their_own_and_shared_customers(session, people, role_users):
    rep = role_users["rep"]
    for number in ("C2611010001", "C2611010003"):
        session.get(Customer, people[number]).owner_id = rep.id
    session.add(CustomerShare(customer_id=people["C2611010002"], user_id=rep.id))
    session.flush()
    actor = Actor.of(rep)
    assert searched(session, "赵雷", actor) == {people["C2611010001"], people["C2611010002"]}
    assert searched(session, "有限公司", actor) == {people["C2611010001"], people["C2611010002"]}
    assert searched(session, "boone", actor) == {people["C2611010003"]}
    # an exact hit outside the rep's scope does not hide the substring matches inside it
    assert searched(session, "C2611010010-1", actor) == set()


def test_a_contains_search_reads_the_trigram_index_not_every_row(session, people):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the FTS5 tables are SQLite's; PostgreSQL's plan depends on its statistics")
    stmt = contains_ids(session, SearchText.of("东莞恩悌"))
    compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = " ".join(row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "VIRTUAL TABLE INDEX" in plan
    assert re.search(r"SCAN (customer|contact)\b(?!_search)", plan) is None, plan  # no full read of either


def test_check_finds_a_stale_search_index_and_rebuilds_it(session, people):
    if session.get_bind().dialect.name != "sqlite":
        assert search_index_problems(session) == []
        return
    assert search_index_problems(session) == []
    session.execute(text("DROP TRIGGER customer_search_update"))
    session.execute(
        text("UPDATE customer SET name = 'Renamed' WHERE id = :id"), {"id": people["C2611010005"]}
    )
    session.execute(text("DELETE FROM contact_search WHERE rowid = (SELECT min(id) FROM contact)"))
    found = {(p.table, p.problem.split(" ")[0]) for p in search_index_problems(session)}
    assert found == {("customer", "trigger"), ("customer", "1"), ("contact", "1")}
    assert searched(session, "Renamed") == set()  # the stale index hides the row: what check is for
    rebuild_search_index(session)
    assert search_index_problems(session) == []
    assert searched(session, "Renamed") == {people["C2611010005"]}
