"""User administration: the users table, and never leaving the system without an active admin."""

from __future__ import annotations

from datetime import timedelta

import pytest

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.signin import authenticate
from funnel.accounts.users import UserInput, add_user, set_password, update_user, user_table
from funnel.core.clock import utcnow
from funnel.core.errors import PermissionDenied, ValidationError
from funnel.store.models import User

PASSWORD = "correct horse"


@pytest.fixture
def admin(session) -> Actor:
    user = add_user(session, UserInput(username="root", role="admin"), password=PASSWORD, actor=SYSTEM)
    add_user(session, UserInput(username="rep", role="rep"), password=PASSWORD, actor=SYSTEM)
    session.commit()
    return Actor.of(user)


def test_the_user_table_lists_every_account_with_its_routing_and_state(session, admin):
    add_user(
        session,
        UserInput(username="li", display_name="Li Lei", role="manager", region="华东", team="east"),
        password=PASSWORD,
        actor=admin,
    )
    table = user_table(session, actor=admin)
    assert table["username"].tolist() == ["li", "rep", "root"]
    li = table.set_index("username").loc["li"]
    assert (li["display_name"], li["role"], li["region"], li["team"], li["is_active"]) == (
        "Li Lei", "manager", "华东", "east", True,
    )  # fmt: skip


def test_the_user_table_shows_a_lock_out_only_while_it_holds(session, admin):
    user = session.query(User).filter_by(username="rep").one()
    user.locked_until = utcnow() + timedelta(minutes=10)
    session.flush()
    assert user_table(session, actor=admin).set_index("username").loc["rep", "locked_until"] is not None
    later = utcnow() + timedelta(minutes=20)
    assert user_table(session, actor=admin, now=later).set_index("username")["locked_until"].isna().all()


def test_only_an_admin_may_read_the_user_table(session, admin):
    rep = Actor.of(session.query(User).filter_by(username="rep").one())
    with pytest.raises(PermissionDenied):
        user_table(session, actor=rep)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"is_active": False}, "is_active"), ({"role": "manager"}, "role")],
    ids=["disable", "demote"],
)
def test_the_last_active_admin_cannot_be_disabled_or_demoted(session, admin, change, field):
    with pytest.raises(ValidationError) as raised:
        update_user(session, "root", actor=admin, **change)
    assert raised.value.by_field()[field].code == "error.last_admin"
    session.rollback()
    root = session.query(User).filter_by(username="root").one()
    assert (root.role, root.is_active) == ("admin", True)


def test_an_admin_may_step_down_once_another_admin_is_active(session, admin):
    add_user(session, UserInput(username="second", role="admin"), password=PASSWORD, actor=admin)
    update_user(session, "root", actor=admin, role="manager")
    with pytest.raises(ValidationError):
        update_user(session, "second", actor=SYSTEM, is_active=False)


def test_a_disabled_admin_does_not_count_as_the_remaining_admin(session, admin):
    add_user(
        session, UserInput(username="dormant", role="admin", is_active=False), password=PASSWORD, actor=admin
    )
    with pytest.raises(ValidationError):
        update_user(session, "root", actor=admin, is_active=False)


def test_other_users_can_still_be_disabled_and_edited(session, admin):
    update_user(session, "rep", actor=admin, is_active=False, team="east")
    assert authenticate(session, "rep", PASSWORD).user is None


def test_a_password_reset_lifts_a_lock_out(session, admin):
    for _ in range(5):
        authenticate(session, "rep", "wrong password")
    assert authenticate(session, "rep", PASSWORD).user is None
    set_password(session, "rep", "a new password", actor=admin)
    assert authenticate(session, "rep", "a new password").user is not None


def test_an_email_another_account_uses_is_refused_on_add_and_on_edit(session, admin):
    add_user(session, UserInput(username="li", email="li@example.com"), password=PASSWORD, actor=admin)
    with pytest.raises(ValidationError) as added:
        add_user(session, UserInput(username="lei", email="LI@example.com"), password=PASSWORD, actor=admin)
    assert added.value.by_field()["email"].code == "error.email_taken"
    with pytest.raises(ValidationError) as edited:
        update_user(session, "rep", actor=admin, email="li@example.com")
    assert edited.value.by_field()["email"].code == "error.email_taken"
    update_user(session, "li", actor=admin, email="li@example.com", team="east")  # keeping one's own is fine


@pytest.mark.parametrize("field", ["display_name", "region", "industry", "team"])
def test_over_long_or_nul_account_fields_get_a_message_on_the_field(session, field):
    from funnel.core.errors import ValidationError as Invalid

    for value, code in (("x" * 300, "error.too_long"), ("a\x00b", "error.invalid_characters")):
        with pytest.raises(Invalid) as caught:
            add_user(session, UserInput(username="someone", **{field: value}), password=None, actor=SYSTEM)
        assert [(e.field, e.code) for e in caught.value.errors] == [(field, code)]
