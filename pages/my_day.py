"""My day: overdue tasks (red), due today, first contacts with the time left, the A list, unread
notifications — a row opens its customer. A manager also sees the team: SLA breaches, speed to lead and
overdue tasks per rep."""

from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from funnel.access.permissions import allowed
from funnel.core.db import session_scope
from funnel.core.export import spreadsheet_safe
from funnel.core.settings import get_settings
from funnel.inbox.notify import mark_read
from funnel.timers.my_day import TEAM_DAYS, my_day, team_day
from pages._shared import customer_parts as parts
from pages._shared import forms
from pages._shared import task_parts as tasks
from pages._shared.common import current_language, get_engine, tr
from pages._shared.shell import page_setup

actor = page_setup("customer.read")
lang = current_language()
st.title(tr("myday.title"))
st.caption(tr("myday.intro"))
forms.show_notice()
tasks.run_timers_quietly()  # what became due since the last run shows on this very page

is_manager = allowed(actor, "customer.assign")
with forms.guarded_read(), session_scope(get_engine()) as session:
    day = my_day(session, actor=actor, lang=lang)
    team = team_day(session, actor=actor) if is_manager else None


def time_left(left: timedelta) -> str:
    minutes = int(abs(left).total_seconds() // 60)
    span = tr("myday.span", hours=minutes // 60, minutes=minutes % 60)
    return tr("myday.late_by", span=span) if left < timedelta(0) else tr("myday.left", span=span)


def clickable(key: str, shown: Any, config: dict[str, Any], customer_ids: list[int | None]) -> None:
    """A table whose selected row opens that row's customer."""
    event = st.dataframe(
        shown,
        column_config=config,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=key,
    )
    if event.selection.rows:
        chosen = customer_ids[event.selection.rows[0]]
        if chosen is not None:
            parts.open_customer(chosen)


metrics = st.columns(5)
metrics[0].metric(tr("myday.overdue"), len(day.overdue))
metrics[1].metric(tr("myday.due_today"), len(day.due_today))
metrics[2].metric(tr("myday.first_contacts"), len(day.first_contacts))
metrics[3].metric(tr("myday.a_list"), len(day.a_list))
metrics[4].metric(tr("myday.unread"), len(day.unread))
st.caption(tr("myday.click"))

for key, title, rows in (
    ("myday_overdue", "myday.overdue", day.overdue),
    ("myday_today", "myday.due_today", day.due_today),
):
    st.subheader(tr(title))
    if rows:
        shown, config = tasks.task_table(rows, with_customer=True)
        clickable(key, shown, config, [r.customer_id for r in rows])
    else:
        st.caption(tr("myday.nothing"))

st.subheader(tr("myday.first_contacts"))
if day.first_contacts:
    pending = pd.DataFrame(
        {
            "customer": [f"{p.customer_no} · {p.name}" for p in day.first_contacts],
            "created_at": [tasks.shown_time(p.created_at) for p in day.first_contacts],
            "deadline": [tasks.shown_time(p.deadline) for p in day.first_contacts],
            "time_left": [time_left(p.time_left) for p in day.first_contacts],
        }
    )
    late = [p.overdue for p in day.first_contacts]
    shown = spreadsheet_safe(pending).style.apply(
        lambda column: [tasks.RED if flag else "" for flag in late], subset=["time_left"]
    )
    config = {c: st.column_config.TextColumn(tr(f"myday.col.{c}")) for c in pending.columns}
    clickable("myday_first_contacts", shown, config, [p.customer_id for p in day.first_contacts])
    st.caption(tr("myday.sla", hours=get_settings().first_contact_sla_hours))
else:
    st.caption(tr("myday.nothing"))

st.subheader(tr("myday.a_list"))
if day.a_list:
    a_frame = pd.DataFrame(
        {
            "customer": [f"{c.customer_no} · {c.name}" for c in day.a_list],
            "company": [c.company or "—" for c in day.a_list],
        }
    )
    config = {c: st.column_config.TextColumn(tr(f"myday.col.{c}")) for c in a_frame.columns}
    clickable("myday_a_list", spreadsheet_safe(a_frame), config, [c.customer_id for c in day.a_list])
else:
    st.caption(tr("myday.nothing"))

st.subheader(tr("myday.unread"))
if day.unread:
    notes = pd.DataFrame(
        {
            "at": [tasks.shown_time(n.created_at) for n in day.unread],
            "message": [n.text for n in day.unread],
            "customer": [n.customer_no or "—" for n in day.unread],
        }
    )
    config = {c: st.column_config.TextColumn(tr(f"myday.col.{c}")) for c in notes.columns}
    clickable("myday_unread", spreadsheet_safe(notes), config, [n.customer_id for n in day.unread])
    shown_ids = [n.id for n in day.unread]
    reader = actor.user_id
    if st.button(tr("myday.mark_read"), key="myday_mark_read") and reader is not None:
        reader_id: int = reader
        forms.save(
            {"form": st.empty()},
            lambda s: mark_read(s, reader_id, shown_ids),
            notice=lambda count: tr("myday.marked_read", count=count),
            areas=(),
        )
else:
    st.caption(tr("myday.nothing"))

if team is not None:
    st.subheader(tr("myday.team"))
    if team.empty:
        st.caption(tr("myday.nothing"))
    else:
        view = team.drop(columns=["rep_id"]).assign(
            median_minutes_to_contact=[
                "—" if pd.isna(v) else f"{v:,.0f}" for v in team["median_minutes_to_contact"]
            ]
        )
        view = spreadsheet_safe(view).rename(columns={c: tr(f"myday.team.{c}") for c in view.columns})
        st.dataframe(view, hide_index=True, width="stretch", key="myday_team")
        st.caption(tr("myday.team.note", days=TEAM_DAYS))
