"""Call and chat sync: a phone system's call log (CSV) or one JSON body from a phone system or WeCom bot
becomes a call (or chat) activity on the customer with that phone or WeChat; the rest are listed.

The same call twice is one activity: it is keyed on number + time + direction (or the sender's id).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.capture.import_parsing import ImportFileError, fold, parse_date, read_rows
from funnel.core.errors import FieldError, UserError, ValidationError
from funnel.core.validation import clean, normalize_phone, normalize_wechat
from funnel.store.models import Activity, Contact, Customer
from funnel.working.activities import KINDS, TEXT_LIMITS, log_activity

HEADERS = {
    "time": ("time", "at", "call time", "start", "start time",
             "时间", "時間", "通话时间", "通話時間", "开始时间"),
    "number": ("number", "phone", "phone number", "caller", "号码", "號碼", "电话", "電話", "手机", "手機"),
    "direction": ("direction", "type", "call type", "方向", "呼叫类型", "类型", "類型"),
    "duration": ("duration", "duration s", "seconds", "时长", "時長", "通话时长", "通話時長", "秒"),
}  # fmt: skip
_DIRECTIONS = {
    "in": "in", "inbound": "in", "incoming": "in", "呼入": "in", "来电": "in", "來電": "in",
    "out": "out", "outbound": "out", "outgoing": "out", "呼出": "out", "去电": "out", "去電": "out",
}  # fmt: skip


@dataclass(frozen=True)
class Unmatched:
    """A row (file line, or 0 for an API body) that made no activity, and why (a message key)."""

    row: int
    number: str
    reason: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class SyncResult:
    created: int = 0
    already: int = 0  # the same call was synced before
    unmatched: list[Unmatched] = field(default_factory=list)
    activity_ids: list[int] = field(default_factory=list)  # the new ones
    already_ids: list[int] = field(default_factory=list)  # the ones synced before (a replay)


def _header_map(headers: list[str]) -> dict[str, str]:
    wanted = {fold(s): name for name, spellings in HEADERS.items() for s in spellings}
    return {wanted[fold(h)]: h for h in headers if fold(h) in wanted}


def match_customer(
    session: Session, *, phone: str | None = None, wechat: str | None = None
) -> Customer | None:
    """The customer whose contact has this normalised phone or WeChat (the oldest customer if several)."""
    conditions = []
    if phone:
        conditions += [Contact.phone == phone, Contact.wechat == phone]
    if wechat:
        conditions.append(Contact.wechat == wechat)
    if not conditions:
        return None
    stmt = select(Customer).join(Contact).where(or_(*conditions)).order_by(Customer.id).limit(1)
    return session.scalar(stmt)


def _sync_one(
    session: Session,
    *,
    actor: Actor,
    row: int,
    raw_number: str,
    at: datetime,
    direction: str | None,
    duration_s: int | None,
    kind: str,
    summary: str | None,
    key: str,
    source: str,
    wechat: bool,
    result: SyncResult,
) -> None:
    try:
        value = normalize_wechat(raw_number) if wechat else normalize_phone(raw_number)
    except ValueError:
        result.unmatched.append(Unmatched(row, raw_number, "sync.unmatched.bad_number"))
        return
    sync_key = f"{key or value}|{at.isoformat()}|{direction or ''}"[:200] if not key else key[:200]
    existing = session.scalar(select(Activity.id).where(Activity.sync_key == sync_key))
    if existing is not None:
        result.already += 1
        result.already_ids.append(existing)
        return
    customer = match_customer(session, phone=None if wechat else value, wechat=value if wechat else None)
    if customer is None:
        result.unmatched.append(Unmatched(row, raw_number, "sync.unmatched.no_customer"))
        return
    logged = log_activity(
        session,
        actor=actor,
        customer_id=customer.id,
        kind=kind,
        at=at,
        note=summary,
        direction=direction,
        duration_s=duration_s,
        source=source,
        sync_key=sync_key,
    )
    result.created += 1
    result.activity_ids.append(logged.activity_id)


def import_calls(
    session: Session, source: Path | str | bytes, *, actor: Actor, filename: str | None = None
) -> SyncResult:
    """Import a call log (time, number, direction, duration); ImportFileError for an unusable file."""
    require(actor, "customer.import")
    headers, rows = read_rows(source, filename)
    columns = _header_map(headers)
    missing = [name for name in ("time", "number") if name not in columns]
    if missing:
        raise ImportFileError("sync.error.columns", missing=", ".join(missing))
    result = SyncResult()
    for index, values in enumerate(rows, start=2):
        number = clean(values.get(columns["number"])) or ""
        if not number and not any(clean(v) for v in values.values()):
            continue
        try:
            at = parse_date(values.get(columns["time"]))
        except ValueError:
            at = None
        if at is None:
            result.unmatched.append(Unmatched(index, number, "sync.unmatched.bad_time"))
            continue
        direction = _DIRECTIONS.get(fold(values.get(columns.get("direction", ""), "") or ""))
        if "direction" in columns and clean(values.get(columns["direction"])) and direction is None:
            result.unmatched.append(Unmatched(index, number, "sync.unmatched.bad_direction"))
            continue
        duration = clean(values.get(columns.get("duration", ""))) if "duration" in columns else None
        try:
            seconds = int(float(duration)) if duration is not None else None
        except ValueError:
            result.unmatched.append(Unmatched(index, number, "sync.unmatched.bad_duration"))
            continue
        try:
            with session.begin_nested():
                _sync_one(
                    session, actor=actor, row=index, raw_number=number, at=at, direction=direction,
                    duration_s=seconds, kind="call", summary=None, key="", source="call_log", wechat=False,
                    result=result,
                )  # fmt: skip
        except UserError as exc:
            error = exc.errors[0]
            result.unmatched.append(
                Unmatched(index, number, error.code, {"field": error.field, **error.params})
            )
    return result


API_FIELDS = ("external_id", "at", "phone", "wechat", "direction", "duration_s", "kind", "summary")
# The spellings a phone system or bot more often sends (POST /api/activities documents these).
API_ALIASES = {"time": "at", "duration": "duration_s", "note": "summary"}


def _canonical(payload: dict[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """The body with aliases renamed, and canonical name -> the name the sender used (for messages)."""
    body: dict[str, object] = {}
    sent: dict[str, str] = {}
    for name, value in payload.items():
        canonical = API_ALIASES.get(name, name)
        if canonical in body and name in API_ALIASES:
            continue  # both spellings given: the canonical one wins
        body[canonical] = value
        if canonical != name:
            sent[canonical] = name
    return body, sent


def sync_activity(session: Session, payload: dict[str, object], *, actor: Actor) -> SyncResult:
    """One activity sent by a phone system or WeCom bot (POST /api/activities), validated and matched.

    Fields: API_FIELDS, or their API_ALIASES (`time`, `duration`, `note`); errors name the field as sent.
    ValidationError names each bad field of the body; a body that is valid but matches no customer comes
    back in `unmatched`.
    """
    require(actor, "customer.import")
    if not isinstance(payload, dict):
        raise ValidationError([FieldError("body", "sync.error.body")])
    payload, sent = _canonical(payload)
    errors: list[FieldError] = []
    unknown = sorted(set(payload) - set(API_FIELDS))
    if unknown:
        errors.append(FieldError("body", "sync.error.unknown_fields", {"fields": ", ".join(unknown)}))
    phone, wechat = clean(payload.get("phone")), clean(payload.get("wechat"))
    if not phone and not wechat:
        errors.append(FieldError("phone", "sync.error.phone_or_wechat"))
    at: datetime | None = None
    with suppress(ValueError):
        at = parse_date(payload.get("at"))
    if at is None:
        errors.append(FieldError("at", "sync.error.at"))
    direction = clean(payload.get("direction"))
    direction = _DIRECTIONS.get(fold(direction), "?") if direction else None
    if direction == "?":
        errors.append(
            FieldError("direction", "act.error.direction", {"value": str(payload.get("direction"))})
        )
    duration = payload.get("duration_s")
    seconds: int | None = None
    if duration is not None and duration != "":
        if isinstance(duration, bool) or not isinstance(duration, int | float | str):
            errors.append(FieldError("duration_s", "act.error.duration", {"value": str(duration)}))
        else:
            try:
                seconds = int(float(duration))
            except ValueError:
                errors.append(FieldError("duration_s", "act.error.duration", {"value": str(duration)}))
    kind = clean(payload.get("kind")) or ("wechat" if wechat and not phone else "call")
    if kind not in KINDS:
        errors.append(FieldError("kind", "act.error.kind", {"value": kind, "kinds": ", ".join(KINDS)}))
    external_id = clean(payload.get("external_id"))
    if external_id and len(external_id) > 150:
        errors.append(
            FieldError("external_id", "error.too_long", {"max": "150", "length": str(len(external_id))})
        )
    summary = clean(payload.get("summary"))
    if summary and len(summary) > TEXT_LIMITS["note"]:
        limit = str(TEXT_LIMITS["note"])
        errors.append(FieldError("summary", "error.too_long", {"max": limit, "length": str(len(summary))}))
    if errors:
        raise ValidationError([FieldError(sent.get(e.field, e.field), e.code, e.params) for e in errors])
    assert at is not None
    result = SyncResult()
    number = phone or wechat or ""
    _sync_one(
        session, actor=actor, row=0, raw_number=number, at=at, direction=direction, duration_s=seconds,
        kind=kind, summary=summary, key=f"api|{external_id}" if external_id else "", source="api",
        wechat=not phone, result=result,
    )  # fmt: skip
    return result
