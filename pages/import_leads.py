"""Import leads (managers, admins): upload a CSV or Excel file, check how its columns and stage values are
read, preview, dry-run, import with a progress bar, then download the rejected rows to fix and import again.

The engine is `python -m funnel import`'s (funnel.capture.importer.import_file): the same matching,
validation, duplicate checks, batches and routing.
"""

import logging
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from funnel.capture.import_parsing import IGNORE, ImportFileError, describe
from funnel.capture.importer import ImportReport, import_file, summary
from funnel.capture.routing import load_rules
from funnel.core.db import session_scope
from funnel.core.errors import UserError
from funnel.core.settings import get_settings
from funnel.pipeline.stages import OUTCOMES, get_pipeline
from pages._shared import forms
from pages._shared import import_parts as parts
from pages._shared.common import CUSTOMERS, clear_area, current_language, get_engine, md, tr
from pages._shared.shell import page_setup

actor = page_setup("customer.assign")
log = logging.getLogger(__name__)
pipeline, lang = get_pipeline(), current_language()
SCAN_KEY = "import_scan"  # (file id, FileScan or the file's error): the upload is read once
RESULT_KEY = "import_result"  # (file id, report, rejected rows file) of the last run on this page

st.title(tr("import_page.title"))
st.caption(tr("import_page.intro"))
forms.show_notice()
with forms.guarded_read(), session_scope(get_engine()) as session:
    active_rules = len(load_rules(session, active_only=True))
st.caption(tr("import_page.routing", count=active_rules) if active_rules else tr("import_page.routing.none"))

uploaded = st.file_uploader(
    tr("import_page.upload"),
    key="import_upload",
    help=tr("import_page.upload.help", max=get_settings().max_import_mb),
    max_upload_size=get_settings().max_import_mb,
)
if uploaded is None:
    st.session_state.pop(SCAN_KEY, None)
    st.info(tr("import_page.start"), icon=":material/upload_file:")
    st.stop()
data, filename, file_id = uploaded.getvalue(), uploaded.name, uploaded.file_id

scanned = st.session_state.get(SCAN_KEY)
if scanned is None or scanned[0] != file_id:
    try:
        with st.spinner(tr("import_page.reading")):
            scanned = (file_id, parts.scan_file(data, filename))
    except ImportFileError as exc:
        scanned = (file_id, exc)
    st.session_state[SCAN_KEY] = scanned
if isinstance(scanned[1], ImportFileError):
    st.error(parts.file_error(scanned[1], lang), icon=":material/error:")
    st.stop()
file_scan: parts.FileScan = scanned[1]
st.caption(tr("import_page.file", name=filename, rows=file_scan.rows, columns=len(file_scan.headers)))

if st.session_state.get("import_name_from") not in ("", *file_scan.headers):
    st.session_state["import_name_from"] = ""  # a column of the previous file
name_from: str = st.selectbox(
    tr("import_page.name_from"),
    ["", *file_scan.headers],
    format_func=lambda header: header or tr("import_page.name_from.none"),
    key="import_name_from",
    help=tr("import_page.name_from.help"),
)
scan = file_scan.with_name_from(name_from)
token = f"{file_id}_{name_from}"  # new file or new name column: the tables start from the matching

st.subheader(tr("import_page.columns"))
st.caption(tr("import_page.columns.help"))
targets = parts.targets(pipeline)
column_config: dict[str, Any] = {
    "column": st.column_config.TextColumn(tr("import_page.col.column")),
    "example": st.column_config.TextColumn(tr("import_page.col.example")),
    "field": st.column_config.SelectboxColumn(
        tr("import_page.col.field"),
        options=targets,
        format_func=lambda target: parts.target_label(str(target), pipeline, lang),
        required=True,
    ),
}
edited_columns = st.data_editor(
    parts.column_table(scan, pipeline),
    key=f"import_columns_{token}",
    hide_index=True,
    width="stretch",
    disabled=["column", "example"],
    column_config=column_config,
)
column_map = parts.column_map_from(edited_columns)
chosen = [target for target in column_map.values() if target != IGNORE]
repeated = sorted({target for target in chosen if chosen.count(target) > 1})
problems = [tr("import_page.field_twice", field=parts.target_label(t, pipeline, lang)) for t in repeated]
if "name" not in chosen:
    problems.append(tr("import_page.no_name"))
for problem in problems:
    st.warning(problem, icon=":material/warning:")

stage_map: dict[str, str] = {}
values = parts.stage_values(scan, column_map)
if values:
    st.subheader(tr("import_page.stages"))
    st.caption(tr("import_page.stages.help"))
    stage_options = ["", *pipeline.keys, *OUTCOMES]
    stage_columns = "_".join(sorted(h for h, f in column_map.items() if f in parts.STAGE_FIELDS))
    stage_config: dict[str, Any] = {
        "value": st.column_config.TextColumn(tr("import_page.col.value")),
        "stage": st.column_config.SelectboxColumn(
            tr("import_page.col.stage"),
            options=stage_options,
            format_func=lambda key: pipeline.name(str(key), lang) if key else tr("import_page.as_is"),
        ),
    }
    edited_stages = st.data_editor(
        parts.stage_table(values, pipeline),
        key=f"import_stages_{token}_{stage_columns}",
        hide_index=True,
        width="stretch",
        disabled=["value"],
        column_config=stage_config,
    )
    stage_map = parts.stage_map_from(edited_stages)

if not problems:
    st.subheader(tr("import_page.preview"))
    st.caption(tr("import_page.preview.help", count=len(scan.sample)))
    shown = parts.preview(scan, column_map, stage_map, pipeline, lang)
    st.dataframe(
        shown,
        key="import_preview",
        hide_index=True,
        width="stretch",
        column_config={
            name: tr(f"import.field.{name}")
            if name in parts.PREVIEW_FIELDS
            else tr(f"import_page.col.{name}")
            for name in shown.columns
        },
    )

dry_col, run_col = st.columns(2)
dry_clicked = dry_col.button(
    tr("import_page.dry_run"), key="import_dry_run", disabled=bool(problems), icon=":material/fact_check:"
)
run_clicked = run_col.button(
    tr("import_page.run"), key="import_run", type="primary", disabled=bool(problems), icon=":material/upload:"
)
slot = st.empty()

if dry_clicked or run_clicked:
    dry_run = bool(dry_clicked)
    bar = st.progress(0.0, text=tr("import_page.progress", rows=0, total=scan.rows))

    landed: dict[str, int] = {}  # rows read and leads created when the last batch was written

    def moved(so_far: ImportReport) -> None:
        landed.update(rows=so_far.rows, created=so_far.created)  # so_far keeps growing: copy the counts
        bar.progress(
            min(so_far.rows / max(scan.rows, 1), 1.0),
            text=tr("import_page.progress", rows=so_far.rows, total=scan.rows),
        )

    report: ImportReport | None = None
    rejected = b""
    try:
        report = import_file(
            get_engine(),
            data,
            filename=filename,
            column_map=column_map,
            stage_map=stage_map,
            dry_run=dry_run,
            actor=actor,
            progress=moved,
            name_from=name_from or None,
        )
        rejected = parts.rejected_file(data, filename, report, lang, name_from=name_from or None)
    except ImportFileError as exc:
        report = None
        slot.error(parts.file_error(exc, lang), icon=":material/error:")
    except UserError as exc:
        report = None
        slot.error(
            "  \n".join(tr(error.code, **error.params) for error in exc.errors), icon=":material/block:"
        )
    except SQLAlchemyError:
        report = None
        log.exception("an import from the page failed")
        # The batches before the failure are committed: say how far it got.
        partial = landed and not dry_run
        slot.error(
            tr("import_page.partial", **landed) if partial else tr(forms.DATABASE_ERROR),
            icon=":material/error:",
        )
    bar.empty()
    if report is not None:
        st.session_state[RESULT_KEY] = (file_id, report, rejected)
        if not dry_run:
            clear_area(CUSTOMERS)

result = st.session_state.get(RESULT_KEY)
if result is not None and result[0] == file_id:
    _, report, rejected = result
    st.subheader(tr("import_page.result.dry_run" if report.dry_run else "import_page.result"))
    (st.info if report.dry_run else st.success)(md(summary(report, lang)), icon=":material/summarize:")
    counts = {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": len(report.rejected),
        "routed": report.routed,
    }
    for column, (name, count) in zip(st.columns(len(counts)), counts.items(), strict=True):
        column.metric(tr(f"import_page.count.{name}"), f"{count:,}")
    if report.rejected:
        st.markdown(f"**{tr('import_page.rejected')}**")
        table = pd.DataFrame(
            [
                {"row": number, "problems": "; ".join(describe(error, lang) for error in errors)}
                for number, errors in report.rejected
            ]
        )
        st.dataframe(
            table,
            key="import_rejected",
            hide_index=True,
            width="stretch",
            column_config={name: tr(f"import_page.col.{name}") for name in table.columns},
        )
        st.download_button(
            tr("import_page.rejected.download"),
            data=rejected,
            file_name=f"rejected-{filename.rsplit('.', 1)[0]}.csv",
            mime="text/csv",
            key="import_rejected_download",
            on_click="ignore",
            icon=":material/download:",
        )
    if report.warnings:
        with st.expander(tr("import_page.warnings", count=len(report.warnings))):
            warnings = pd.DataFrame(
                [{"row": number, "problems": describe(warning, lang)} for number, warning in report.warnings]
            )
            st.dataframe(
                warnings,
                key="import_warnings",
                hide_index=True,
                width="stretch",
                column_config={name: tr(f"import_page.col.{name}") for name in warnings.columns},
            )
