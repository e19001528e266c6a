"""Lists and scoring (managers, admins): the managed lists in both languages, the score rules, both AUCs."""

import pandas as pd
import streamlit as st

from funnel.capture.learned_score import MIN_CLOSED, latest_model, retrain_in_background, train
from funnel.capture.scoring import KINDS, Rule, load_rules, save_rules, score_customers
from funnel.core.db import session_scope
from funnel.customers.lists import list_values
from funnel.customers.lists_seed import EDITABLE_LISTS, save_list
from pages._shared import forms
from pages._shared.common import current_language, get_engine, keep_translated_choices, tr
from pages._shared.shell import page_setup

actor = page_setup("lists.manage")
lang = current_language()
keep_translated_choices("lists_pick")
LIST_COLUMNS = ("code", "name_en", "name_zh", "sort_order", "active")
RULE_COLUMNS = ("kind", "arg", "points", "label_en", "label_zh", "active")


def _rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The edited table's rows, dropping the fully empty ones a user adds and leaves."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [row for row in records if any(v not in (None, "", False) for v in row.values())]


st.title(tr("lists.title"))
forms.show_notice()

# One managed list at a time, edited as a table.
list_name: str = st.selectbox(
    tr("lists.list"), EDITABLE_LISTS, format_func=lambda name: tr(f"lists.name.{name}"), key="lists_pick"
)
with forms.guarded_read(), session_scope(get_engine()) as session:
    values = list_values(session, list_name, include_inactive=True)
table = pd.DataFrame(
    [(v.code, v.name_en, v.name_zh, i, v.active) for i, v in enumerate(values)], columns=list(LIST_COLUMNS)
)
edited = st.data_editor(
    table,
    num_rows="dynamic",
    hide_index=True,
    width="stretch",
    key=f"lists_table_{list_name}",
    column_config={
        "code": st.column_config.TextColumn(tr("lists.col.code"), required=True, max_chars=64),
        "name_en": st.column_config.TextColumn(tr("lists.col.name_en"), max_chars=100),
        "name_zh": st.column_config.TextColumn(tr("lists.col.name_zh"), max_chars=100),
        "sort_order": st.column_config.NumberColumn(tr("lists.col.sort_order"), step=1),
        "active": st.column_config.CheckboxColumn(tr("lists.col.active"), default=True),
    },
)
list_slots: forms.Slots = {"form": st.empty()}
list_slots["code"] = list_slots["sort_order"] = list_slots["list_name"] = list_slots["form"]
if st.button(tr("lists.save"), key="lists_save", type="primary"):
    rows = _rows(edited)
    forms.save(
        list_slots,
        lambda s: save_list(s, actor=actor, list_name=list_name, rows=rows),
        notice=tr("lists.saved"),
    )

# The score: the rules and their points, and how well each score has ranked the latest closed deals.
st.subheader(tr("scoring.title"))
with forms.guarded_read(), session_scope(get_engine()) as session:
    rules = load_rules(session, include_inactive=True)
with forms.guarded_read():
    # "By the app when stale": a cheap check here, the retrain (every customer rescored) on its own thread.
    if retrain_in_background(get_engine()):
        st.info(tr("scoring.retraining"))
with forms.guarded_read(), session_scope(get_engine()) as session:
    model = latest_model(session)
    status = (model.auc_learned, model.auc_rule, model.closed, model.trained_at) if model else None
if status is None:
    st.info(tr("scoring.not_trained", threshold=MIN_CLOSED))
else:
    learned, rule_auc, closed, trained_at = status
    left, right = st.columns(2)
    left.metric("AUC · learned", "-" if learned is None else f"{learned:.3f}")
    right.metric("AUC · rules", "-" if rule_auc is None else f"{rule_auc:.3f}")
    st.caption(tr("lists.model_trained", closed=f"{closed:,}", at=trained_at.strftime("%Y-%m-%d %H:%M")))
rules_table = pd.DataFrame(
    [(r.kind, r.arg or "", r.points, r.label_en, r.label_zh, r.active) for r in rules],
    columns=list(RULE_COLUMNS),
)
edited_rules = st.data_editor(
    rules_table,
    num_rows="dynamic",
    hide_index=True,
    width="stretch",
    key="scoring_rules",
    column_config={
        "kind": st.column_config.SelectboxColumn(tr("scoring.col.kind"), options=list(KINDS), required=True),
        "arg": st.column_config.TextColumn(tr("scoring.col.arg")),
        "points": st.column_config.NumberColumn(
            tr("scoring.col.points"), step=1, min_value=-100, max_value=100
        ),
        "label_en": st.column_config.TextColumn(tr("scoring.col.label_en"), max_chars=100),
        "label_zh": st.column_config.TextColumn(tr("scoring.col.label_zh"), max_chars=100),
        "active": st.column_config.CheckboxColumn(tr("scoring.col.active"), default=True),
    },
)
rule_slots: forms.Slots = {"form": st.empty()}
left, right = st.columns(2)
if left.button(tr("scoring.save"), key="scoring_save", type="primary"):
    new_rules = [
        Rule(
            str(row.get("kind") or ""),
            str(row.get("arg") or "") or None,
            int(str(row.get("points") or 0)),
            str(row.get("label_en") or ""),
            str(row.get("label_zh") or ""),
            active=bool(row.get("active", True)),
        )
        for row in _rows(edited_rules)
    ]

    def write_rules(session: object) -> int:
        save_rules(session, actor=actor, rules=new_rules)  # type: ignore[arg-type]
        return score_customers(session)  # type: ignore[arg-type]

    forms.save(rule_slots, write_rules, notice=lambda count: tr("scoring.saved", count=f"{count:,}"))
if right.button(tr("scoring.train"), key="scoring_train"):
    forms.save(rule_slots, lambda s: train(s).trained, notice=tr("lists.scoring_saved"))
