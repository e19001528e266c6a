"""`import --kind opportunities|contracts|payments`: the closing rows of the data factory, from CSV or Excel.

Files are read like the lead import (funnel.capture.import_parsing: encodings, .xlsx, size limit, header
synonyms in English and Chinese); each row names its customer by `customer_no` or `customer_external_id`
(a payment its contract by `contract_external_id` or `contract_no`) and carries its own `external_id`,
so importing the same file again updates the rows instead of doubling them. Every row is validated and
written on its own: a bad row is reported with its spreadsheet row number and the others are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.capture.import_parsing import ImportFileError, cell_text, describe, open_rows
from funnel.closing import contracts as contract_flow
from funnel.closing.common import clean_amount, clean_date, clean_str
from funnel.core.clock import team_today, utcnow
from funnel.core.db import session_scope
from funnel.core.errors import FieldError, UserError
from funnel.core.i18n import DEFAULT_LANGUAGE, t
from funnel.store.models import Contract, Customer, Opportunity, Payment

KINDS = ("opportunities", "contracts", "payments")

_COMMON = {
    "customer_no": ("客户编号", "客户号", "customer number", "customer id", "客戶編號"),
    "customer_external_id": ("客户外部编号", "客户外部id", "customer external id", "客戶外部編號"),
    "external_id": ("外部编号", "外部id", "external id", "外部編號", "ref", "reference"),
}
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "opportunities": {
        **_COMMON,
        "name": ("商机名称", "商机", "opportunity", "opportunity name", "商機名稱"),
        "amount": ("金额", "商机金额", "预计金额", "value", "金額"),
        "expected_close": ("预计成交日期", "预计成交", "expected close date", "close date", "預計成交日期"),
        "probability": ("赢率", "成交概率", "概率", "win probability", "probability %"),
        "next_step": ("下一步", "next step", "下一步计划"),
        "products": ("产品", "产品线", "product", "product lines", "產品"),
    },
    "contracts": {
        **_COMMON,
        "contract_no": ("合同编号", "合同号", "contract number", "order no", "合同編號"),
        "amount": ("合同金额", "金额", "contract amount", "合同金額", "金額"),
        "signed_at": ("签约日期", "签约时间", "signed on", "signed_on", "signed date", "簽約日期"),
        "status": ("状态", "合同状态", "contract status", "狀態"),
    },
    "payments": {
        **_COMMON,
        "contract_external_id": ("合同外部编号", "合同外部id", "contract external id", "合同外部編號"),
        "contract_no": ("合同编号", "合同号", "contract number", "合同編號"),
        "amount": ("回款金额", "金额", "paid amount", "payment amount", "回款金額", "金額"),
        "paid_at": (
            "回款日期",
            "到账日期",
            "received on",
            "received_on",
            "paid on",
            "payment date",
            "回款時間",
        ),
    },
}
_STATUS = {
    "draft": ("draft", "草稿"),
    "pending": ("pending", "waiting for approval", "待审批", "审批中", "待審批"),
    "signed": ("signed", "已签约", "签约", "已簽約", "won"),
    "rejected": ("rejected", "驳回", "已驳回", "駁回"),
}


def _key(text: object) -> str:
    bare = re.sub(r"[(（][^)）]*[)）]", "", str(text))
    return re.sub(r"[\s_\-.:：]", "", bare.casefold())


def map_columns(kind: str, headers: list[str]) -> tuple[dict[str, str], list[str]]:
    """{header: field} for the headers a field of `kind` recognises, and the headers left over."""
    spellings = {_key(s): name for name, words in SYNONYMS[kind].items() for s in (name, *words)}
    mapped: dict[str, str] = {}
    ignored: list[str] = []
    for header in headers:
        name = spellings.get(_key(header))
        if name is not None and name not in mapped.values():
            mapped[header] = name
        else:
            ignored.append(header)
    return mapped, ignored


@dataclass
class ClosingImportReport:
    kind: str
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    rejected: list[tuple[int, list[FieldError]]] = field(default_factory=list)


def _customer(
    session: Session, actor: Actor, row: dict[str, str | None], errors: list[FieldError]
) -> Customer | None:
    number, external = row.get("customer_no"), row.get("customer_external_id")
    if not number and not external:
        errors.append(FieldError("customer_no", "closing.import.customer_missing"))
        return None
    stmt = select(Customer).where(
        Customer.customer_no == number if number else Customer.external_id == external
    )
    customer = session.scalars(stmt).first()
    if customer is None:
        errors.append(
            FieldError("customer_no", "closing.import.customer_unknown", {"value": str(number or external)})
        )
        return None
    require_customer(session, actor, customer, "customer.edit")
    return customer


def _by_external(session: Session, model: Any, external_id: str | None) -> Any:
    if not external_id:
        return None
    return session.scalars(select(model).where(model.external_id == external_id)).first()


def _other_customer(found: object, customer: Customer, errors: list[FieldError]) -> bool:
    if found is not None and getattr(found, "customer_id", None) != customer.id:
        errors.append(FieldError("external_id", "closing.import.external_other_customer"))
        return True
    return False


def _audit(
    session: Session,
    actor: Actor,
    entity: AuditEntity,
    row_id: int,
    customer_id: int,
    created: bool,
    changes: dict[str, list[object]],
) -> None:
    audit.record(
        session,
        action=AuditAction.IMPORT_CREATE if created else AuditAction.IMPORT_UPDATE,
        entity=entity,
        entity_id=row_id,
        customer_id=customer_id,
        user_id=actor.user_id,
        changes=changes,
    )


def import_opportunity(session: Session, actor: Actor, row: dict[str, str | None]) -> bool:
    """One opportunity row; True when it created one (False: updated). Raises UserError on a bad row."""
    errors: list[FieldError] = []
    customer = _customer(session, actor, row, errors)
    external = clean_str("external_id", row.get("external_id"), errors, max_length=128)
    amount = clean_amount("amount", row.get("amount"), errors, allow_zero=True)
    expected = clean_date("expected_close", row.get("expected_close"), errors)
    name = clean_str("name", row.get("name"), errors, max_length=200)
    next_step = clean_str("next_step", row.get("next_step"), errors, max_length=500)
    products = clean_str("products", row.get("products"), errors, max_length=500)
    probability = _probability(row.get("probability"), errors)
    found = _by_external(session, Opportunity, external)
    if customer is not None and _other_customer(found, customer, errors):
        pass
    if errors:
        raise UserError(errors)
    assert customer is not None and amount is not None
    target = found or Opportunity(
        customer_id=customer.id, external_id=external, created_at=utcnow(), by_user_id=actor.user_id
    )
    values: dict[str, object] = {"name": name, "amount": amount, "expected_close": expected,
                                 "probability": probability, "next_step": next_step,
                                 "products": products}  # fmt: skip
    before = {k: getattr(target, k) for k in values} if found else {}
    for key, value in values.items():
        setattr(target, key, value)
    session.add(target)
    session.flush()
    _audit(
        session,
        actor,
        AuditEntity.OPPORTUNITY,
        target.id,
        customer.id,
        found is None,
        audit.diff(before, values),
    )
    return found is None


def _probability(raw: object, errors: list[FieldError]) -> int | None:
    text = (cell_text(raw) or "").rstrip("%").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1
    if 0 < value < 1 and "." in text:
        value *= 100
    if not 0 <= value <= 100:
        errors.append(
            FieldError("probability", "closing.error.probability_invalid", {"value": str(raw)[:20]})
        )
        return None
    return round(value)


def _status(raw: object, errors: list[FieldError]) -> str | None:
    text = cell_text(raw)
    if text is None:
        return None
    folded = text.casefold().strip()
    for status, words in _STATUS.items():
        if folded in words:
            return status
    errors.append(FieldError("status", "closing.import.status_unknown", {"value": text[:40]}))
    return None


def import_contract(session: Session, actor: Actor, row: dict[str, str | None]) -> bool:
    """One contract row; a signed one makes its customer won through the signing path (delivery is not
    told about historical contracts)."""
    errors: list[FieldError] = []
    customer = _customer(session, actor, row, errors)
    external = clean_str("external_id", row.get("external_id"), errors, max_length=128)
    amount = clean_amount("amount", row.get("amount"), errors)
    signed_on = clean_date("signed_at", row.get("signed_at"), errors)
    number = clean_str("contract_no", row.get("contract_no"), errors, max_length=64)
    status = _status(row.get("status"), errors) or ("signed" if signed_on else "draft")
    if status == "signed" and signed_on is None and not errors:
        errors.append(FieldError("signed_at", "error.required"))
    if signed_on is not None and signed_on > team_today():
        errors.append(FieldError("signed_at", "closing.error.future_date", {"value": signed_on.isoformat()}))
    found = _by_external(session, Contract, external)
    if customer is not None:
        _other_customer(found, customer, errors)
    if found is not None and found.status == "signed" and status != "signed":
        errors.append(FieldError("status", "closing.error.contract_state", {"status": found.status}))
    if errors:
        raise UserError(errors)
    assert customer is not None and amount is not None
    target = found or Contract(
        customer_id=customer.id,
        external_id=external,
        created_at=utcnow(),
        by_user_id=actor.user_id,
        status="draft",
    )
    before = {"amount": target.amount, "contract_no": target.contract_no, "status": target.status,
              "signed_on": target.signed_on} if found else {}  # fmt: skip
    target.amount, target.contract_no = amount, number
    session.add(target)
    session.flush()
    if status == "signed" and target.status != "signed":
        contract_flow.sign_contract(
            session, actor=actor, contract=target, signed_on=signed_on, tell_delivery=False
        )
    else:
        target.status = status
        if status == "signed":
            target.signed_on = signed_on
    after = {"amount": amount, "contract_no": number, "status": target.status, "signed_on": target.signed_on}
    _audit(
        session, actor, AuditEntity.CONTRACT, target.id, customer.id, found is None, audit.diff(before, after)
    )
    return found is None


def import_payment(session: Session, actor: Actor, row: dict[str, str | None]) -> bool:
    """One payment row, against a signed contract of the same customer; never more than it owes."""
    errors: list[FieldError] = []
    customer = _customer(session, actor, row, errors)
    external = clean_str("external_id", row.get("external_id"), errors, max_length=128)
    amount = clean_amount("amount", row.get("amount"), errors)
    paid_on = clean_date("paid_at", row.get("paid_at"), errors, required=True)
    if paid_on is not None and paid_on > team_today():
        errors.append(FieldError("paid_at", "closing.error.future_date", {"value": paid_on.isoformat()}))
    contract = None
    contract_ref = row.get("contract_external_id") or row.get("contract_no")
    if not contract_ref:
        errors.append(FieldError("contract_external_id", "closing.import.contract_missing"))
    elif customer is not None:
        column = Contract.external_id if row.get("contract_external_id") else Contract.contract_no
        contract = session.scalars(
            select(Contract).where(column == contract_ref, Contract.customer_id == customer.id)
        ).first()
        if contract is None:
            errors.append(
                FieldError("contract_external_id", "closing.import.contract_unknown", {"value": contract_ref})
            )
        elif contract.status != "signed":
            errors.append(FieldError("contract_external_id", "closing.error.contract_not_signed"))
    found = _by_external(session, Payment, external)
    if customer is not None:
        _other_customer(found, customer, errors)
    if contract is not None and amount is not None and not errors:
        others = select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.contract_id == contract.id)
        if found is not None:
            others = others.where(Payment.id != found.id)
        outstanding = contract.amount - (session.scalar(others) or 0)
        if amount > outstanding:
            errors.append(
                FieldError("amount", "closing.error.overpaid", {"outstanding": f"{outstanding:,.2f}"})
            )
    if errors:
        raise UserError(errors)
    assert customer is not None and contract is not None and amount is not None and paid_on is not None
    target = found or Payment(
        customer_id=customer.id, external_id=external, created_at=utcnow(), by_user_id=actor.user_id
    )
    before = (
        {"amount": target.amount, "received_on": target.received_on, "contract_id": target.contract_id}
        if found
        else {}
    )
    target.amount, target.received_on, target.contract_id = amount, paid_on, contract.id
    session.add(target)
    session.flush()
    after = {"amount": amount, "received_on": paid_on, "contract_id": contract.id}
    _audit(
        session, actor, AuditEntity.PAYMENT, target.id, customer.id, found is None, audit.diff(before, after)
    )
    return found is None


IMPORTERS = {"opportunities": import_opportunity, "contracts": import_contract, "payments": import_payment}


def import_closing_file(
    engine: Engine, path: Path | str, *, kind: str, actor: Actor, dry_run: bool = False
) -> ClosingImportReport:
    """Import every row of `path` as `kind`; each good row is committed, each bad one reported."""
    require(actor, "customer.import")  # each row is checked again against its customer
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    report = ClosingImportReport(kind=kind)
    write = IMPORTERS[kind]
    with open_rows(path) as (headers, rows):
        report.columns, report.ignored_columns = map_columns(kind, headers)
        with session_scope(engine) as session:
            for number, raw in enumerate(rows, start=2):
                values = {name: cell_text(raw.get(header)) for header, name in report.columns.items()}
                if not any(values.values()):
                    continue  # a blank row
                try:
                    with session.begin_nested():
                        created = write(session, actor, values)
                except UserError as exc:
                    report.rejected.append((number, exc.field_errors()))
                    continue
                if created:
                    report.created += 1
                else:
                    report.updated += 1
            if dry_run:
                session.rollback()
    return report


def report_lines(report: ClosingImportReport, lang: str = DEFAULT_LANGUAGE) -> list[str]:
    """The column mapping, ignored columns, each rejected row, then the summary line."""
    mapping = ", ".join(f"{header} -> {name}" for header, name in report.columns.items())
    lines = [t("import.notice.columns", lang, columns=mapping)]
    if report.ignored_columns:
        lines.append(t("import.notice.ignored", lang, columns=", ".join(report.ignored_columns)))
    for row, errors in report.rejected:
        reasons = "; ".join(describe(error, lang) for error in errors)
        lines.append(t("import.row.rejected", lang, row=row, reasons=reasons))
    lines.append(
        t(
            "closing.import.summary",
            lang,
            kind=report.kind,
            created=report.created,
            updated=report.updated,
            rejected=len(report.rejected),
        )
    )
    return lines


__all__ = ["KINDS", "ClosingImportReport", "ImportFileError", "import_closing_file", "report_lines"]
