"""Users page: an admin adds, edits, disables and resets accounts; errors show under their field."""

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.accounts.signin import authenticate
from funnel.accounts.users import find_user
from funnel.core.db import session_scope
from tests.app.conftest import PASSWORD
from tests.app.helpers import APP, element_after, open_page, shown, start_signed_in

USERS = "pages/users.py"


def add(app: AppTest, **values: str) -> AppTest:
    for name, value in values.items():
        if name == "role":
            app.selectbox(key="users_add_role").set_value(value)
        else:
            app.text_input(key=f"users_add_{name}").input(value)
    return app.button(key="users_add_submit").click().run()


def pick(app: AppTest, username: str) -> AppTest:
    return app.selectbox(key="users_pick").set_value(username).run()


def sign_in(engine: Engine, username: str, password: str) -> str | None:
    """The sign-in error, None when the password works."""
    with session_scope(engine) as session:
        return authenticate(session, username, password).error


def stored(engine: Engine, username: str) -> tuple[str, bool] | None:
    with session_scope(engine) as session:
        user = find_user(session, username)
        return (user.role, user.is_active) if user else None


def test_the_table_lists_every_user_with_the_role_by_name(app: AppTest) -> None:
    open_page(app, USERS)
    assert not app.exception
    table = app.dataframe[0].value.set_index("username")
    assert sorted(table.index) == ["admin", "delivery", "leader", "manager", "rep", "rep2"]
    assert table.loc["leader", "role"] == "Leadership"
    assert bool(table.loc["rep", "is_active"])


def test_an_admin_adds_a_user_who_can_then_sign_in(app: AppTest, app_engine: Engine) -> None:
    open_page(app, USERS)
    add(app, username="Li.Lei", display_name="Li Lei", email="li@example.com", role="manager",
        region="华东", team="east", password="a good password", repeat="a good password")  # fmt: skip
    assert not app.exception
    assert not app.error
    assert "li.lei" in app.success[0].value
    assert sign_in(app_engine, "li.lei", "a good password") is None
    assert stored(app_engine, "li@example.com") == ("manager", True)
    assert "li.lei" in app.dataframe[0].value["username"].tolist()
    assert app.text_input(key="users_add_username").value == ""  # the form starts anew
    assert app.selectbox(key="users_add_role").value == "rep"


def test_a_bad_username_is_reported_under_the_username_and_the_input_is_kept(
    app: AppTest, app_engine: Engine
) -> None:
    open_page(app, USERS)
    add(app, username="no spaces!", display_name="Someone", region="华南", password="long enough",
        repeat="long enough")  # fmt: skip
    below = element_after(app, "users_add_username")
    assert below.type == "error"
    assert '"no spaces!" is not a valid username' in shown(below.value)
    assert app.text_input(key="users_add_username").value == "no spaces!"
    assert app.text_input(key="users_add_display_name").value == "Someone"
    assert app.text_input(key="users_add_region").value == "华南"
    assert not app.success
    assert stored(app_engine, "someone") is None


def test_a_taken_username_is_reported_under_the_username(app: AppTest) -> None:
    open_page(app, USERS)
    add(app, username="rep", password="long enough", repeat="long enough")
    assert element_after(app, "users_add_username").value == 'The username "rep" is already taken.'


def test_a_short_password_is_reported_under_the_password(app: AppTest) -> None:
    open_page(app, USERS)
    add(app, username="newbie", password="short", repeat="short")
    assert "at least 8 characters" in element_after(app, "users_add_password").value


def test_differing_passwords_are_reported_under_the_repeat_field(app: AppTest, app_engine: Engine) -> None:
    open_page(app, USERS)
    add(app, username="newbie", password="first password", repeat="second password")
    below = element_after(app, "users_add_repeat")
    assert (below.type, below.value) == ("error", "The two passwords differ.")
    assert app.text_input(key="users_add_username").value == "newbie"
    assert stored(app_engine, "newbie") is None


def test_a_disabled_user_can_no_longer_sign_in(app: AppTest, app_engine: Engine) -> None:
    open_page(app, USERS)
    pick(app, "rep")
    assert app.toggle(key="users_edit_is_active").value is True
    app.toggle(key="users_edit_is_active").set_value(False)
    app.button(key="users_edit_submit").click().run()
    assert not app.exception
    assert "rep" in app.success[0].value
    assert sign_in(app_engine, "rep", PASSWORD) == "login.failed"  # disabled, told like any failure
    assert app.toggle(key="users_edit_is_active").value is False  # the form shows the stored state


def test_changing_a_role_is_stored_and_shown(app: AppTest, app_engine: Engine) -> None:
    open_page(app, USERS)
    pick(app, "rep2")
    assert app.text_input(key="users_edit_display_name").value == "rep2"
    app.selectbox(key="users_edit_role").set_value("manager")
    app.text_input(key="users_edit_team").input("east")
    app.button(key="users_edit_submit").click().run()
    assert not app.error
    assert stored(app_engine, "rep2") == ("manager", True)
    assert app.dataframe[0].value.set_index("username").loc["rep2", "role"] == "Sales manager"


def test_picking_another_user_shows_their_values(app: AppTest) -> None:
    open_page(app, USERS)
    pick(app, "rep")
    app.text_input(key="users_edit_team").input("typed but not saved")
    pick(app, "leader")
    assert app.selectbox(key="users_edit_role").value == "leader"
    assert app.text_input(key="users_edit_team").value == ""


def test_an_invalid_email_is_reported_under_the_email_field(app: AppTest, app_engine: Engine) -> None:
    open_page(app, USERS)
    pick(app, "rep")
    app.text_input(key="users_edit_email").input("not-an-email")
    app.button(key="users_edit_submit").click().run()
    assert "not-an-email" in element_after(app, "users_edit_email").value
    assert app.text_input(key="users_edit_email").value == "not-an-email"


def test_the_last_active_admin_cannot_disable_or_demote_themselves(app: AppTest, app_engine: Engine) -> None:
    open_page(app, USERS)
    pick(app, "admin")
    app.toggle(key="users_edit_is_active").set_value(False)
    app.button(key="users_edit_submit").click().run()
    assert "last active administrator" in element_after(app, "users_edit_is_active").value
    app.toggle(key="users_edit_is_active").set_value(True)
    app.selectbox(key="users_edit_role").set_value("rep")
    app.button(key="users_edit_submit").click().run()
    assert "last active administrator" in element_after(app, "users_edit_role").value
    assert stored(app_engine, "admin") == ("admin", True)
    assert not app.success


def test_a_password_reset_lets_a_locked_out_user_sign_in_again(app: AppTest, app_engine: Engine) -> None:
    for _ in range(5):
        sign_in(app_engine, "rep", "wrong password")
    assert sign_in(app_engine, "rep", PASSWORD) == "login.failed"  # still locked
    open_page(app, USERS)
    pick(app, "rep")
    assert "locked out until" in app.warning[0].value
    app.text_input(key="users_reset_password").input("brand new secret")
    app.text_input(key="users_reset_repeat").input("brand new secret")
    app.button(key="users_reset_submit").click().run()
    assert not app.exception
    assert "New password set for **rep**" in app.success[0].value
    assert sign_in(app_engine, "rep", "brand new secret") is None
    assert app.text_input(key="users_reset_password").value == ""
    assert not app.warning


def test_a_short_or_differing_new_password_is_refused_under_its_field(
    app: AppTest, app_engine: Engine
) -> None:
    open_page(app, USERS)
    pick(app, "rep")
    app.text_input(key="users_reset_password").input("short")
    app.text_input(key="users_reset_repeat").input("short")
    app.button(key="users_reset_submit").click().run()
    assert "at least 8 characters" in element_after(app, "users_reset_password").value
    app.text_input(key="users_reset_repeat").input("shorter")
    app.button(key="users_reset_submit").click().run()
    assert element_after(app, "users_reset_repeat").value == "The two passwords differ."
    assert sign_in(app_engine, "rep", PASSWORD) is None


def test_the_page_works_in_chinese(app: AppTest) -> None:
    app.run()
    app.radio(key="lang").set_value("zh").run()
    app.switch_page(USERS).run()
    assert not app.exception
    assert app.title[0].value == "用户管理"
    assert app.dataframe[0].value.set_index("username").loc["admin", "role"] == "管理员"


def test_a_rep_opening_the_users_page_is_refused(accounts: dict[str, int], app_engine: Engine) -> None:
    # The menu does not offer the page to a rep; this opens its address directly.
    app = AppTest.from_file(str(APP.parent / USERS), default_timeout=30)
    start_signed_in(app, app_engine, accounts["rep"])
    app.run()
    assert not app.exception
    assert app.warning[0].value == "Your role (Sales rep) cannot open this page."
    assert not app.dataframe
    assert not app.text_input


@pytest.mark.parametrize(("username", "offered"), [("admin", True), ("manager", False), ("rep", False)])
def test_the_menu_offers_the_users_page_only_to_admins(
    app_as: Callable[[str], AppTest], username: str, offered: bool
) -> None:
    app = app_as(username).run()
    if offered:
        assert app.switch_page(USERS).run().title[0].value == "Users"
    else:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app.switch_page(USERS)


def test_an_email_another_user_has_is_reported_under_the_email_field(
    app: AppTest, app_engine: Engine
) -> None:
    open_page(app, USERS)
    add(app, username="first", email="same@example.com", password="long enough", repeat="long enough")
    add(app, username="second", email="Same@Example.com", password="long enough", repeat="long enough")
    assert "already uses the e-mail" in element_after(app, "users_add_email").value
    assert stored(app_engine, "second") is None


def test_an_owner_an_import_created_as_wang_wu_can_be_activated_here(
    app: AppTest, app_engine: Engine
) -> None:
    from funnel.access.permissions import SYSTEM
    from funnel.capture.importer import import_rows

    with session_scope(app_engine) as session:
        import_rows(session, [{"name": "Lead", "email": "l@x.cn", "负责人": "王五"}], actor=SYSTEM)
    open_page(app, USERS)
    pick(app, "owner")  # the username the import gave 王五 (a name with no [a-z0-9] letters)
    assert app.text_input(key="users_edit_display_name").value == "王五"
    app.toggle(key="users_edit_is_active").set_value(True)
    app.button(key="users_edit_submit").click().run()
    assert not app.exception
    assert not app.error
    assert "owner" in app.success[0].value
    assert stored(app_engine, "owner") == ("rep", True)
