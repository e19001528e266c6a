"""`import`: leads from a CSV or Excel file; every rejected row is printed with its spreadsheet row number."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from funnel.access.permissions import SYSTEM
from funnel.capture.importer import ImportFileError, ImportReport, describe, import_file, summary
from funnel.closing.imports import KINDS as CLOSING_KINDS
from funnel.closing.imports import import_closing_file
from funnel.closing.imports import report_lines as closing_report_lines
from funnel.core.db import make_engine, upgrade
from funnel.core.i18n import t

# The command line speaks English; the app shows the same messages in the user's language.
LANG = "en"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "import",
        help="import leads from a CSV or .xlsx file, reporting every rejected row",
        description="Import leads from a CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or .xlsx file. Rows whose "
        "external_id already exists update that customer. Exit status: 0 all rows imported, 1 some rows "
        "rejected, 2 the file could not be read.",
    )
    parser.add_argument("path", help="the .csv or .xlsx file; its first row holds the column headers")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="SOURCE=FIELD",
        help="read column SOURCE as FIELD, e.g. --map origin=channel, or leave it out with --map "
        "SOURCE=ignore (repeatable)",
    )
    parser.add_argument(
        "--name-from",
        metavar="COLUMN",
        help="take each lead's name from COLUMN, for a file without a name column, e.g. --name-from mql_id",
    )
    parser.add_argument(
        "--stage-map",
        action="append",
        default=[],
        metavar="VALUE=STAGE",
        help="read stage or status VALUE as STAGE, e.g. --stage-map MQL=lead (repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="validate and report all, write nothing")
    parser.add_argument(
        "--no-route",
        action="store_true",
        help="leave new rows without an owner unassigned (default: route them through the routing rules)",
    )
    parser.add_argument(
        "--kind",
        choices=CLOSING_KINDS,
        help="import opportunities, contracts or payments instead of leads (funnel/closing/imports.py)",
    )
    parser.set_defaults(handler=run_import)


def parse_pairs(values: list[str], option: str) -> dict[str, str]:
    """{left: right} from LEFT=RIGHT arguments, split at the last "=" (column names may contain one)."""
    pairs: dict[str, str] = {}
    for value in values:
        left, sep, right = value.rpartition("=")
        if not sep or not left.strip() or not right.strip():
            raise ImportFileError("import.error.pair", option=option, value=value)
        pairs[left.strip()] = right.strip()
    return pairs


def run_import(args: argparse.Namespace) -> int:
    if args.kind:
        return run_closing_import(args)
    try:
        column_map = parse_pairs(args.map, "--map")
        stage_map = parse_pairs(args.stage_map, "--stage-map")
        engine = make_engine()
        try:
            upgrade(engine)
            report = import_file(
                engine,
                args.path,
                column_map=column_map,
                stage_map=stage_map,
                dry_run=args.dry_run,
                actor=SYSTEM,
                route=not args.no_route,
                name_from=args.name_from,
            )
        finally:
            engine.dispose()
    except ImportFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in report_lines(report):
        print(line)
    return 1 if report.rejected else 0


def report_lines(report: ImportReport, lang: str = LANG) -> list[str]:
    """The column mapping, ignored columns, each rejected row and warning, then the summary line."""
    mapping = ", ".join(f"{header} -> {name}" for header, name in report.columns.items())
    lines = [t("import.notice.columns", lang, columns=mapping)]
    if report.ignored_columns:
        lines.append(t("import.notice.ignored", lang, columns=", ".join(report.ignored_columns)))
    for row, errors in report.rejected:
        reasons = "; ".join(describe(error, lang) for error in errors)
        lines.append(t("import.row.rejected", lang, row=row, reasons=reasons))
    for row, warning in report.warnings:
        lines.append(t("import.row.warning", lang, row=row, message=describe(warning, lang)))
    if report.routed:
        lines.append(t("import.notice.routed", lang, count=report.routed))
    lines.append(summary(report, lang))
    return lines


def run_closing_import(args: argparse.Namespace) -> int:
    """`import --kind KIND PATH`: closing rows, each naming its customer; same exit statuses as leads."""
    try:
        engine = make_engine()
        try:
            upgrade(engine)
            report = import_closing_file(
                engine, args.path, kind=args.kind, actor=SYSTEM, dry_run=args.dry_run
            )
        finally:
            engine.dispose()
    except ImportFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in closing_report_lines(report, LANG):
        print(line)
    return 1 if report.rejected else 0
