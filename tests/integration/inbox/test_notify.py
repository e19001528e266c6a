"""The inbox: a notification is stored with its parameters, rendered per language, counted and read."""

from __future__ import annotations

from sqlalchemy.orm import Session

from funnel.inbox.notify import inbox, mark_read, notify, unread_count
from funnel.store.models import User


def test_a_notification_is_rendered_in_the_readers_language_and_marked_read(
    session: Session, role_users: dict[str, User]
) -> None:
    rep, other = role_users["rep"], role_users["manager"]
    first = notify(session, user_id=rep.id, kind="test", params={"text": "一"})
    notify(session, user_id=rep.id, kind="test", params={"text": 2})
    notify(session, user_id=other.id, kind="test", params={"text": "not yours"})
    session.commit()

    assert unread_count(session, rep.id) == 2
    assert [item.text for item in inbox(session, rep.id, lang="zh")] == ["测试通知:2", "测试通知:一"]
    assert first.message == "Test notification: 一"

    assert mark_read(session, rep.id, [first.id]) == 1
    assert mark_read(session, rep.id, [first.id]) == 0  # already read
    assert unread_count(session, rep.id) == 1
    assert mark_read(session, rep.id) == 1  # the rest
    assert unread_count(session, rep.id) == 0
    assert unread_count(session, other.id) == 1  # another user's inbox is untouched


def test_an_unknown_kind_shows_its_stored_text(session: Session, role_users: dict[str, User]) -> None:
    notify(session, user_id=role_users["rep"].id, kind="no_such_kind", params={"x": 1})
    session.commit()
    [item] = inbox(session, role_users["rep"].id, lang="en")
    assert item.text == "notify.no_such_kind"
