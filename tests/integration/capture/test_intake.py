"""Public intake's domain: sources and tokens, leads made by PUBLIC through the one write path, the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import NOTHING, PUBLIC, SYSTEM, Actor, customer_scope
from funnel.capture.intake import (
    PublicLead,
    SourceOff,
    TokenRefused,
    add_source,
    check_token,
    create_public_lead,
    find_source,
    hash_token,
    is_duplicate,
    list_sources,
    qr_png,
    revoke_token,
    rotate_token,
    set_active,
    source_for_form,
)
from funnel.cli.main import main
from funnel.core.db import session_scope
from funnel.core.errors import PermissionDenied, ValidationError
from funnel.customers.lists import list_values
from funnel.customers.read import list_customers
from funnel.store.models import Activity, AuditLog, Customer, IntakeSource, User


def test_a_new_source_joins_the_channel_list_and_stores_only_the_tokens_hash(session: Session) -> None:
    issued = add_source(session, channel="地推活动", campaign="CIIE 2026", actor=SYSTEM)
    stored = session.get(IntakeSource, issued.source.id)
    assert stored is not None
    assert stored.token_hash == hash_token(issued.token) != issued.token
    assert issued.token not in str(session.scalars(select(AuditLog.changes)).all())
    assert "地推活动" in [v.code for v in list_values(session, "channel")]  # a new channel joins the list
    assert issued.source.form_url == f"http://localhost:8501/f/{stored.slug}"
    assert check_token(session, issued.token).id == stored.id


def test_a_second_source_of_the_same_channel_and_campaign_is_refused_on_the_channel(session: Session) -> None:
    add_source(session, channel="官网", actor=SYSTEM)
    with pytest.raises(ValidationError) as refused:
        add_source(session, channel="官网", actor=SYSTEM)
    assert [(e.field, e.code) for e in refused.value.errors] == [("channel", "intake.source_exists")]
    add_source(session, channel="官网", campaign="spring", actor=SYSTEM)  # another campaign is another source


@pytest.mark.parametrize("role", ["rep", "leader", "delivery"])
def test_only_managers_and_admins_manage_sources(
    session: Session, role_users: dict[str, User], role: str
) -> None:
    with pytest.raises(PermissionDenied):
        add_source(session, channel="官网", actor=Actor.of(role_users[role]))
    for allowed in ("manager", "admin"):
        add_source(session, channel=f"官网-{allowed}", actor=Actor.of(role_users[allowed]))


def test_a_revoked_or_rotated_token_is_refused_and_a_source_switched_off_refuses_too(
    session: Session,
) -> None:
    issued = add_source(session, channel="公众号", actor=SYSTEM)
    for bad in ("", "not-a-token", issued.token + "x"):
        with pytest.raises(TokenRefused):
            check_token(session, bad)
    rotated = rotate_token(session, issued.source.id, actor=SYSTEM)
    with pytest.raises(TokenRefused):
        check_token(session, issued.token)
    assert check_token(session, rotated.token).id == issued.source.id
    set_active(session, issued.source.id, False, actor=SYSTEM)
    with pytest.raises(SourceOff):
        check_token(session, rotated.token)
    with pytest.raises(SourceOff):
        source_for_form(session, issued.source.slug)
    set_active(session, issued.source.id, True, actor=SYSTEM)
    revoke_token(session, issued.source.id, actor=SYSTEM)
    with pytest.raises(TokenRefused):
        check_token(session, rotated.token)
    assert source_for_form(session, issued.source.slug).id == issued.source.id  # the form still works
    assert [s.has_token for s in list_sources(session, actor=SYSTEM)] == [False]


def test_a_public_lead_is_unowned_carries_channel_and_campaign_and_keeps_the_message_as_a_note(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        source_id = add_source(session, channel="展会", campaign="CIIE", actor=SYSTEM).source.id
    with session_scope(engine) as session:
        source = session.get(IntakeSource, source_id)
        assert source is not None
        lead = PublicLead(
            name="王芳", company="华东机械", phone="138 0013 8000", message="想要报价 <b>50 台</b>"
        )
        result = create_public_lead(session, source, lead)
    assert result.created
    with session_scope(engine) as session:
        customer = session.scalars(select(Customer)).one()
        assert (customer.customer_no, customer.owner_id, customer.channel, customer.campaign) == (
            result.customer_no,
            None,
            "展会",
            "CIIE",
        )
        note = session.scalars(select(Activity)).one()
        assert (note.customer_id, note.kind, note.by_user_id, note.summary) == (
            customer.id,
            "note",
            None,
            "想要报价 <b>50 台</b>",
        )
        created = session.scalars(select(AuditLog).where(AuditLog.customer_id == customer.id)).one()
        assert (created.action, created.user_id) == ("create", None)
        with pytest.raises(PermissionDenied):  # PUBLIC reads nothing back
            list_customers(session, actor=PUBLIC)
        assert customer_scope(session, PUBLIC) == NOTHING


def test_a_replay_of_the_senders_external_id_creates_nothing_and_answers_the_same_number(
    session: Session,
) -> None:
    source = session.get(IntakeSource, add_source(session, channel="广告投放", actor=SYSTEM).source.id)
    other = session.get(IntakeSource, add_source(session, channel="官网", actor=SYSTEM).source.id)
    assert source is not None and other is not None
    lead = PublicLead(name="Li", email="li@example.com", external_id="ad-77", message="hi")
    first = create_public_lead(session, source, lead)
    again = create_public_lead(session, source, lead)
    assert (again.customer_no, again.created) == (first.customer_no, False)
    assert session.scalar(select(func.count()).select_from(Customer)) == 1
    assert session.scalar(select(func.count()).select_from(Activity)) == 1
    with pytest.raises(ValidationError) as taken:  # the same id from another sender is not a replay
        create_public_lead(session, other, PublicLead(name="Li", email="x@example.com", external_id="ad-77"))
    assert is_duplicate(taken.value)
    assert [e.field for e in taken.value.errors] == ["external_id"]


def test_a_known_contact_is_a_duplicate_that_names_no_customer(session: Session) -> None:
    source = session.get(IntakeSource, add_source(session, channel="官网", actor=SYSTEM).source.id)
    assert source is not None
    create_public_lead(session, source, PublicLead(name="A", phone="13800138000"))
    with pytest.raises(ValidationError) as duplicate:
        create_public_lead(session, source, PublicLead(name="B", phone="+86 138-0013-8000"))
    assert is_duplicate(duplicate.value)
    assert [(e.field, e.code, e.params) for e in duplicate.value.errors] == [
        ("phone", "error.duplicate_hidden", {})
    ]


def test_the_form_adds_a_known_prospects_message_to_their_lead_instead_of_refusing(session: Session) -> None:
    source = session.get(IntakeSource, add_source(session, channel="官网", actor=SYSTEM).source.id)
    assert source is not None
    first = create_public_lead(session, source, PublicLead(name="A", phone="13800138000", message="one"))
    again = create_public_lead(
        session, source, PublicLead(name="A", phone="13800138000", message="two"), note_on_duplicate=True
    )
    assert (again.customer_no, again.created) == (first.customer_no, False)
    assert sorted(session.scalars(select(Activity.summary))) == ["one", "two"]


def test_every_bad_field_is_named_at_once(session: Session) -> None:
    source = session.get(IntakeSource, add_source(session, channel="官网", actor=SYSTEM).source.id)
    assert source is not None
    with pytest.raises(ValidationError) as bad:
        create_public_lead(
            session, source, PublicLead(name="", phone="12", message="x" * 4001, campaign="c" * 65)
        )
    assert sorted(e.field for e in bad.value.errors) == ["campaign", "message", "name", "phone"]
    assert session.scalar(select(func.count()).select_from(Customer)) == 0


def test_the_qr_code_is_a_png() -> None:
    assert qr_png("http://localhost:8501/f/abc").startswith(b"\x89PNG")


def test_the_cli_prints_the_token_once_alone_on_its_last_line_and_lists_and_revokes(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["channel", "add", "展会", "--campaign", "CIIE"]) == 0
    out = capsys.readouterr().out
    token = out.splitlines()[-1]
    assert token == token.strip() and len(token) >= 40 and " " not in token
    assert out.count(token) == 1
    with session_scope(engine) as session:
        assert check_token(session, token).campaign == "CIIE"
    assert main(["channel", "list"]) == 0
    listing = capsys.readouterr().out
    assert "展会/CIIE" in listing and " on " in listing and "token" in listing and token not in listing
    assert main(["channel", "revoke", "展会", "--campaign", "CIIE"]) == 0
    capsys.readouterr()
    with session_scope(engine) as session, pytest.raises(TokenRefused):
        check_token(session, token)
    assert main(["channel", "list"]) == 0
    assert "no-token" in capsys.readouterr().out
    assert main(["channel", "revoke", "nothere"]) == 2
    with session_scope(engine) as session:
        assert find_source(session, "展会", "CIIE").revoked_at is not None
