"""Board: the open customers by pipeline stage, a column each, with the leads list's filters (in the URL).

Counts and amounts cover everything the filter matches; each column shows its first cards and how many
more there are. A card moves one stage on or back through the one stage move (exit criteria included).
"""

from dataclasses import replace

import streamlit as st
from sqlalchemy.orm import Session

from funnel.core.db import session_scope
from funnel.core.errors import FORM, FieldError, ValidationError
from funnel.core.i18n import t
from funnel.customers.read import board, get_customer
from funnel.customers.stages import customer_values, move_stage
from funnel.pipeline.rules import exit_warnings
from funnel.pipeline.stages import get_pipeline
from pages._shared import customer_parts as parts
from pages._shared import leads_parts as leads
from pages._shared.common import current_language, get_engine, md, tr
from pages._shared.forms import guarded_read, save, show_notice
from pages._shared.shell import page_setup

actor = page_setup("customer.read")
pipeline, lang = get_pipeline(), current_language()
st.title(tr("board.title"))
st.caption(tr("board.intro"))
show_notice()

with guarded_read(), session_scope(get_engine()) as session:
    chosen = leads.filter_bar(session, "board", actor=actor, pipeline=pipeline, lang=lang, with_status=False)
if st.button(tr("board.list"), key="board_to_list", icon=":material/table_rows:"):
    leads.switch_view("pages/leads.py", "leads", chosen)
if chosen.problems:
    for problem in chosen.problems:
        st.error(problem, icon=":material/error:")
    st.stop()
per_column = int(
    st.number_input(
        tr("board.per_column"), min_value=1, max_value=50, value=10, step=1, key="board_per_column"
    )
)
stages = [key for key in pipeline.keys if not chosen.filters.stages or key in chosen.filters.stages]
with guarded_read(), session_scope(get_engine()) as session:
    columns = board(
        session,
        actor=actor,
        stages=stages,
        search=chosen.search,
        filters=chosen.filters,
        per_column=per_column,
        sort=chosen.sort,
    )

slot = st.empty()  # where a refused move says why


def labelled(error: FieldError) -> FieldError:
    """`error` with the field it names (an exit field) given by its label in the reader's language."""
    if "field" not in error.params:
        return error
    return replace(error, params={**error.params, "field": t(f"field.{error.params['field']}", lang)})


def move(customer_id: int, number: str, version: int, stage: str, to: str) -> None:
    """Move one card through the stage move use case; warn of exit fields a warn-mode stage leaves empty."""

    def write(session: Session) -> list[str]:
        customer = get_customer(session, actor=actor, customer_id=customer_id)
        missing = exit_warnings(
            pipeline, stage=customer.stage, status=customer.status, to=to, values=customer_values(customer)
        )
        try:
            move_stage(session, customer_id=customer_id, to_stage=to, actor=actor, expected_version=version)
        except ValidationError as exc:  # a card has no field to show it under: name the field by its label
            raise ValidationError([labelled(error) for error in exc.errors]) from exc
        return missing

    def notice(missing: list[str]) -> str:
        text = tr("board.moved", customer_no=number, stage=pipeline.name(to, lang))
        if missing:
            fields = ", ".join(tr(f"field.{name}") for name in missing)
            text += "  \n" + tr("board.exit_warning", stage=pipeline.name(stage, lang), fields=fields)
        return text

    save({FORM: slot}, write, notice=notice, stale_record=number)


for column, place in zip(columns, st.columns(len(columns)), strict=True):
    with place:
        st.markdown(f"**{md(pipeline.name(column.stage, lang))}**")
        st.caption(tr("board.column", count=column.count, amount=f"{column.amount:,.0f}"))
        if column.cards.empty:
            st.caption(tr("board.empty"))
        rank = pipeline.keys.index(column.stage)
        for card in column.cards.to_dict("records"):
            cid, number, version = int(card["id"]), str(card["customer_no"]), int(card["version"])
            with st.container(border=True):
                st.markdown(f"**{md(card['name'])}**")
                st.caption(md(number))
                grade = card["grade"] or "—"
                score = "—" if card["score"] is None or card["score"] != card["score"] else int(card["score"])
                owner = card["owner"] or tr("board.unowned")
                st.caption(tr("board.card.meta", owner=owner, grade=grade, score=score))
                amount = "—" if card["amount"] != card["amount"] else f"{card['amount']:,.0f}"
                days = leads.days_in_stage(card["stage_since"])
                st.caption(tr("board.card.amount", amount=amount, days="—" if days is None else days))
                if card["first_contact_overdue"]:
                    st.markdown(f":red[{tr('leads.overdue')}]")
                if card["task_overdue"]:
                    st.markdown(f":red[{tr('flag.task_overdue')}]")
                if st.button(tr("board.card.open"), key=f"board_open_{cid}"):
                    parts.open_customer(cid)
                if rank + 1 < len(pipeline.keys):
                    to = pipeline.keys[rank + 1]
                    if st.button(
                        tr("board.card.next", stage=pipeline.name(to, lang)), key=f"board_next_{cid}"
                    ):
                        move(cid, number, version, column.stage, to)
                if rank > 0:
                    back = pipeline.keys[rank - 1]
                    if st.button(
                        tr("board.card.back", stage=pipeline.name(back, lang)), key=f"board_back_{cid}"
                    ):
                        move(cid, number, version, column.stage, back)
        if column.more:
            st.caption(tr("board.more", count=column.more))
