"""What the leads list and the customer page draw: the table, the customer's sections and their forms.

The forms return their slots (where each field's error goes); the customer page writes through the
page kit's one guarded write, pages/_shared/forms.py:save.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import streamlit as st

from funnel.core.export import spreadsheet_safe
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.customers.edit import UserChoice
from funnel.customers.fields import EDITABLE_FIELDS, GRADES
from funnel.customers.guidance import StageGuide, TimelineEntry
from funnel.customers.read import CustomerDetail
from funnel.customers.tags import split_tags
from funnel.pipeline.stages import LOST, WON, Pipeline
from funnel.working.contacts import CONTACT_FIELDS, CONTACT_ROLES, ContactRow
from funnel.working.header import CustomerHeader
from funnel.working.qualification import QUALIFICATION_FIELDS
from pages._shared.common import local_time, md, tr
from pages._shared.forms import Slots

LEADS_PAGE = "pages/leads.py"
CUSTOMER_PAGE = "pages/customer.py"
CUSTOMER_ID_KEY = "customer_id"
EDIT = "cust_edit_{}".format  # widget key of an edit-form field
EDIT_FOR_KEY = "cust_edit_for"  # the customer whose values the edit form holds
VERSION = "cust_version_{}".format  # the version the edit form's values were loaded at
LOADED = "cust_loaded_{}".format  # and the stored values it was filled from (funnel.customers.edit)


def text(value: object, empty: str = "—") -> str:
    """A cell or value as text: "—" for None / NaN, dates without seconds, a tick for True."""
    if isinstance(value, bool | np.bool_):
        return "✓" if value else ""
    if isinstance(value, list | tuple | set | dict):  # an audit change may hold a list (tags, a plan)
        items = value.items() if isinstance(value, dict) else value
        return ", ".join(shown for item in items if (shown := text(item, empty=""))) or empty
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return empty
    if isinstance(value, datetime):
        return f"{local_time(value):%Y-%m-%d %H:%M}"
    if isinstance(value, Decimal | float):
        return f"{value:,.2f}"
    return str(value)


# ---- opening a customer (from the leads list, the board, a drill-down)


def open_customer(customer_id: int) -> None:
    st.session_state[CUSTOMER_ID_KEY] = customer_id
    st.switch_page(CUSTOMER_PAGE, query_params={"id": str(customer_id)})


# ---- the customer page: reading


def chosen_customer_id() -> int | None:
    """The customer the page shows: chosen in the list (session), else named by the link (?id=)."""
    raw = st.session_state.get(CUSTOMER_ID_KEY) or st.query_params.get("id")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def back_to_leads() -> None:
    st.page_link(LEADS_PAGE, label=tr("cust.back"), icon=":material/arrow_back:")


def header(detail: CustomerDetail, facts: CustomerHeader, pipeline: Pipeline, lang: str) -> None:
    fields = detail.fields
    st.subheader(f"{md(detail.customer_no)} · {md(detail.name)}")
    if fields["company"]:
        st.caption(md(fields["company"]))
    st.markdown(
        tr(
            "cust.summary",
            stage=pipeline.name(detail.stage, lang),
            status=tr(f"leads.status.{detail.status}"),
            owner=md(detail.owner) if detail.owner else tr("cust.unowned"),
            grade=text(fields["grade"]),
        )
    )
    score, learned = st.columns(2)
    with score:
        st.markdown(tr("head.score", score=text(facts.score)))
        if facts.score_reasons:
            st.caption(md(facts.score_reasons))
    with learned:
        if facts.win_probability is not None:
            st.markdown(tr("head.win_probability", percent=f"{facts.win_probability:.0%}"))
            if facts.win_reasons:
                st.caption(md(facts.win_reasons))
    if facts.assignment_reason:
        st.caption(tr("head.assigned_because", reason=md(facts.assignment_reason)))
    st.caption(
        tr("head.tags", tags=" · ".join(md(name) for name in facts.tag_names) if facts.tag_names else "—")
    )
    dates = (detail.created_at, detail.first_contacted_at, detail.closed_at)
    st.caption(
        tr("cust.dates", **dict(zip(("created", "first_contact", "closed"), map(text, dates), strict=True)))
    )
    if detail.first_contact_overdue:
        st.error(
            tr("cust.overdue", hours=get_settings().first_contact_sla_hours), icon=":material/timer_off:"
        )
    if detail.status == LOST and facts.lost_reason:
        st.warning(tr("cust.lost_because", reason=md(facts.lost_reason)))
    if detail.shared_with:
        st.caption(tr("cust.shared_with", names=", ".join(detail.shared_with)))


def tag_form(facts: CustomerHeader) -> tuple[bool, list[str], Slots]:
    """The customer's tags: the library's as a choice, free ones typed when allowed; (submitted, names)."""
    options = facts.tag_options
    slots: Slots = {}
    with st.form("cust_tags_form", enter_to_submit=False):
        chosen = st.multiselect(
            tr("head.tags.choose"),
            list(options),
            default=[code for code in facts.tag_codes if code in options],
            format_func=lambda code: options.get(code, code),
            key="cust_tags",
        )
        typed = ""
        if facts.free_tags:
            typed = st.text_input(tr("head.tags.free"), key="cust_tags_free", placeholder="高意向, VIP")
        slots["tags"] = st.empty()
        slots["form"] = st.empty()
        submitted = st.form_submit_button(tr("head.tags.save"), key="cust_tags_submit")
    names = [*chosen, *(part for part in split_tags(typed))]
    return submitted, names, slots


def table(frame: pd.DataFrame, prefix: str, key: str) -> None:
    """A read-only table with translated headers and no "None" cells."""
    shown = frame.map(text) if not frame.empty else frame
    shown = shown.rename(columns={c: tr(f"{prefix}.{c}") for c in frame.columns})
    st.dataframe(spreadsheet_safe(shown), hide_index=True, width="stretch", key=key)


# The edit form's fields: the editable ones less the qualification (its own structured form,
# pages/_shared/qualify_parts.py) and the tags (the header's tag form, linked to the tag library).
FORM_FIELDS = tuple(
    name for name in EDITABLE_FIELDS if name not in (*QUALIFICATION_FIELDS, "tags")
)  # fmt: skip


def details(detail: CustomerDetail) -> None:
    """The editable fields, read-only (for roles that may not edit)."""
    st.subheader(tr("cust.details"))
    left, right = st.columns(2)
    for i, name in enumerate(FORM_FIELDS):
        (left if i < 6 else right).markdown(
            f"**{tr(f'cust.field.{name}').rstrip(' *')}:** {md(text(detail.fields[name]))}"
        )


def history(
    detail: CustomerDetail, audit: pd.DataFrame, pipeline: Pipeline, lang: str, reasons: Reasons | None = None
) -> None:
    st.subheader(tr("cust.history"))
    events = pd.DataFrame(
        {
            tr("cust.col.at"): [text(v) for v in detail.stage_events["at"]],
            tr("cust.col.from"): [
                pipeline.name(k, lang) if isinstance(k, str) else "—"
                for k in detail.stage_events["from_stage"]
            ],
            tr("cust.col.to"): [pipeline.name(k, lang) for k in detail.stage_events["to_stage"]],
            tr("cust.col.by"): [text(v, tr("cust.system")) for v in detail.stage_events["by"]],
        }
    )
    st.markdown(f"**{tr('cust.stage_events')}**")
    st.dataframe(spreadsheet_safe(events), hide_index=True, width="stretch", key="cust_stage_events")
    st.markdown(f"**{tr('cust.audit')}**")
    if audit.empty:
        st.caption(tr("cust.no_audit"))
    else:
        st.dataframe(
            spreadsheet_safe(audit_view(audit, pipeline, lang, reasons)),
            hide_index=True,
            width="stretch",
            key="cust_audit",
        )


def audit_view(
    audit: pd.DataFrame, pipeline: Pipeline, lang: str, reasons: Reasons | None = None
) -> pd.DataFrame:
    """The audit rows as sentences a rep can read: when, who, what, field: old → new."""
    names = {"lost_reason": reasons.lost, "reopen_reason": reasons.reopen} if reasons else {}

    def value(field: str, raw: object) -> str:
        if field in names and isinstance(raw, str):
            return names[field].get(raw, raw)  # a list's code by its name; old free text as typed
        if field == "stage" and isinstance(raw, str):
            return pipeline.name(raw, lang)
        if field == "status" and isinstance(raw, str):
            return t(f"leads.status.{raw}", lang)
        return text(raw)

    return pd.DataFrame(
        {
            tr("cust.col.at"): [text(v) for v in audit["at"]],
            tr("cust.col.by"): [text(v, tr("cust.system")) for v in audit["user"]],
            tr("cust.col.action"): [tr(f"cust.action.{a}") for a in audit["action"]],
            tr("cust.col.field"): [tr(f"cust.field.{f}").rstrip(" *") if f else "" for f in audit["field"]],
            tr("cust.col.change"): [
                f"{value(f, old)} → {value(f, new)}" if f else ""
                for f, old, new in zip(audit["field"], audit["old"], audit["new"], strict=True)
            ],
        }
    )


# ---- the customer page: writing


def forget_edit_form() -> None:
    """Load the stored values into the edit form again on the next run (after a save, or to discard)."""
    st.session_state.pop(EDIT_FOR_KEY, None)


def edit_form(detail: CustomerDetail) -> tuple[bool, dict[str, object], int, dict[str, object], Slots]:
    """The edit form, holding the values (and version) it was loaded with until saved or discarded;
    returns (submitted, the form's values, the version and the values it was loaded with, slots)."""
    if st.session_state.get(EDIT_FOR_KEY) != detail.id or any(
        EDIT(name) not in st.session_state for name in FORM_FIELDS
    ):
        for name in FORM_FIELDS:
            st.session_state[EDIT(name)] = detail.fields[name] or ""
        st.session_state[VERSION(detail.id)] = detail.version
        st.session_state[LOADED(detail.id)] = {name: detail.fields[name] for name in FORM_FIELDS}
        st.session_state[EDIT_FOR_KEY] = detail.id
    slots: Slots = {}
    st.subheader(tr("cust.details"))
    with st.form("cust_edit_form", enter_to_submit=False):
        left, right = st.columns(2)
        for i, name in enumerate(FORM_FIELDS):
            column = left if i < 3 else right
            label = tr(f"cust.field.{name}")
            if name == "grade":
                column.selectbox(label, ["", *GRADES], format_func=lambda g: g or "—", key=EDIT(name))
            else:
                column.text_input(label, key=EDIT(name))
            slots[name] = column.empty()
        slots["form"] = st.empty()
        submitted = st.form_submit_button(tr("cust.save"), key="cust_edit_submit", type="primary")
    st.button(tr("cust.discard"), key="cust_edit_discard", type="tertiary", on_click=forget_edit_form)
    values = {name: st.session_state.get(EDIT(name)) for name in FORM_FIELDS}
    loaded = st.session_state.get(LOADED(detail.id), {})
    return submitted, values, st.session_state[VERSION(detail.id)], loaded, slots


@dataclass(frozen=True)
class Reasons:
    """The managed lists a stage move picks its reason from: code -> name in the reader's language."""

    lost: dict[str, str]
    reopen: dict[str, str]


def stage_form(
    detail: CustomerDetail, reasons: Reasons, pipeline: Pipeline, lang: str
) -> tuple[bool, str, dict[str, str | None], Slots]:
    """Move to a stage or an outcome; returns (submitted, target, the reasons and notes, slots).

    Losing it takes a reason of the list (and a note for "other"); a lost customer moved back to a
    stage takes a reopen reason: those fields show only for a customer that is lost.
    """
    options = [*pipeline.keys, WON, LOST]
    current = detail.current_stage
    slots: Slots = {}
    given: dict[str, str | None] = {}
    st.subheader(tr("cust.move"))
    with st.form("cust_move_form", enter_to_submit=False):
        left, right = st.columns(2)
        target = left.selectbox(
            tr("cust.move_to"),
            options,
            index=options.index(current) if current in options else 0,
            format_func=lambda key: pipeline.name(key, lang),
            key="cust_move_to",
        )
        slots["stage"] = left.empty()
        if detail.status == LOST:
            given["reopen_reason"] = right.selectbox(
                tr("cust.reopen_reason"),
                list(reasons.reopen),
                index=None,
                placeholder=tr("cust.reason.choose"),
                format_func=lambda code: reasons.reopen.get(code, code),
                key="cust_reopen_reason",
            )
            slots["reopen_reason"] = right.empty()
            given["reopen_note"] = right.text_input(tr("cust.reopen_note"), key="cust_reopen_note")
            slots["reopen_note"] = right.empty()
        else:
            given["lost_reason"] = right.selectbox(
                tr("cust.lost_reason"),
                list(reasons.lost),
                index=None,
                placeholder=tr("cust.reason.choose"),
                format_func=lambda code: reasons.lost.get(code, code),
                key="cust_lost_reason",
            )
            slots["lost_reason"] = right.empty()
            given["lost_note"] = right.text_input(
                tr("cust.lost_note"), key="cust_lost_note", placeholder=tr("cust.lost_reason.placeholder")
            )
            slots["lost_note"] = right.empty()
        slots["form"] = st.empty()
        submitted = st.form_submit_button(tr("cust.move_submit"), key="cust_move_submit")
    return submitted, str(target), given, slots


USER_CHOICES = {
    "cust_assign": ("cust.assign_to", "cust.assign_submit"),
    "cust_share": ("cust.share_with", "cust.share_submit"),
    "cust_unshare": ("cust.unshare_from", "cust.unshare_submit"),
}


def user_choice(key: str, users: list[UserChoice], lang: str) -> tuple[UserChoice | None, Slots]:
    """The assign or share form (`key` in USER_CHOICES); returns the user chosen when submitted."""
    label, button = (tr(k) for k in USER_CHOICES[key])
    by_id = {user.id: user for user in users}
    with st.form(f"{key}_form", enter_to_submit=False):
        if not users:
            st.caption(tr("cust.no_users"))
        chosen = st.selectbox(
            label,
            list(by_id),
            index=None,
            placeholder=tr("cust.choose_user"),
            format_func=lambda uid: f"{by_id[uid].display_name} · {t(f'role.{by_id[uid].role}', lang)}",
            key=key,
        )
        slots: Slots = {"form": st.empty()}
        submitted = st.form_submit_button(button, key=f"{key}_submit", disabled=not users)
    return (by_id.get(chosen) if submitted and chosen is not None else None), slots


def stage_path(guide: StageGuide, pipeline: Pipeline, lang: str) -> None:
    """Every stage in a row: reached or not, when the customer got there, days in the current one."""
    columns = st.columns(len(guide.path))
    for column, step in zip(columns, guide.path, strict=True):
        mark = "●" if step.current else ("✓" if step.reached else "○")
        when = local_time(step.reached_at).strftime("%Y-%m-%d") if step.reached_at else "—"
        column.markdown(f"**{mark} {md(pipeline.name(step.key, lang))}**")
        column.caption(when)
        if step.current and guide.days_in_stage is not None:
            column.caption(tr("guide.days_in_stage", days=guide.days_in_stage))


def red_flags(guide: StageGuide) -> None:
    for flag in guide.red_flags:
        st.error(tr(flag, hours=get_settings().first_contact_sla_hours), icon=":material/flag:")


def guidance_panel(guide: StageGuide, pipeline: Pipeline, lang: str) -> None:
    """The stage's state, key actions, exit criteria (filled or not) and the suggested next steps."""
    guidance = guide.guidance
    with st.container(border=True):
        st.markdown(f"**{tr('guide.title', stage=pipeline.name(guide.stage, lang))}**")
        if guidance.state_text(lang):
            st.caption(md(guidance.state_text(lang)))
        actions = guidance.action_texts(lang)
        if actions:
            st.markdown(tr("guide.actions") + "\n" + "\n".join(f"- {md(a)}" for a in actions))
        if guidance.exit_fields:
            marks = [
                f"{'✗' if name in guide.missing_fields else '✓'} {tr(f'cust.field.{name}')}"
                for name in guidance.exit_fields
            ]
            st.markdown(tr(f"guide.exit.{guidance.mode}") + " " + " · ".join(marks))
        for step in guide.next_steps:
            params = dict(step.params)
            if "field" in params:
                params["field"] = tr(f"cust.field.{params['field']}")
            if step.kind == "next.action":
                params["action"] = actions[int(params.pop("index"))] if actions else ""
            st.markdown(f":material/arrow_forward: {tr(step.kind, **params)}")


def contact_rows(contacts: list[ContactRow]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            tr("contact.name"): [c.name for c in contacts],
            tr("contact.title"): [text(c.title) for c in contacts],
            tr("contact.role"): [
                tr(f"contact.role.{c.role}") + (" ★" if c.is_primary else "") for c in contacts
            ],
            tr("contact.phone"): [text(c.phone) for c in contacts],
            tr("contact.email"): [text(c.email) for c in contacts],
            tr("contact.wechat"): [text(c.wechat) for c in contacts],
        }
    )


CONTACT = "contact_{}".format  # widget key of a contact-form field


def contact_form(contact: ContactRow | None) -> tuple[bool, dict[str, object], Slots]:
    """Add a contact (None) or edit one; returns (submitted, values, slots)."""
    suffix = "new" if contact is None else str(contact.id)
    slots: Slots = {}
    with st.form(f"contact_form_{suffix}", enter_to_submit=False):
        left, right = st.columns(2)
        values: dict[str, object] = {}
        for i, name in enumerate(CONTACT_FIELDS):
            column = left if i % 2 == 0 else right
            default = "" if contact is None else (getattr(contact, name) or "")
            values[name] = column.text_input(
                tr(f"contact.{name}"), value=default, key=CONTACT(f"{name}_{suffix}")
            )
            slots[name] = column.empty()
        values["role"] = left.selectbox(
            tr("contact.role"),
            CONTACT_ROLES,
            index=CONTACT_ROLES.index(contact.role) if contact is not None else len(CONTACT_ROLES) - 1,
            format_func=lambda role: tr(f"contact.role.{role}"),
            key=CONTACT(f"role_{suffix}"),
        )
        slots["role"] = left.empty()
        values["is_primary"] = right.checkbox(
            tr("contact.is_primary"),
            value=bool(contact and contact.is_primary),
            key=CONTACT(f"is_primary_{suffix}"),
        )
        slots["is_primary"] = right.empty()
        slots["form"] = st.empty()
        label = tr("contact.add") if contact is None else tr("contact.save")
        submitted = st.form_submit_button(label, key=CONTACT(f"submit_{suffix}"))
    return submitted, values, slots


def simple_rows(frame: pd.DataFrame, key: str) -> None:
    """A read-only list (activities, tasks) until their own sections replace it."""
    if frame.empty:
        st.caption(tr("cust.nothing_yet"))
    else:
        st.dataframe(frame, hide_index=True, key=key)


def timeline_rows(
    entries: list[TimelineEntry], pipeline: Pipeline | None = None, lang: str = "en"
) -> pd.DataFrame:
    """Timeline entries (or activities) as a table, in the reader's time zone."""

    def what(entry: TimelineEntry) -> str:
        if entry.kind == "stage" and pipeline is not None:
            return pipeline.name(entry.text, lang)
        return entry.text

    return pd.DataFrame(
        {
            tr("timeline.at"): [local_time(e.at).strftime("%Y-%m-%d %H:%M") for e in entries],
            tr("timeline.kind"): [tr(f"timeline.kind.{e.kind}") for e in entries],
            tr("timeline.who"): [text(e.who) for e in entries],
            tr("timeline.what"): [what(e) for e in entries],
        }
    )


def task_rows(tasks: list[tuple[str, datetime, datetime | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            tr("cust.task.title"): [title for title, _, _ in tasks],
            tr("task.due"): [local_time(due).strftime("%Y-%m-%d %H:%M") for _, due, _ in tasks],
            tr("cust.task.done"): [
                local_time(d).strftime("%Y-%m-%d %H:%M") if d else "—" for _, _, d in tasks
            ],
        }
    )
