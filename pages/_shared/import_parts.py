"""The import page's tables: the file scanned once, columns and stage values mapped, rows previewed, the
rejected rows written back as a file to fix and import again. The import itself is funnel's
(`funnel.capture.importer.import_file`, the engine of `python -m funnel import`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pandas as pd

from funnel.capture.import_parsing import (
    FIELDS,
    IGNORE,
    ImportFileError,
    cell_text,
    describe,
    map_headers,
    name_column,
    open_rows,
    parse_row,
    resolve_stage_map,
)
from funnel.capture.importer import ImportReport
from funnel.core.errors import ValidationError
from funnel.core.export import csv_bytes
from funnel.core.i18n import t
from funnel.pipeline.stages import OUTCOMES, Pipeline
from pages._shared.common import md

PREVIEW_ROWS = 10
# Distinct values kept per column, for the stage table; a column with more is no stage column.
MAX_DISTINCT = 100
STAGE_FIELDS = ("stage", "status")
# The preview's columns: what a lead will hold, in the order the leads list shows it.
PREVIEW_FIELDS = (
    "name", "company", "contact_name", "phone", "email", "wechat", "channel", "campaign", "region",
    "industry", "team", "owner", "tags", "grade", "stage", "status", "amount", "created_at", "external_id",
)  # fmt: skip


@dataclass(frozen=True)
class FileScan:
    """One read of an uploaded file: its headers, first rows, row count and each column's few values."""

    headers: list[str]
    sample: list[tuple[int, dict[str, object]]]  # (spreadsheet row, {header: value}), first non-blank rows
    rows: int  # non-blank data rows
    values: dict[str, list[str]] = field(default_factory=dict)  # header -> distinct values (if few)

    def with_name_from(self, column: str | None) -> FileScan:
        """The file as the import reads it with names taken from `column` (see import_parsing.open_rows)."""
        if not column:
            return self
        derived = name_column(column)
        return replace(
            self,
            headers=[*self.headers, derived],
            sample=[(n, {**row, derived: row.get(column)}) for n, row in self.sample],
            values={**self.values, derived: self.values.get(column, [])},
        )


def scan_file(data: bytes, filename: str) -> FileScan:
    """Read the whole file once (ImportFileError for a file that cannot be imported)."""
    sample: list[tuple[int, dict[str, object]]] = []
    distinct: dict[str, dict[str, None]] = {}
    crowded: set[str] = set()
    count = 0
    with open_rows(data, filename) as (headers, rows):
        distinct = {header: {} for header in headers}
        for index, row in enumerate(rows):
            texts = {header: cell_text(value) for header, value in row.items()}
            if not any(texts.values()):
                continue
            count += 1
            if len(sample) < PREVIEW_ROWS:
                sample.append((index + 2, row))
            for header, text in texts.items():
                if text is None or header in crowded:
                    continue
                seen = distinct[header]
                seen[text] = None
                if len(seen) > MAX_DISTINCT:
                    crowded.add(header)
                    seen.clear()
    values = {header: list(seen) for header, seen in distinct.items() if header not in crowded}
    return FileScan(headers=headers, sample=sample, rows=count, values=values)


def targets(pipeline: Pipeline) -> list[str]:
    """What a column can be read as: ignore, an import field, or the date a stage was reached."""
    dates = [f"{key}_at" for key in (*pipeline.keys, *OUTCOMES)]
    return [IGNORE, *FIELDS, *dates]


def target_label(target: str, pipeline: Pipeline, lang: str) -> str:
    if target == IGNORE:
        return t("import_page.ignore", lang)
    if target.endswith("_at") and target != "created_at":
        return t("import_page.stage_date", lang, stage=pipeline.name(target.removesuffix("_at"), lang))
    return f"{t(f'import.field.{target}', lang)} ({target})"


def column_table(scan: FileScan, pipeline: Pipeline) -> pd.DataFrame:
    """One row per column of the file: its header, an example value and the field it was matched to."""
    mapping = map_headers(scan.headers, pipeline=pipeline)
    examples = {
        header: next((text for _, row in scan.sample if (text := cell_text(row.get(header)))), "")
        for header in scan.headers
    }
    return pd.DataFrame(
        {
            "column": scan.headers,
            "example": [examples[h] for h in scan.headers],
            "field": [mapping.get(h, IGNORE) for h in scan.headers],
        }
    )


def column_map_from(table: pd.DataFrame) -> dict[str, str]:
    """{column: field or "ignore"} for every column, as import_file's column_map takes it."""
    return {str(row.column): _chosen(row.field) or IGNORE for row in table.itertuples()}


def stage_values(scan: FileScan, column_map: Mapping[str, str]) -> list[str]:
    """The distinct values of the columns read as stage or status, in the order they first appear."""
    found: dict[str, None] = {}
    for header, target in column_map.items():
        if target in STAGE_FIELDS:
            found.update(dict.fromkeys(scan.values.get(header, [])))
    return list(found)


def stage_table(values: list[str], pipeline: Pipeline) -> pd.DataFrame:
    """One row per stage value: the stage (or outcome) it was recognised as, "" when none."""
    return pd.DataFrame({"value": values, "stage": [pipeline.resolve(v) or "" for v in values]}, dtype=object)


def stage_map_from(table: pd.DataFrame) -> dict[str, str]:
    """{value: stage} for the values given a stage; the others are read as they are (or rejected)."""
    return {str(row.value): stage for row in table.itertuples() if (stage := _chosen(row.stage))}


def _chosen(cell: object) -> str | None:
    """An editor cell's choice; a cleared cell comes back as None or NaN."""
    return cell if isinstance(cell, str) and cell else None


def preview(
    scan: FileScan,
    column_map: Mapping[str, str],
    stage_map: Mapping[str, str],
    pipeline: Pipeline,
    lang: str,
) -> pd.DataFrame:
    """The first rows as they will be stored (cleaned, normalised), or the reasons each would be refused."""
    columns = map_headers(scan.headers, column_map, pipeline=pipeline)
    stage_keys = resolve_stage_map(stage_map, pipeline)
    shown = [name for name in PREVIEW_FIELDS if name in columns.values() or name in STAGE_FIELDS]
    records = []
    for number, raw in scan.sample:
        values = {name: raw.get(header) for header, name in columns.items()}
        record: dict[str, object] = {"row": number}
        try:
            parsed = parse_row(number, values, stage_map=stage_keys, pipeline=pipeline)
        except ValidationError as exc:
            record["problems"] = "; ".join(describe(error, lang) for error in exc.errors)
            records.append(record)
            continue
        lead = parsed.cleaned
        for name in shown:
            value = parsed.owner if name == "owner" else getattr(lead, name)
            if name == "stage":
                value = pipeline.name(str(value), lang)
            record[name] = None if value is None else str(value)
        record["problems"] = ""
        records.append(record)
    return pd.DataFrame(records, columns=["row", *shown, "problems"], dtype=object)


def rejected_file(
    data: bytes, filename: str, report: ImportReport, lang: str, *, name_from: str | None = None
) -> bytes:
    """The rejected rows as a CSV of the file's own columns, plus their row number and reasons.

    Fixed and uploaded again it imports like the original (the two added columns are not import fields);
    a name column derived with `name_from` is left out, as it is derived again.
    """
    reasons = {
        number: "; ".join(describe(error, lang) for error in errors) for number, errors in report.rejected
    }
    row_header, reason_header = t("import_page.rejected.row", lang), t("import_page.rejected.reasons", lang)
    records: list[dict[str, object]] = []
    with open_rows(data, filename) as (headers, rows):
        own = [h for h in headers if not (name_from and h == name_column(name_from))]
        for index, row in enumerate(rows):
            if index + 2 in reasons:
                record: dict[str, object] = {h: cell_text(row.get(h)) or "" for h in own}
                record[row_header], record[reason_header] = index + 2, reasons[index + 2]
                records.append(record)
    return csv_bytes(pd.DataFrame(records, columns=[*own, row_header, reason_header]))


def file_error(exc: ImportFileError, lang: str) -> str:
    """An ImportFileError in the page's words (the command line's mention --map; the page has a table)."""
    page_key = f"import_page.{exc.code}"
    # A file name or a header is the user's text: shown literally, never as markdown.
    params = {name: md(value) if isinstance(value, str) else value for name, value in exc.params.items()}
    return t(page_key if page_key in _PAGE_WORDED else exc.code, lang, **params)


_PAGE_WORDED = {"import_page.import.error.no_name"}
