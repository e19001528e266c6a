"""Tasks on a page: a customer's task list (overdue in red), planning one with quick presets, and
done / snooze / reassign; the timers run quietly when My day or the inbox opens."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from funnel.access.permissions import Actor, allowed
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.core.export import spreadsheet_safe
from funnel.timers.engine import run_timers_if_due
from funnel.working.tasks import (
    SNOOZE_PRESETS,
    TASK_KINDS,
    TaskRow,
    complete_task,
    create_task,
    customer_tasks,
    preset_due,
    reassign_task,
    snooze_task,
    task_owners,
)
from pages._shared import forms
from pages._shared.common import browser_zone, get_engine, keep_translated_choices, local_time, tr

log = logging.getLogger(__name__)
RED = "color: #d62728; font-weight: 600"
CUSTOM = "custom"  # the "pick a date and time" choice beside the presets
KEY = "task_{}".format  # widget keys of the task section


def run_timers_quietly() -> None:
    """Run the timer engine (at most once a minute per server); a failure is a message, never a traceback."""
    try:
        run_timers_if_due(get_engine())
    except Exception:
        log.exception("the timers failed when a page opened")
        st.warning(tr("myday.timers_failed"), icon=":material/timer_off:")


def shown_time(value: datetime) -> str:
    return f"{local_time(value):%Y-%m-%d %H:%M}"


def task_table(rows: Sequence[TaskRow], *, with_customer: bool = False) -> tuple[Any, dict[str, Any]]:
    """Tasks as a table (due time in the reader's zone, kind by name, overdue in red) and its columns."""
    columns = ["due_at", "title", "kind", "owner", "status", *(["customer"] if with_customer else [])]
    frame = pd.DataFrame(
        {
            "due_at": [shown_time(r.due_at) for r in rows],
            "title": [r.title for r in rows],
            "kind": [tr(f"task.kind.{r.kind}") if r.kind in TASK_KINDS else r.kind for r in rows],
            "owner": [r.owner or "—" for r in rows],
            "status": [tr(f"task.status.{_status(r)}") for r in rows],
            "customer": [f"{r.customer_no} · {r.customer_name}" if r.customer_no else "—" for r in rows],
        }
    )[columns]
    overdue = [r.overdue for r in rows]
    config = {name: st.column_config.TextColumn(tr(f"task.col.{name}")) for name in columns}
    styled = spreadsheet_safe(frame).style.apply(
        lambda column: [RED if late else "" for late in overdue], subset=["due_at", "status"]
    )
    return styled, config


def _status(row: TaskRow) -> str:
    return "done" if row.done_at else "overdue" if row.overdue else "open"


def _due_from(choice: str, day: date | None, at: time | None) -> datetime | None:
    """The due time chosen: a preset, or a date and time on the reader's clock (as naive UTC)."""
    if choice != CUSTOM:
        return preset_due(choice, utcnow())
    if day is None or at is None:
        return None  # create_task names the field
    return datetime.combine(day, at, tzinfo=browser_zone()).astimezone(UTC).replace(tzinfo=None)


def task_section(actor: Actor, customer_id: int) -> None:
    """A customer's tasks: the list, and for those who work it, plan / done / snooze / reassign."""
    st.subheader(tr("task.section"))
    with forms.guarded_read(), session_scope(get_engine()) as session:
        rows = customer_tasks(session, actor=actor, customer_id=customer_id)
        may_work = allowed(actor, "task.work")
        owners = dict(task_owners(session, actor=actor, customer_id=customer_id)) if may_work else {}
    if rows:
        styled, config = task_table(rows)
        st.dataframe(styled, column_config=config, hide_index=True, width="stretch", key=KEY("list"))
    else:
        st.caption(tr("task.none"))
    if not may_work:
        if rows:
            st.caption(tr("task.read_only"))
        return
    open_rows = [r for r in rows if r.done_at is None]
    if open_rows:
        _act_form(actor, open_rows, owners)
    _add_form(actor, customer_id, owners)


def _add_form(actor: Actor, customer_id: int, owners: dict[int, str]) -> None:
    keep_translated_choices(KEY("kind"), KEY("when"))
    slots: forms.Slots = {}
    st.markdown(f"**{tr('task.add')}**")
    with st.form(KEY("add_form"), enter_to_submit=False):
        left, right = st.columns(2)
        left.text_input(
            tr("task.title"), key=KEY("title"), max_chars=300, placeholder=tr("task.title.placeholder")
        )
        slots["title"] = left.empty()
        left.selectbox(
            tr("task.kind"), TASK_KINDS, format_func=lambda k: tr(f"task.kind.{k}"), key=KEY("kind")
        )
        slots["kind"] = left.empty()
        right.radio(
            tr("task.when"),
            [*SNOOZE_PRESETS, CUSTOM],
            format_func=lambda p: tr(f"task.preset.{p}"),
            horizontal=True,
            key=KEY("when"),
        )
        day_col, time_col = right.columns(2)
        day_col.date_input(tr("task.date"), value=date.today() + timedelta(days=1), key=KEY("date"))
        time_col.time_input(tr("task.time"), value=time(9), key=KEY("time"), step=timedelta(minutes=15))
        slots["due_at"] = right.empty()
        if len(owners) > 1:
            right.selectbox(
                tr("task.owner"),
                list(owners),
                format_func=lambda uid: owners.get(uid, str(uid)),
                key=KEY("owner"),
            )
            slots["owner_id"] = right.empty()
        slots["form"] = st.empty()
        submitted = st.form_submit_button(tr("task.add_submit"), key=KEY("add_submit"), type="primary")
    if not submitted:
        return
    state = st.session_state
    title = str(state.get(KEY("title")) or "")
    due = _due_from(state.get(KEY("when"), SNOOZE_PRESETS[0]), state.get(KEY("date")), state.get(KEY("time")))
    kind, owner_id = state.get(KEY("kind"), TASK_KINDS[0]), state.get(KEY("owner"))
    forms.save(
        slots,
        lambda s: (
            create_task(
                s, actor=actor, title=title, due_at=due, customer_id=customer_id, kind=kind, owner_id=owner_id
            ).title
        ),
        notice=lambda saved: tr("task.added", title=saved),
        then=lambda _: st.session_state.pop(KEY("title"), None),
        failed="task.save_failed",
    )


def _act_form(actor: Actor, open_rows: list[TaskRow], owners: dict[int, str]) -> None:
    keep_translated_choices(KEY("snooze"))
    by_id = {r.id: r for r in open_rows}
    slots: forms.Slots = {}
    with st.form(KEY("act_form"), enter_to_submit=False):
        st.selectbox(
            tr("task.pick"),
            list(by_id),
            format_func=lambda tid: f"{shown_time(by_id[tid].due_at)} · {by_id[tid].title}",
            key=KEY("pick"),
        )
        slots["form"] = st.empty()
        done_col, snooze_col, owner_col = st.columns(3)
        done = done_col.form_submit_button(tr("task.done"), key=KEY("done_submit"))
        snooze_col.selectbox(
            tr("task.snooze"), SNOOZE_PRESETS, format_func=lambda p: tr(f"task.preset.{p}"), key=KEY("snooze")
        )
        slots["due_at"] = snooze_col.empty()
        snooze = snooze_col.form_submit_button(tr("task.snooze_submit"), key=KEY("snooze_submit"))
        reassign = False
        if len(owners) > 1:
            owner_col.selectbox(
                tr("task.reassign_to"),
                list(owners),
                format_func=lambda uid: owners.get(uid, str(uid)),
                key=KEY("reassign_to"),
            )
            slots["owner_id"] = owner_col.empty()
            reassign = owner_col.form_submit_button(tr("task.reassign_submit"), key=KEY("reassign_submit"))
    task_id = st.session_state.get(KEY("pick"))
    if task_id not in by_id:
        return
    title = by_id[task_id].title
    if done:
        forms.save(
            slots,
            lambda s: complete_task(s, actor=actor, task_id=task_id),
            notice=tr("task.done_ok", title=title),
            failed="task.save_failed",
        )
    elif snooze:
        preset = st.session_state.get(KEY("snooze"), SNOOZE_PRESETS[0])
        forms.save(
            slots,
            lambda s: snooze_task(s, actor=actor, task_id=task_id, preset=preset).due_at,
            notice=lambda due: tr("task.snoozed", title=title, due=shown_time(due)),
            failed="task.save_failed",
        )
    elif reassign:
        owner_id = int(st.session_state[KEY("reassign_to")])
        forms.save(
            slots,
            lambda s: reassign_task(s, actor=actor, task_id=task_id, owner_id=owner_id),
            notice=tr("task.reassigned", title=title, owner=owners.get(owner_id, "")),
            failed="task.save_failed",
        )
