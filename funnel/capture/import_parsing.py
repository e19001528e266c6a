"""Import parsing, without a database: file -> rows, headers -> fields, a row's cells -> a validated lead."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from funnel.capture.leads import CleanLead, LeadInput, parse_amount, validate_lead
from funnel.core.clock import local_to_utc, utcnow
from funnel.core.errors import FieldError, ValidationError
from funnel.core.i18n import DEFAULT_LANGUAGE, catalogue, t
from funnel.core.validation import clean
from funnel.customers.fields import FIELDS as SPEC
from funnel.customers.fields import IMPORT_FIELDS, clean_text
from funnel.pipeline.stages import OUTCOMES, Pipeline, get_pipeline

# The import's fields and their header spellings come from the field specification.
FIELDS = IMPORT_FIELDS
TEXT_FIELDS = tuple(name for name in FIELDS if name not in ("amount", "created_at"))
_SYNONYMS = {f.name: f.synonyms for f in SPEC if f.importable}
_DATE_SUFFIXES = (" at", " date", " time", " on", "时间", "時間", "日期")
_DATE = re.compile(
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)
_OPEN_STATUSES = {"open", "active", "in progress", "进行中", "進行中", "跟进中", "跟進中"}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; `code` is a message key (see funnel/locales/*/import.json)."""

    def __init__(self, code: str, **params: object):
        self.code, self.params = code, params
        super().__init__(t(code, DEFAULT_LANGUAGE, **params))


def describe(error: FieldError, lang: str = DEFAULT_LANGUAGE) -> str:
    """`field: message` for one row error or warning, in `lang`."""
    label_key = f"import.field.{error.field}"
    label = t(label_key, lang) if label_key in catalogue(DEFAULT_LANGUAGE) else error.field
    return f"{label}: {t(error.code, lang, **error.params)}"


def fold(text: object) -> str:
    """Case-, space- and underscore-insensitive form of a value, for matching."""
    return " ".join(str(text).casefold().replace("_", " ").replace("-", " ").split())


def _header_key(text: object) -> str:
    # "金额（元）" and "Amount (USD)" name the same field as "金额" and "amount".
    bare = re.sub(r"[(（][^)）]*[)）]", "", str(text))
    return re.sub(r"[\s_\-.:：]", "", bare.casefold())


_HEADER_FIELDS = {_header_key(s): name for name, spellings in _SYNONYMS.items() for s in [name, *spellings]}


def recognise_header(header: str, pipeline: Pipeline | None = None) -> str | None:
    """The field a column header names (a field, a synonym, or `<stage>_at`), or None."""
    known = _HEADER_FIELDS.get(_header_key(header))
    if known:
        return known
    folded = fold(header)
    for suffix in _DATE_SUFFIXES:
        if folded.endswith(suffix):
            key = (pipeline or get_pipeline()).resolve(folded.removesuffix(suffix))
            if key:
                return f"{key}_at"
    return None


def map_headers(
    headers: Iterable[str], column_map: Mapping[str, str] | None = None, *, pipeline: Pipeline | None = None
) -> dict[str, str]:
    """{header: field} for every column to import; `column_map` ({source column: field}) goes first."""
    pipeline = pipeline or get_pipeline()
    headers = list(headers)
    by_key = {_header_key(h): h for h in reversed(headers)}
    mapping: dict[str, str] = {}
    for source, target in (column_map or {}).items():
        header = source if source in headers else by_key.get(_header_key(source))
        if header is None:
            raise ImportFileError("import.error.map_source", source=source, headers=", ".join(headers))
        target_field = recognise_header(target, pipeline)
        if target_field is None:
            raise ImportFileError("import.error.map_field", field=target, fields=", ".join(FIELDS))
        mapping[header] = target_field
    taken = set(mapping.values())
    for header in headers:
        found = None if header in mapping else recognise_header(header, pipeline)
        # Two columns for one field (手机 and 电话): the first one wins, the other is ignored.
        if found and found not in taken:
            mapping[header] = found
            taken.add(found)
    return mapping


def resolve_stage_map(stage_map: Mapping[str, str] | None, pipeline: Pipeline) -> dict[str, str]:
    """{folded source value: stage key} from --stage-map VALUE=STAGE pairs."""
    resolved: dict[str, str] = {}
    for value, stage in (stage_map or {}).items():
        key = pipeline.resolve(stage)
        if key is None:
            raise ImportFileError("import.error.stage_map", value=value, stage=stage)
        resolved[fold(value)] = key
    return resolved


def parse_date(raw: object) -> datetime | None:
    """A naive UTC datetime from an Excel date or text like 2018-02-26, 2018/2/26 19:58, 2018年2月26日.

    A time without a zone is on the team's clock (settings.timezone); one with a zone is converted.
    """
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return local_to_utc(raw)
    if isinstance(raw, date):
        return local_to_utc(datetime(raw.year, raw.month, raw.day))
    text = clean(raw)
    if text is None:
        return None
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError(raw)
    year, month, day, hour, minute, second, zone = match.groups()
    value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    if not zone:
        return local_to_utc(value)
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value


def read_rows(
    source: Path | str | bytes, filename: str | None = None
) -> tuple[list[str], list[dict[str, object]]]:
    """Headers and rows of a CSV or .xlsx file (a path, or bytes plus their filename).

    rows[i] is spreadsheet row i + 2: blank rows stay in the list to keep that true.
    """
    if isinstance(source, bytes):
        data, name = source, filename or ""
    else:
        path = Path(source)
        if not path.is_file():
            raise ImportFileError("import.error.missing", path=str(path))
        data, name = path.read_bytes(), filename or path.name
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _xlsx_table(data)
    elif suffix in (".csv", ".tsv", ".txt"):
        table = _csv_table(data)
    else:
        raise ImportFileError("import.error.file_type", name=name)
    while table and not any(clean(cell) for cell in table[-1]):
        table.pop()
    if not table or not any(clean(cell) for cell in table[0]):
        raise ImportFileError("import.error.empty", name=name)
    headers = _unique_headers(table[0])
    rows = [dict(zip(headers, [*row, *[None] * len(headers)], strict=False)) for row in table[1:]]
    if not rows:
        raise ImportFileError("import.error.empty", name=name)
    return headers, rows


def _unique_headers(cells: list[object]) -> list[str]:
    headers: list[str] = []
    for i, cell in enumerate(cells, start=1):
        base = clean(cell) or f"column {i}"
        name, n = base, 2
        while name in headers:
            name, n = f"{base} ({n})", n + 1
        headers.append(name)
    return headers


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" not in data:
        # GB18030 is a superset of GBK and GB2312, so one attempt covers Excel's Chinese CSV exports.
        for encoding in ("utf-8", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise ImportFileError("import.error.encoding")


def _csv_table(data: bytes) -> list[list[object]]:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    try:
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise ImportFileError("import.error.unreadable", reason=str(exc)) from exc


def _xlsx_table(data: bytes) -> list[list[object]]:
    from openpyxl import load_workbook  # loaded lazily: only Excel imports pay for it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors for files that are not .xlsx
        raise ImportFileError("import.error.unreadable", reason=type(exc).__name__) from exc
    try:
        return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def cell_text(value: object) -> str | None:
    # Excel hands over phone numbers and ids as floats: 13800138000.0 must stay "13800138000".
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean(value)


@dataclass
class ParsedRow:
    """One row turned into a validated lead, with what an update needs to know."""

    number: int
    cleaned: CleanLead
    owner: str | None
    stage_given: bool
    created_given: bool


def parse_row(
    number: int, values: Mapping[str, object], *, stage_map: Mapping[str, str], pipeline: Pipeline
) -> ParsedRow:
    """A validated lead from one row's {field: raw value}; raises ValidationError listing every problem."""
    errors: list[FieldError] = []
    text = {name: cell_text(values.get(name)) for name in TEXT_FIELDS}
    text["owner"] = clean_text("owner", text["owner"], errors)
    for name in ("stage", "status"):
        text[name] = stage_map.get(fold(text[name]), text[name]) if text[name] else None
    if text["status"] and fold(text["status"]) in _OPEN_STATUSES:
        text["status"] = "open"
    dates: dict[str, datetime] = {}
    for name, raw in values.items():
        if not name.endswith("_at"):
            continue
        try:
            parsed = parse_date(raw)
        except ValueError:
            errors.append(FieldError(name, "error.date_invalid", {"value": str(raw)}))
            continue
        if parsed is not None:
            dates[name] = parsed
    amount = None
    try:
        amount = parse_amount(cell_text(values.get("amount")))
    except ValueError:
        errors.append(FieldError("amount", "error.amount_invalid", {"value": str(values.get("amount"))}))
    owner, status = text.pop("owner"), text.pop("status")
    if not status and ("won_at" in dates or "lost_at" in dates):
        status = "won" if "won_at" in dates else "lost"  # an outcome date says what the outcome was
    lead = LeadInput(
        **text,  # type: ignore[arg-type]  # name may be None here; validate_lead reports it as required
        status=status or "open",
        amount=amount,
        created_at=dates.pop("created_at", None),
        stage_dates={name.removesuffix("_at"): at for name, at in dates.items()},
    )
    created_given = lead.created_at is not None
    cleaned = None
    try:
        # An external id identifies an imported lead, so such rows need no phone, e-mail or WeChat.
        cleaned = validate_lead(lead, pipeline=pipeline, require_contact=not lead.external_id)
    except ValidationError as exc:
        errors.extend(exc.errors)
    if errors or cleaned is None:
        raise ValidationError(errors)
    stage_given = bool(text["stage"] or status or lead.stage_dates)
    return ParsedRow(number, cleaned, owner, stage_given, created_given)


def _show(at: datetime) -> str:
    return at.isoformat(" ", "seconds").removesuffix(" 00:00:00")


def odd_data_warnings(row: ParsedRow) -> list[FieldError]:
    """Warnings for real-world oddities that are kept as given: dates out of order, closed at amount 0."""
    created, history, found = row.cleaned.created_at, row.cleaned.history, []
    for i, (key, at) in enumerate(history):
        name = f"{key}_at"
        earlier = next(((k, a) for k, a in history[:i] if a > at), None)
        if at < created:
            params = {"field": name, "date": _show(at), "created": _show(created)}
            found.append(FieldError(name, "import.warn.before_created", params))
        elif earlier:
            params = {"field": name, "date": _show(at), "earlier_field": f"{earlier[0]}_at"}
            found.append(
                FieldError(name, "import.warn.date_order", {**params, "earlier_date": _show(earlier[1])})
            )
    if row.cleaned.status in OUTCOMES and row.cleaned.amount == 0:
        found.append(FieldError("amount", "import.warn.zero_amount", {"status": row.cleaned.status}))
    if row.created_given and created > utcnow():
        found.append(FieldError("created_at", "import.warn.future", {"date": _show(created)}))
    return found
