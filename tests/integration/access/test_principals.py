"""Explicit principals: every use case takes an actor (no default), and PUBLIC may create a lead, nothing else."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy.orm import Session

import funnel
from funnel.access.permissions import PUBLIC, SYSTEM, Actor
from funnel.accounts.users import (
    UserInput,
    add_user,
    create_inactive_owner,
    set_password,
    update_user,
    user_table,
)
from funnel.analytics.report import build_report
from funnel.analytics.rollups import customer_count, entity_funnel, segment_values
from funnel.audit.read import audit_entries, customer_history
from funnel.capture.importer import import_file, import_rows
from funnel.capture.intake import add_source, list_sources, revoke_token, rotate_token, set_active
from funnel.capture.lead_form import campaign_options
from funnel.capture.leads import LeadInput, add_as_contact, create_lead, find_duplicate
from funnel.core.errors import NotFound, PermissionDenied
from funnel.customers.edit import (
    assign_customer,
    assignable_users,
    delete_customer,
    share_customer,
    unshare_customer,
    update_customer,
)
from funnel.customers.guidance import customer_activities, customer_tasks, customer_timeline, stage_guide
from funnel.customers.read import customer_detail, get_customer, list_customers
from funnel.customers.recount import funnel_differences, repair_funnel_state
from funnel.customers.stages import move_stage
from funnel.customers.tag_links import add_tags
from funnel.demo.generate import generate_demo
from funnel.working.activities import customer_activities as activity_list
from funnel.working.activities import log_activity
from funnel.working.call_sync import import_calls, sync_activity
from funnel.working.contacts import add_contact, edit_contact, list_contacts, remove_contact
from funnel.working.grading import grading_table, save_grade_criteria, set_grade, set_grades
from funnel.working.qualification import read_qualification, save_qualification
from funnel.working.scripts import save_question
from funnel.working.speed import speed_to_lead

# Helpers that act for a use case which already checked the actor (they take it to record who did it).
HELPERS = {
    "funnel.access.permissions": {"allowed", "assignee_error", "can_see", "customer_scope", "managed_team",
                                  "require", "require_customer"},
    "funnel.accounts.users": {"_record_account_change"},
    "funnel.audit.record": {"record_customer"},
    "funnel.capture.intake": {"_audit"},
    "funnel.analytics.rollups": {"readers_filter"},
    "funnel.capture.leads": {"store_lead", "store_leads", "duplicate_summary"},  # create_lead's write, its bulk form
    "funnel.customers.stages": {"add_history"},
    "funnel.working.activities": {"_first_contact"},  # log_activity's first-contact step
    "funnel.working.call_sync": {"_sync_one"},  # import_calls' and sync_activity's write of one call
}  # fmt: skip


def _generic_call(
    function: Callable[..., object], session: Session, engine: object, cid: int
) -> Callable[[Actor], object]:
    """A call with plain placeholder arguments, for a use case whose guard comes before any lookup."""
    import datetime as dt

    placeholders = {"int": cid, "str": "x", "Engine": engine, "datetime": dt.datetime(2026, 1, 1),
                    "date": dt.date(2026, 1, 1), "bool": True, "object": "1", "bytes": b"x"}  # fmt: skip
    args: list[object] = []
    kwargs: dict[str, object] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if name == "actor" or parameter.default is not inspect.Parameter.empty:
            continue
        annotation = str(parameter.annotation).split(" |")[0].split("[")[0]
        value: object = (
            session
            if annotation == "Session"
            else placeholders.get(annotation, [] if annotation in ("Sequence", "Iterable", "list") else {})
        )
        if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            args.append(value)
        else:
            kwargs[name] = value

    def call(actor: Actor) -> object:
        try:
            result = function(*args, actor=actor, **kwargs)
            return next(result) if inspect.isgenerator(result) else result  # a generator checks on first use
        except NotFound as exc:  # the placeholder id names nothing: refused without saying what exists
            raise PermissionDenied("public", "placeholder") from exc

    return call


# What a prospect may do: leave a lead, answer the survey its link names.
ALLOWED_TO_PUBLIC = {"funnel.capture.leads.create_lead", "funnel.closing.surveys.answer_survey"}
# Guards and pure checks that take an actor without acting for it.
HELPERS.update({
    "funnel.closing.common": {"customer_for", "customer_id_by_no"},
    "funnel.closing.contracts": {"may_approve", "sign_contract"},  # sign_contract: approve_contract's write
    "funnel.closing.imports": {"import_contract", "import_opportunity", "import_payment"},  # rows of import_closing_file
})  # fmt: skip


def use_cases() -> dict[str, Callable[..., object]]:
    """Every function under funnel/ that takes an actor, except the helpers above."""
    found = {}
    for info in pkgutil.walk_packages(funnel.__path__, "funnel."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != info.name or name in HELPERS.get(info.name, ()) or name.startswith("_"):
                continue  # a private function acts for the use case that called it
            if "actor" in inspect.signature(function).parameters:
                found[f"{info.name}.{name}"] = function
    return found


def test_no_use_case_has_a_default_actor():
    # A default that grants everything would be used by accident: the actor is keyword-only and required.
    for name, function in use_cases().items():
        parameter = inspect.signature(function).parameters["actor"]
        assert parameter.default is inspect.Parameter.empty, name
        assert parameter.annotation in ("Actor", Actor), name


@pytest.fixture
def customer_id(session: Session) -> int:
    customer = create_lead(session, LeadInput(name="Existing", email="existing@x.cn"), actor=SYSTEM)
    add_user(session, UserInput(username="rep1", role="rep"), password="a password 1", actor=SYSTEM)
    session.flush()
    return customer.id


def _calls(session: Session, cid: int, engine_url: str) -> dict[str, Callable[[Actor], object]]:
    """One call per use case, as the PUBLIC principal would make it."""
    from sqlalchemy import create_engine

    engine = create_engine(engine_url)
    edit = {"customer_id": cid, "expected_version": 1}
    explicit = {
        "funnel.accounts.users.add_user": lambda a: add_user(session, UserInput("x1"), password=None, actor=a),
        "funnel.accounts.users.create_inactive_owner": lambda a: create_inactive_owner(session, display_name="x", actor=a),
        "funnel.accounts.users.set_password": lambda a: set_password(session, "rep1", "a password 2", actor=a),
        "funnel.accounts.users.update_user": lambda a: update_user(session, "rep1", actor=a, team="t"),
        "funnel.accounts.users.user_table": lambda a: user_table(session, actor=a),
        "funnel.analytics.report.build_report": lambda a: build_report(session, actor=a),
        "funnel.analytics.rollups.customer_count": lambda a: customer_count(session, actor=a),
        "funnel.analytics.rollups.entity_funnel": lambda a: entity_funnel(session, actor=a),
        "funnel.analytics.rollups.segment_values": lambda a: segment_values(session, "channel", actor=a),
        "funnel.audit.read.audit_entries": lambda a: audit_entries(session, actor=a),
        "funnel.audit.read.customer_history": lambda a: customer_history(session, actor=a, customer_id=cid),
        "funnel.capture.lead_form.campaign_options": lambda a: campaign_options(session, actor=a, lang="en"),
        "funnel.capture.leads.add_as_contact": lambda a: add_as_contact(session, LeadInput(name="z", phone="13900009999"), customer_id=cid, actor=a),
        "funnel.capture.leads.find_duplicate": lambda a: find_duplicate(session, LeadInput(name="z", email="existing@x.cn"), actor=a),
        "funnel.capture.importer.import_file": lambda a: import_file(engine, b"name,email\ny,y@x.cn\n", filename="l.csv", actor=a),
        "funnel.capture.intake.add_source": lambda a: add_source(session, channel="官网", actor=a),
        "funnel.capture.intake.list_sources": lambda a: list_sources(session, actor=a),
        "funnel.capture.intake.revoke_token": lambda a: revoke_token(session, 1, actor=a),
        "funnel.capture.intake.rotate_token": lambda a: rotate_token(session, 1, actor=a),
        "funnel.capture.intake.set_active": lambda a: set_active(session, 1, False, actor=a),
        "funnel.capture.importer.import_rows": lambda a: import_rows(session, [{"name": "y", "email": "y@x.cn"}], actor=a),
        "funnel.customers.edit.assign_customer": lambda a: assign_customer(session, actor=a, customer_id=cid, owner_id=1),
        "funnel.customers.edit.assignable_users": lambda a: assignable_users(session, actor=a),
        "funnel.customers.edit.delete_customer": lambda a: delete_customer(session, actor=a, customer_id=cid),
        "funnel.customers.edit.share_customer": lambda a: share_customer(session, actor=a, customer_id=cid, user_id=1),
        "funnel.customers.edit.unshare_customer": lambda a: unshare_customer(session, actor=a, customer_id=cid, user_id=1),
        "funnel.customers.edit.update_customer": lambda a: update_customer(session, actor=a, changes={"name": "z"}, **edit),
        "funnel.customers.read.customer_detail": lambda a: customer_detail(session, actor=a, customer_id=cid),
        "funnel.customers.read.get_customer": lambda a: get_customer(session, actor=a, customer_id=cid),
        "funnel.customers.read.list_customers": lambda a: list_customers(session, actor=a),
        "funnel.customers.recount.funnel_differences": lambda a: funnel_differences(session, actor=a),
        "funnel.customers.recount.repair_funnel_state": lambda a: repair_funnel_state(session, actor=a),
        "funnel.customers.stages.move_stage": lambda a: move_stage(session, customer_id=cid, to_stage="contact", actor=a),
        "funnel.customers.guidance.customer_activities": lambda a: customer_activities(session, actor=a, customer_id=cid),
        "funnel.customers.guidance.customer_tasks": lambda a: customer_tasks(session, actor=a, customer_id=cid),
        "funnel.customers.guidance.customer_timeline": lambda a: customer_timeline(session, actor=a, customer_id=cid),
        "funnel.customers.guidance.stage_guide": lambda a: stage_guide(session, actor=a, customer_id=cid),
        "funnel.customers.tag_links.add_tags": lambda a: add_tags(session, a, [cid], ["vip"]),
        "funnel.working.contacts.add_contact": lambda a: add_contact(session, actor=a, customer_id=cid, values={"name": "x"}),
        "funnel.working.contacts.edit_contact": lambda a: edit_contact(session, actor=a, customer_id=cid, contact_id=1, values={"name": "x"}, expected_version=1),
        "funnel.working.contacts.list_contacts": lambda a: list_contacts(session, actor=a, customer_id=cid),
        "funnel.working.contacts.remove_contact": lambda a: remove_contact(session, actor=a, customer_id=cid, contact_id=1, expected_version=1),
        "funnel.working.activities.log_activity": lambda a: log_activity(session, actor=a, customer_id=cid, kind="call", note="x"),
        "funnel.working.activities.customer_activities": lambda a: activity_list(session, actor=a, customer_id=cid),
        "funnel.working.call_sync.import_calls": lambda a: import_calls(session, b"time,number\n2026-01-01,13812345678\n", actor=a, filename="c.csv"),
        "funnel.working.call_sync.sync_activity": lambda a: sync_activity(session, {"at": "2026-01-01", "phone": "13812345678"}, actor=a),
        "funnel.working.grading.grading_table": lambda a: grading_table(session, actor=a),
        "funnel.working.grading.set_grade": lambda a: set_grade(session, actor=a, customer_id=cid, grade="A"),
        "funnel.working.grading.set_grades": lambda a: set_grades(session, actor=a, changes=[(cid, "A", 1)]),
        "funnel.working.grading.save_grade_criteria": lambda a: save_grade_criteria(session, actor=a, grade="A", text_en="x", text_zh="x"),
        "funnel.working.qualification.read_qualification": lambda a: read_qualification(session, actor=a, customer_id=cid),
        "funnel.working.qualification.save_qualification": lambda a: save_qualification(session, actor=a, customer_id=cid, expected_version=1, budget_band=None, budget_amount=None, purchase_month=None, use_case=None, competitors=None, decision_process=None),
        "funnel.working.scripts.save_question": lambda a: save_question(session, actor=a, stage="lead", field="needs", text_en="x", text_zh="x"),
        "funnel.working.speed.speed_to_lead": lambda a: speed_to_lead(session, actor=a),
        "funnel.demo.generate.generate_demo": lambda a: generate_demo(engine, leads=1, anchor=date(2026, 1, 1), append=True, actor=a),
    }  # fmt: skip
    from funnel.capture.routing_rules import customer_ids_by_number
    from funnel.closing.imports import import_closing_file

    explicit["funnel.capture.routing_rules.customer_ids_by_number"] = lambda a: customer_ids_by_number(
        session, actor=a, numbers=["C1"]
    )
    explicit["funnel.closing.imports.import_closing_file"] = lambda a: import_closing_file(
        engine, "never-opened.csv", kind="opportunities", actor=a
    )
    # Use cases whose permission check comes first are called with placeholder arguments.
    for name, function in use_cases().items():
        if name not in explicit and name not in ALLOWED_TO_PUBLIC:
            explicit[name] = _generic_call(function, session, engine, cid)
    return explicit


def test_the_public_principal_may_create_a_lead_and_nothing_else(session, customer_id, db_url):
    calls = _calls(session, customer_id, db_url)
    refused = set(use_cases()) - ALLOWED_TO_PUBLIC
    assert set(calls) == refused  # a new use case must be added here (and say what PUBLIC may do)

    wrong = []
    for name in sorted(calls):
        try:
            with session.begin_nested():
                calls[name](PUBLIC)
        except PermissionDenied:
            continue
        except Exception as exc:
            wrong.append(f"{name}: {exc!r} instead of PermissionDenied")
        else:
            wrong.append(f"{name} let the PUBLIC principal through")
    assert wrong == [], "\n".join(wrong)
    lead = create_lead(
        session, LeadInput(name="A prospect", phone="13900002222", channel="官网"), actor=PUBLIC
    )
    assert (lead.owner_id, lead.channel) == (None, "官网")  # routed later: a prospect owns nothing


def test_the_public_principal_sees_no_customer_it_duplicates(session, customer_id):
    from funnel.core.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        create_lead(session, LeadInput(name="Again", email="existing@x.cn"), actor=PUBLIC)
    assert [(e.field, e.code) for e in caught.value.errors] == [("email", "error.duplicate_hidden")]
