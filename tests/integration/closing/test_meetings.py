"""Meetings and demos: attendees must belong, links are web addresses, the timeline lists them."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.closing import meetings
from funnel.core.clock import utcnow
from funnel.core.errors import ValidationError
from funnel.store.models import Contact, User
from tests.integration.closing.helpers import customer


def test_a_demo_is_logged_with_its_attendees_and_listed(
    session: Session, role_users: dict[str, User]
) -> None:
    rep = Actor.of(role_users["rep"])
    deal, other = customer(session, role_users["rep"]), customer(session, role_users["rep"])
    theirs = session.query(Contact).filter_by(customer_id=other.id).one()
    ours = session.query(Contact).filter_by(customer_id=deal.id).one()
    with pytest.raises(ValidationError) as refused:
        meetings.log_meeting(
            session, actor=rep, customer_id=deal.id, at=utcnow(), contact_ids=[theirs.id], link="javascript:x"
        )
    assert {"attendees", "link"} <= set(refused.value.by_field())
    meetings.log_meeting(
        session, actor=rep, customer_id=deal.id, at=utcnow(), kind="demo", contact_ids=[ours.id],
        user_ids=[role_users["manager"].id], link="https://meet.example/abc", minutes="演示报表", feedback="喜欢",
    )  # fmt: skip
    table = meetings.meetings_table(session, actor=rep, customer_id=deal.id)
    assert table[["kind", "feedback"]].values.tolist() == [["demo", "喜欢"]]
    assert table.loc[0, "contact_ids"] == [ours.id]
