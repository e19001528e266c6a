"""The one specification of a customer's fields: label, length, who edits it, audit, import, synonyms.

The lead form, the customer edit, the importer, the demo, the leads list and the audit view all read
this table; a field's maximum length comes from its database column, so a value too long for
PostgreSQL is refused on the field everywhere instead of failing the save.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String

from funnel.core.errors import FieldError
from funnel.core.i18n import t
from funnel.core.validation import clean
from funnel.pipeline.stages import LOST, WON
from funnel.store.models import Contact, Customer, User

GRADES = ("A", "B", "C")
OPEN = "open"
STATUSES = (OPEN, WON, LOST)


@dataclass(frozen=True)
class CustomerField:
    """One field of a customer as every form, import and audit view knows it."""

    name: str
    column: ColumnElement[Any] | None  # where it is stored (its length is the limit); None: not a column
    # Kinds: text, contact (phone / e-mail / WeChat), choice, stage, user, amount, date.
    kind: str = "text"
    required: bool = False
    on_lead_form: bool = False  # typed on the new-lead form
    editable: bool = False  # on the customer page's edit form
    audited: bool = False  # a change is written to the audit log
    importable: bool = False  # a column of an import file
    synonyms: tuple[str, ...] = ()  # header spellings besides the name (English, 简体, 繁體)

    @property
    def label_key(self) -> str:
        return f"field.{self.name}"

    @property
    def max_length(self) -> int | None:
        if self.column is not None and isinstance(self.column.type, String):
            return self.column.type.length
        return None


def _syn(spellings: str) -> tuple[str, ...]:
    return tuple(spellings.split("|"))


_c, _k = Customer.__table__.c, Contact.__table__.c
FIELDS: tuple[CustomerField, ...] = (
    CustomerField("external_id", _c.external_id, importable=True, synonyms=_syn("external id|ext id|外部编号|外部編號|外部id")),
    CustomerField(
        "name", _c.name, required=True, on_lead_form=True, editable=True, audited=True, importable=True,
        synonyms=_syn("lead|lead name|customer|customer name|姓名|名称|名稱|客户|客戶|客户名称|客戶名稱|线索名称|線索名稱"),
    ),
    CustomerField(
        "company", _c.company, on_lead_form=True, editable=True, audited=True, importable=True,
        synonyms=_syn("company name|organization|organisation|account|公司|公司名称|公司名稱|单位|單位|企业|企業"),
    ),
    CustomerField("contact_name", _k.name, on_lead_form=True, importable=True, synonyms=_syn("contact|contact person|联系人|聯繫人|聯絡人")),
    CustomerField(
        "phone", _k.phone, kind="contact", on_lead_form=True, importable=True,
        synonyms=_syn("mobile|tel|telephone|phone number|手机|手機|手机号|手機號|手机号码|手機號碼|电话|電話|联系电话|聯繫電話"),
    ),
    CustomerField(
        "email", _k.email, kind="contact", on_lead_form=True, importable=True,
        synonyms=_syn("e-mail|mail|email address|邮箱|郵箱|电子邮件|電子郵件|邮件|郵件|电邮|電郵"),
    ),
    CustomerField("wechat", _k.wechat, kind="contact", on_lead_form=True, importable=True, synonyms=_syn("weixin|wechat id|微信|微信号|微信號")),
    CustomerField(
        "channel", _c.channel, kind="choice", on_lead_form=True, editable=True, audited=True, importable=True,
        synonyms=_syn("source|lead source|origin|渠道|来源|來源|线索来源|線索來源"),
    ),
    CustomerField(
        "region", _c.region, on_lead_form=True, editable=True, audited=True, importable=True,
        synonyms=_syn("area|city|province|地区|地區|区域|區域|城市|省份"),
    ),
    CustomerField(
        "campaign", _c.campaign, kind="choice", on_lead_form=True, audited=True, importable=True,
        synonyms=_syn("marketing campaign|campaign name|活动|活動|市场活动|市場活動|营销活动|營銷活動"),
    ),
    CustomerField("industry", _c.industry, on_lead_form=True, editable=True, audited=True, importable=True, synonyms=_syn("sector|行业|行業")),
    CustomerField("owner_id", _c.owner_id, kind="user", audited=True),
    CustomerField("team", _c.team, audited=True, importable=True, synonyms=_syn("sales team|团队|團隊|销售团队|銷售團隊|小组|小組")),
    # An import names the owner by username or display name (so its limit is a display name's).
    CustomerField(
        "owner", User.__table__.c.display_name, kind="user", importable=True,
        synonyms=_syn("sales rep|rep|salesperson|assigned to|负责人|負責人|销售|銷售|跟进人|跟進人|销售代表|銷售代表"),
    ),
    CustomerField("tags", _c.tags, on_lead_form=True, editable=True, audited=True, importable=True, synonyms=_syn("tag|labels|标签|標籤|標簽")),
    CustomerField(
        "grade", _c.grade, kind="choice", on_lead_form=True, editable=True, audited=True, importable=True,
        synonyms=_syn("rating|等级|等級|意向等级|意向等級|客户等级|客戶等級"),
    ),
    CustomerField(
        "stage", _c.stage, kind="stage", on_lead_form=True, audited=True, importable=True,
        synonyms=_syn("pipeline stage|阶段|階段|销售阶段|銷售階段"),
    ),
    CustomerField("status", _c.status, kind="choice", audited=True, importable=True, synonyms=_syn("outcome|状态|狀態")),
    CustomerField(
        "lost_reason", _c.lost_reason, audited=True, importable=True,
        synonyms=_syn("loss reason|lost reason|输单原因|輸單原因|丢单原因|丟單原因"),
    ),
    CustomerField("budget_range", _c.budget_range, editable=True, audited=True),
    CustomerField("purchase_timeline", _c.purchase_timeline, editable=True, audited=True),
    CustomerField("use_case", _c.use_case, editable=True, audited=True),
    CustomerField("competitors", _c.competitors, editable=True, audited=True),
    CustomerField(
        "amount", None, kind="amount", importable=True,
        synonyms=_syn("deal amount|deal value|value|金额|金額|预计金额|預計金額|商机金额|商機金額"),
    ),
    CustomerField(
        "created_at", _c.created_at, kind="date", importable=True,
        synonyms=_syn("created|created date|create time|date created|创建时间|創建時間|创建日期|創建日期|录入时间|錄入時間"),
    ),
)  # fmt: skip
BY_NAME = {f.name: f for f in FIELDS}
EDITABLE_FIELDS = tuple(f.name for f in FIELDS if f.editable)
AUDITED_FIELDS = tuple(f.name for f in FIELDS if f.audited)
LEAD_FORM_FIELDS = tuple(f.name for f in FIELDS if f.on_lead_form)
IMPORT_FIELDS = tuple(f.name for f in FIELDS if f.importable)


def field_label(name: str, lang: str) -> str:
    """A field's label in `lang` (any field the audit log records), or its name when none is known."""
    key = f"field.{name}"
    label = t(key, lang)
    return name if label == key else label


def audited_fields(customer: Customer) -> dict[str, object]:
    """The customer's audited values, as the audit log compares them before and after a change."""
    return {name: getattr(customer, name) for name in AUDITED_FIELDS}


def clean_text(name: str, raw: object, errors: list[FieldError]) -> str | None:
    """Trimmed text for field `name`, or None; an over-long or NUL-bearing value adds an error instead."""
    value = clean(raw)
    if value is None:
        return None
    if "\x00" in value:
        errors.append(FieldError(name, "error.invalid_characters"))
        return None
    limit = BY_NAME[name].max_length if name in BY_NAME else None
    if limit is not None and len(value) > limit:
        errors.append(FieldError(name, "error.too_long", {"max": str(limit), "length": str(len(value))}))
        return None
    return value


def clean_grade(raw: object, errors: list[FieldError]) -> str | None:
    grade = clean(raw)
    if grade is None:
        return None
    if grade.upper() not in GRADES:
        errors.append(FieldError("grade", "error.grade_invalid", {"value": grade}))
        return None
    return grade.upper()
