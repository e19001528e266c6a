"""The permission table and the rule for who may take a customer over, without a database."""

from __future__ import annotations

import pytest

from funnel.access.permissions import ROLE_PERMISSIONS, SYSTEM, Actor, assignee_error, managed_team
from funnel.core.errors import FieldError
from funnel.store.models import User


def test_an_admin_may_do_all_a_manager_may_and_manage_users_and_settings():
    assert ROLE_PERMISSIONS["admin"] - ROLE_PERMISSIONS["manager"] == {
        "users.manage",
        "settings.manage",
        "demo.load",
        "customer.restore",
    }
    assert ROLE_PERMISSIONS["manager"] <= ROLE_PERMISSIONS["admin"]


def actor(role: str, team: str | None = None) -> Actor:
    return Actor(user_id=1, username=role, role=role, team=team)


def user(role: str, team: str | None = None, *, active: bool = True) -> User:
    return User(id=2, username="target", display_name="Target", role=role, team=team, is_active=active)


# (who assigns, to whom) -> the error code, None when allowed
ASSIGNMENTS = [
    (actor("manager"), user("rep"), None),
    (actor("manager"), user("manager"), None),
    (actor("manager"), user("admin"), None),
    (actor("manager"), user("leader"), "error.assignee_invalid"),
    (actor("manager"), user("delivery"), "error.assignee_invalid"),
    (actor("manager"), user("rep", active=False), "error.assignee_invalid"),
    (actor("manager"), None, "error.assignee_invalid"),
    (actor("manager", "east"), user("rep", "east"), None),
    (actor("manager", "east"), user("rep", "west"), "error.assignee_other_team"),
    (actor("manager", "east"), user("rep"), "error.assignee_other_team"),  # no team is not east
    (actor("admin", "east"), user("rep", "west"), None),  # only a manager is held to a team
    (SYSTEM, user("rep", "west"), None),
    (SYSTEM, user("delivery"), "error.assignee_invalid"),
]  # fmt: skip


@pytest.mark.parametrize(("assigner", "target", "code"), ASSIGNMENTS)
def test_who_may_be_given_a_customer(assigner, target, code):
    error = assignee_error(assigner, target, field="owner_id")

    assert (error.code if error else None) == code
    assert error is None or error.field == "owner_id"


def test_the_team_refusal_names_the_managers_team():
    error = assignee_error(actor("manager", "east"), user("rep", "west"), field="user_id")

    assert error == FieldError("user_id", "error.assignee_other_team", {"team": "east"})


@pytest.mark.parametrize(
    ("role", "team", "managed"),
    [("manager", "east", "east"), ("manager", None, None), ("manager", "", None), ("admin", "east", None)],
)
def test_only_a_manager_with_a_team_is_held_to_it(role, team, managed):
    assert managed_team(actor(role, team)) == managed
