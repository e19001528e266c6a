"""A/B/C grading: the open customers in qualification (or any filter) with the facts that matter, graded
in one editable table; each grade's criteria beside it (managers edit them); speed to lead below."""

import pandas as pd
import streamlit as st

from funnel.access.permissions import allowed
from funnel.capture.import_parsing import ImportFileError
from funnel.core.db import session_scope
from funnel.customers.fields import GRADES
from funnel.customers.lists import labels
from funnel.pipeline.stages import get_pipeline
from funnel.working.call_sync import import_calls
from funnel.working.grading import grade_criteria, grading_table, save_grade_criteria, set_grades
from funnel.working.qualification import BUDGET_BAND
from funnel.working.scripts import SCRIPT_FIELDS, save_question
from funnel.working.speed import speed_to_lead
from pages._shared import forms
from pages._shared.common import current_language, get_engine, md, tr
from pages._shared.shell import page_setup

actor = page_setup("customer.read")
pipeline, lang = get_pipeline(), current_language()
st.title(tr("grade.title"))
forms.show_notice()
stages = ["", *pipeline.keys]
left, middle, band_col, right = st.columns(4)
stage = left.selectbox(
    tr("grade.stage"), stages, index=stages.index("qualify") if "qualify" in stages else 0,
    format_func=lambda k: pipeline.name(k, lang) if k else tr("grade.any"), key="grade_stage",
)  # fmt: skip
grade_filter = middle.selectbox(
    tr("grade.grade"), ["", "-", *GRADES], format_func=lambda g: {"": tr("grade.any"), "-": "—"}.get(g, g),
    key="grade_filter",
)  # fmt: skip
until = right.text_input(tr("grade.timeline_until"), key="grade_until", placeholder="2027-06")
with forms.guarded_read(), session_scope(get_engine()) as session:
    band_names = labels(session, BUDGET_BAND, lang)
band = band_col.selectbox(
    tr("grade.budget_band"),
    ["", *band_names],
    format_func=lambda code: band_names.get(code, code) if code else tr("grade.any"),
    key="grade_band",
)

with forms.guarded_read(), session_scope(get_engine()) as session:
    table = grading_table(
        session,
        actor=actor,
        stage=stage or None,
        grade=grade_filter or None,
        timeline_until=until.strip() or None,
        budget_band=band or None,
    )
    criteria = grade_criteria(session, lang)
    speed_by = st.session_state.get("speed_by", "owner")
    speed = speed_to_lead(session, actor=actor, by=speed_by)

with st.container(border=True):
    for grade, text in criteria.items():
        st.markdown(f"**{grade}** — {md(text)}")

if table.empty:
    st.info(tr("grade.none"), icon=":material/info:")
else:
    shown = table.assign(
        stage=[pipeline.name(k, lang) for k in table["stage"]], grade=table["grade"].fillna("")
    )
    edited = st.data_editor(
        shown.drop(columns=["id", "version"]),
        hide_index=True,
        width="stretch",
        key="grade_editor",
        disabled=[c for c in shown.columns if c != "grade"],
        column_config={
            "grade": st.column_config.SelectboxColumn(tr("grade.col.grade"), options=["", *GRADES]),
            **{c: tr(f"grade.col.{c}") for c in shown.columns if c not in ("grade", "id", "version")},
        },
    )
    slots: forms.Slots = {"form": st.empty()}
    changes = [
        (int(row.id), edited.loc[i, "grade"] or None, int(row.version))
        for i, row in enumerate(table.itertuples())
        if (edited.loc[i, "grade"] or None) != (None if pd.isna(row.grade) else row.grade)
    ]
    if st.button(
        tr("grade.save", count=len(changes)), key="grade_save", type="primary", disabled=not changes
    ):
        result: dict[str, list[str]] = {}

        def write(session):  # type: ignore[no-untyped-def]
            graded = set_grades(session, actor=actor, changes=changes)
            result.update(graded=graded.graded, stale=graded.stale)
            return graded

        forms.save(
            slots,
            write,
            notice=lambda r: (
                tr("grade.saved", count=len(r.graded))
                + (" " + tr("grade.stale", names=", ".join(r.stale)) if r.stale else "")
            ),
            then=lambda _: st.session_state.pop("grade_editor", None),
        )

if allowed(actor, "customer.assign"):
    with st.expander(tr("grade.criteria_edit")):
        with st.form("grade_criteria_form"):
            which = st.selectbox(tr("grade.grade"), GRADES, key="grade_crit_which")
            text_en = st.text_input("English", key="grade_crit_en", max_chars=100)
            text_zh = st.text_input("中文", key="grade_crit_zh", max_chars=100)
            saved = st.form_submit_button(tr("grade.criteria_save"), key="grade_crit_save")
        crit_slots: forms.Slots = {"form": st.empty()}
        if saved:
            forms.save(
                crit_slots,
                lambda s: save_grade_criteria(s, actor=actor, grade=which, text_en=text_en, text_zh=text_zh),
                notice=tr("grade.criteria_saved", grade=which),
            )

if allowed(actor, "customer.assign"):
    with st.expander(tr("script.edit")), st.form("script_form"):
        script_stage = st.selectbox(
            tr("grade.stage"), pipeline.keys, format_func=lambda k: pipeline.name(k, lang), key="script_stage"
        )
        script_field = st.selectbox(
            tr("script.field"), SCRIPT_FIELDS, format_func=lambda f: tr(f"act.field.{f}"), key="script_field"
        )
        question_en = st.text_input("English", key="script_en", max_chars=100)
        question_zh = st.text_input("中文", key="script_zh", max_chars=100)
        script_saved = st.form_submit_button(tr("script.save"), key="script_save")
        script_slots: forms.Slots = {"form": st.empty()}
    if script_saved:
        forms.save(
            script_slots,
            lambda s: save_question(
                s,
                actor=actor,
                stage=script_stage,
                field=script_field,
                text_en=question_en,
                text_zh=question_zh,
            ),
            notice=tr("script.saved"),
        )

if allowed(actor, "customer.import"):
    with st.expander(tr("sync.upload")):
        upload = st.file_uploader(tr("sync.file"), type=["csv", "xlsx"], key="sync_file")
        sync_slots: forms.Slots = {"form": st.empty()}
        if upload is not None and st.button(tr("sync.run"), key="sync_run"):
            data, name = upload.getvalue(), upload.name
            try:
                synced = forms.run_write(lambda s: import_calls(s, data, actor=actor, filename=name))
            except ImportFileError as exc:
                sync_slots["form"].error(tr(exc.code, **exc.params), icon=":material/error:")
            else:
                st.success(tr("sync.done", created=synced.created, already=synced.already,
                              unmatched=len(synced.unmatched)))  # fmt: skip
                if synced.unmatched:
                    st.dataframe(
                        pd.DataFrame(
                            [(u.row, u.number, tr(u.reason, **u.params)) for u in synced.unmatched],
                            columns=[tr("sync.col.row"), tr("sync.col.number"), tr("sync.col.reason")],
                        ),
                        hide_index=True, key="sync_unmatched",
                    )  # fmt: skip

st.subheader(tr("speed.title"))
st.radio(
    tr("speed.by"),
    ["owner", "channel"],
    format_func=lambda b: tr(f"speed.by.{b}"),
    horizontal=True,
    key="speed_by",
)
if speed.empty:
    st.caption(tr("speed.none"))
else:
    st.dataframe(
        speed.rename(columns={"group": tr(f"speed.by.{speed_by}")})
        .rename(columns={c: tr(f"speed.col.{c}") for c in speed.columns if c != "group"}),
        hide_index=True, width="stretch", key="speed_table",
    )  # fmt: skip
