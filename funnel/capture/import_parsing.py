"""Import parsing, without a database: file -> rows, headers -> fields, a row's cells -> a validated lead."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from funnel.capture.leads import CleanLead, LeadInput, parse_amount, validate_lead
from funnel.core.clock import local_to_utc, utcnow
from funnel.core.errors import FieldError, ValidationError
from funnel.core.i18n import DEFAULT_LANGUAGE, catalogue, t
from funnel.core.settings import get_settings
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
# A column-map target that leaves a column out even when its header names a field (--map 备注=ignore).
IGNORE = "ignore"


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
    ignored: set[str] = set()
    for source, target in (column_map or {}).items():
        header = source if source in headers else by_key.get(_header_key(source))
        if header is None:
            raise ImportFileError("import.error.map_source", source=source, headers=", ".join(headers))
        if fold(target) == IGNORE:
            ignored.add(header)
            continue
        target_field = recognise_header(target, pipeline)
        if target_field is None:
            raise ImportFileError("import.error.map_field", field=target, fields=", ".join(FIELDS))
        mapping[header] = target_field
    taken = set(mapping.values())
    for header in headers:
        found = None if header in mapping or header in ignored else recognise_header(header, pipeline)
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


# Stored dates stay within years every report, week number and time zone shift can handle.
EARLIEST, LATEST = datetime(1900, 1, 1), datetime(2999, 12, 31, 23, 59, 59)


class DateOutOfRange(ValueError):
    """A real date, but too far in the past or the future to be a lead's (0001-01-01, 9999-12-31)."""


def parse_date(raw: object) -> datetime | None:
    """A naive UTC datetime from an Excel date or text like 2018-02-26, 2018/2/26 19:58, 2018年2月26日.

    A time without a zone is on the team's clock (settings.timezone); one with a zone is converted.
    ValueError when it is no date, DateOutOfRange when it is one outside 1900-2999.
    """
    try:
        value = _parse_date(raw)
    except OverflowError as exc:  # a zone shift past year 1 or 9999
        raise DateOutOfRange(raw) from exc
    if value is not None and not EARLIEST <= value <= LATEST:
        raise DateOutOfRange(raw)
    return value


def _parse_date(raw: object) -> datetime | None:
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
    source: Path | str | bytes, filename: str | None = None, *, name_from: str | None = None
) -> tuple[list[str], list[dict[str, object]]]:
    """Headers and rows of a CSV or .xlsx file (a path, or bytes plus their filename), all in memory.

    rows[i] is spreadsheet row i + 2: blank rows stay in the list to keep that true. The importer
    streams with `open_rows` instead; this is for small files and tests.
    """
    with open_rows(source, filename, name_from=name_from) as (headers, rows):
        table = list(rows)
    while table and not any(clean(cell) for cell in table[-1].values()):
        table.pop()
    return headers, table


def name_column(source: str) -> str:
    """The header of the column added to a file to hold the names copied from column `source`."""
    return f"name ({source})"  # recognised as the name, unless the file has a name column of its own


@contextmanager
def open_rows(
    source: Path | str | bytes, filename: str | None = None, *, name_from: str | None = None
) -> Iterator[tuple[list[str], Iterator[dict[str, object]]]]:
    """Headers and a stream of rows ({header: value}) of a CSV or .xlsx file, read one row at a time.

    The n-th row streamed is spreadsheet row n + 1 (blank rows included). File-level problems (missing,
    too large, wrong type, undecodable, no data rows) raise ImportFileError before the first row.
    `name_from` adds a last column, name_column(it), that copies that column (a file without names).
    """
    if isinstance(source, bytes):
        size, name = len(source), filename or ""
    else:
        path = Path(source)
        if not path.is_file():
            raise ImportFileError("import.error.missing", path=str(path))
        size, name = path.stat().st_size, filename or path.name
    limit = get_settings().max_import_mb
    if size > limit * 1024 * 1024:
        raise ImportFileError(
            "import.error.too_large", name=name, size=f"{size / 1024 / 1024:.1f}", max=limit
        )
    suffix = Path(name).suffix.lower()
    with ExitStack() as stack:
        if suffix in (".xlsx", ".xlsm"):
            table = _xlsx_rows(source, stack)
        elif suffix in (".csv", ".tsv", ".txt"):
            table = _csv_rows(source, stack)
        else:
            raise ImportFileError("import.error.file_type", name=name)
        first = next(table, None)
        if first is None or not any(clean(cell) for cell in first):
            raise ImportFileError("import.error.empty", name=name)
        headers = _unique_headers(first)
        width = len(headers)
        copied = _name_source(headers, name_from) if name_from else None
        if copied is not None:
            headers.append(name_column(copied))
        # Peek past leading blank rows: a file whose rows are all blank has no data.
        leading: list[list[object]] = []
        for row in table:
            leading.append(row)
            if any(clean(cell) for cell in row):
                break
        else:
            raise ImportFileError("import.error.empty", name=name)

        def as_dicts() -> Iterator[dict[str, object]]:
            for row in chain(leading, table):
                values = dict(zip(headers[:width], [*row, *[None] * width], strict=False))
                if copied is not None:
                    values[headers[-1]] = values[copied]
                yield values

        yield headers, as_dicts()


def _name_source(headers: list[str], column: str) -> str:
    """The header `column` names (exactly, else ignoring case, spaces and brackets)."""
    if column in headers:
        return column
    found = next((h for h in headers if _header_key(h) == _header_key(column)), None)
    if found is None:
        raise ImportFileError("import.error.name_from", column=column, headers=", ".join(headers))
    return found


def _unique_headers(cells: list[object]) -> list[str]:
    headers: list[str] = []
    for i, cell in enumerate(cells, start=1):
        base = clean(cell) or f"column {i}"
        name, n = base, 2
        while name in headers:
            name, n = f"{base} ({n})", n + 1
        headers.append(name)
    return headers


# How much of a file the encoding is guessed from; the whole file is then checked to decode with it.
_SAMPLE_BYTES = 1024 * 1024
_CHUNK_BYTES = 1024 * 1024
# GB18030 is a superset of GBK and GB2312: every Simplified Chinese Excel export decodes with it.
_GB_FAMILY = {"gb18030", "gbk", "gb2312", "hz"}
# Excel on Western Windows saves "CSV" in Windows-1252; it wins a tie between single-byte code pages.
_WESTERN = "cp1252"
# What else a guess may be: the East Asian and Western exports a sales team meets. A guess outside
# this list (KOI8, Thai, Hebrew...) is far more often random bytes than a real file, so it is refused.
_MULTI_BYTE = {"big5", "big5hkscs", "cp950", "cp932", "shift_jis", "euc_jp", "cp949", "euc_kr"}
_SINGLE_BYTE = {"cp1252", "latin_1", "iso8859_15"}


def _binary(source: Path | str | bytes, stack: ExitStack) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    return stack.enter_context(Path(source).open("rb"))


def _encoding(stream: BinaryIO) -> str:
    """The file's encoding: a BOM, else UTF-8, else what charset-normalizer finds with confidence.

    The whole file must decode with it (checked in chunks, nothing kept), so a wrong guess is refused
    here instead of storing mojibake; the stream is rewound.
    """
    head = stream.read(_SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in head:
        raise ImportFileError("import.error.encoding")
    elif _decodes(stream, head, "utf-8"):
        encoding = "utf-8"
    else:
        encoding = _guess(head)
    if not _decodes(stream, head, encoding):
        raise ImportFileError("import.error.encoding_unsure", encoding=encoding)
    stream.seek(0)
    return encoding


def _decodes(stream: BinaryIO, head: bytes, encoding: str) -> bool:
    """Whether the whole stream decodes strictly as `encoding` (and has no NUL outside UTF-16)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    stream.seek(len(head))
    chunk, final = head, False
    while not final:
        following = stream.read(_CHUNK_BYTES)
        final = not following
        if not encoding.startswith("utf-16") and b"\x00" in chunk:
            return False
        try:
            decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            return False
        chunk = following
    return True


def _guess(sample: bytes) -> str:
    """The encoding of a non-UTF-8 sample that charset-normalizer and the header row agree on."""
    from charset_normalizer import from_bytes  # loaded lazily: only non-UTF-8 files pay for it

    cut = sample.rfind(b"\n")
    sample = sample[: cut + 1] if cut > 0 else sample
    matches = list(from_bytes(sample))
    if not matches or not any(byte in b",;\t\n" for byte in sample):  # no text, or no table
        raise ImportFileError("import.error.encoding")
    best = matches[0]
    # Candidates as good as the best one: short files often fit several code pages equally well.
    tied = [
        m.encoding for m in matches if m.chaos <= best.chaos + 0.01 and m.coherence >= best.coherence - 0.01
    ]
    if any(name in _GB_FAMILY for name in tied):
        return "gb18030"
    first_line = sample.split(b"\n", 1)[0]

    def rank(name: str) -> tuple[int, int]:
        try:
            cells = first_line.decode(name).replace(";", ",").replace("\t", ",").split(",")
        except UnicodeDecodeError:
            return (-1, 0)
        return (sum(1 for cell in cells if recognise_header(cell.strip())), name == _WESTERN)

    encoding = max(tied, key=rank)
    texts = {sample.decode(name, errors="replace") for name in tied if rank(name) == rank(encoding)}
    if len(texts) > 1 and encoding != _WESTERN:
        raise ImportFileError("import.error.encoding_unsure", encoding=encoding)
    if encoding not in _MULTI_BYTE | _SINGLE_BYTE:
        raise ImportFileError("import.error.encoding_unsure", encoding=encoding)
    if encoding in _SINGLE_BYTE:
        # A single-byte code page reads any bytes; real Western text is mostly ASCII letters.
        letters = [ch for ch in sample.decode(encoding, errors="replace") if ch.isalpha()]
        if sum(ch.isascii() for ch in letters) < len(letters) * 0.7 or not letters:
            raise ImportFileError("import.error.encoding")
    return encoding


def _csv_rows(source: Path | str | bytes, stack: ExitStack) -> Iterator[list[object]]:
    stream = _binary(source, stack)
    encoding = _encoding(stream)
    text = stack.enter_context(io.TextIOWrapper(stream, encoding=encoding, newline=""))
    first_line = text.readline()
    delimiter = max(",;\t", key=first_line.count)

    def rows() -> Iterator[list[object]]:
        try:
            for row in csv.reader(chain([first_line], text), delimiter=delimiter):
                yield list[object](row)
        except csv.Error as exc:
            raise ImportFileError("import.error.unreadable", reason=str(exc)) from exc

    return rows()


def _xlsx_rows(source: Path | str | bytes, stack: ExitStack) -> Iterator[list[object]]:
    from openpyxl import load_workbook  # loaded lazily: only Excel imports pay for it

    try:
        book = load_workbook(
            io.BytesIO(source) if isinstance(source, bytes) else source, read_only=True, data_only=True
        )
    except Exception as exc:  # openpyxl raises zip, XML and key errors for files that are not .xlsx
        raise ImportFileError("import.error.unreadable", reason=type(exc).__name__) from exc
    stack.callback(book.close)
    return (list(row) for row in book.worksheets[0].iter_rows(values_only=True))


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
        except DateOutOfRange:
            errors.append(FieldError(name, "import.error.date_range", {"value": str(raw)}))
            continue
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
