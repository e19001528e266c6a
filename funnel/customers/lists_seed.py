"""The managed lists a new install starts with: codes equal to what rows already store, names per language.

`seed_lists` is idempotent: it adds a missing value and never changes one a manager edited. It writes
through Core on the bare table so that migration 0012 can call it whatever the ORM model grows later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core.clock import utcnow
from funnel.core.errors import FieldError, ValidationError
from funnel.customers.lists import CODE_MAX, NAME_MAX, find_value, list_values, save_value

# list name -> (code, English, Chinese); the code is what customer rows store (the channel's Chinese text).
SEED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "channel": (
        ("官网", "Website", "官网"),
        ("公众号", "WeChat official account", "公众号"),
        ("直播", "Live stream", "直播"),
        ("小红书", "Xiaohongshu", "小红书"),
        ("展会", "Trade show", "展会"),
        ("转介绍", "Referral", "转介绍"),
        ("广告投放", "Paid ads", "广告投放"),
    ),
    "tag": (
        ("高意向", "High intent", "高意向"),
        ("教育行业", "Education sector", "教育行业"),
        ("大客户", "Key account", "大客户"),
        ("预算偏低", "Low budget", "预算偏低"),
        ("重点客户", "Priority", "重点客户"),
        ("老客户推荐", "Referred by a customer", "老客户推荐"),
        ("续约", "Renewal", "续约"),
        ("政府项目", "Government project", "政府项目"),
        ("试用中", "On trial", "试用中"),
    ),
    "region": (
        ("华东", "East China", "华东"),
        ("华南", "South China", "华南"),
        ("华北", "North China", "华北"),
        ("西南", "Southwest China", "西南"),
        ("华中", "Central China", "华中"),
        ("西北", "Northwest China", "西北"),
        ("东北", "Northeast China", "东北"),
    ),
    "industry": (
        ("制造业", "Manufacturing", "制造业"),
        ("零售", "Retail", "零售"),
        ("教育", "Education", "教育"),
        ("医疗", "Healthcare", "医疗"),
        ("金融", "Finance", "金融"),
        ("互联网", "Internet", "互联网"),
        ("物流", "Logistics", "物流"),
        ("建筑", "Construction", "建筑"),
    ),
    "campaign": (
        ("2026春季展会", "Spring trade show 2026", "2026春季展会"),
        ("618直播", "618 live stream", "618直播"),
        ("行业白皮书", "Industry white paper", "行业白皮书"),
        ("老客户推荐计划", "Customer referral programme", "老客户推荐计划"),
        ("搜索广告", "Search ads", "搜索广告"),
    ),
    "lost_reason": (
        ("price", "Price", "价格"),
        ("competitor", "Competitor", "竞品"),
        ("no_budget", "No budget", "没有预算"),
        ("no_decision", "No decision", "未做决定"),
        ("timing", "Timing", "时机不对"),
        ("no_response", "No response", "无回应"),
        ("other", "Other", "其他"),
    ),
    # Why a lost customer is worked again: a managed list (not free text) so that reopenings can be
    # counted by reason like losses; "other" takes a note (funnel.customers.stages.NOTE_REQUIRED).
    "reopen_reason": (
        ("budget_approved", "Budget approved", "预算已批"),
        ("came_back", "Customer came back", "客户主动回来"),
        ("competitor_failed", "Competitor did not work out", "竞品不合适"),
        ("timing_right", "The timing is right now", "时机成熟"),
        ("lost_by_mistake", "Marked lost by mistake", "误标为输单"),
        ("other", "Other", "其他"),
    ),
    # Qualification (funnel.working.qualification): codes equal to what the demo's rows store.
    "budget_band": (
        ("10万以下", "Under 100k", "10万以下"),
        ("10-30万", "100k–300k", "10-30万"),
        ("30-100万", "300k–1M", "30-100万"),
        ("100万以上", "Over 1M", "100万以上"),
    ),
    "competitor": (
        ("销售易", "Neocrm", "销售易"),
        ("纷享销客", "Fxiaoke", "纷享销客"),
        ("Salesforce", "Salesforce", "Salesforce"),
        ("用友", "Yonyou", "用友"),
        ("金蝶", "Kingdee", "金蝶"),
        ("HubSpot", "HubSpot", "HubSpot"),
    ),
}

_LIST_ITEM = sa.table(
    "list_item",
    sa.column("id", sa.Integer),
    sa.column("list_name", sa.String),
    sa.column("code", sa.String),
    sa.column("name_en", sa.String),
    sa.column("name_zh", sa.String),
    sa.column("sort_order", sa.Integer),
    sa.column("active", sa.Boolean),
    sa.column("managed", sa.Boolean),
    sa.column("created_at", sa.DateTime),
)


def seed_lists(session: Session) -> int:
    """Add the seeded values that are missing (by list and code); returns how many were added."""
    existing = {
        (list_name, code)
        for list_name, code in session.execute(sa.select(_LIST_ITEM.c.list_name, _LIST_ITEM.c.code))
    }
    now = utcnow()
    rows = [
        dict(list_name=list_name, code=code, name_en=en, name_zh=zh, sort_order=order, active=True,
             managed=True, created_at=now)
        for list_name, values in SEED.items()
        for order, (code, en, zh) in enumerate(values)
        if (list_name, code) not in existing
    ]  # fmt: skip
    if rows:
        session.execute(sa.insert(_LIST_ITEM), rows)
    return len(rows)


# --- editing a whole list from the settings page ---------------------------------------------------------

EDITABLE_LISTS = (
    "channel", "campaign", "tag", "region", "industry", "lost_reason", "reopen_reason", "budget_band",
    "competitor",
)  # fmt: skip


def save_list(session: Session, *, actor: Actor, list_name: str, rows: Sequence[dict[str, object]]) -> int:
    """Save the edited table of one list: each row's code, names, order, active flag; returns rows saved.

    Every bad row is reported (its number from 1 and what is wrong), nothing is saved then. A code that
    disappeared from the table is deactivated, never deleted: old customers still carry it.
    """
    require(actor, "lists.manage")
    if list_name not in EDITABLE_LISTS:
        raise ValidationError([FieldError("list_name", "lists.unknown", {"value": list_name})])
    errors: list[FieldError] = []
    seen: set[str] = set()
    cleaned: list[tuple[str, str, str, int, bool]] = []
    for number, row in enumerate(rows, start=1):
        code = " ".join(str(row.get("code") or "").split())
        name_en = " ".join(str(row.get("name_en") or "").split())
        name_zh = " ".join(str(row.get("name_zh") or "").split())
        if not code:
            errors.append(FieldError("code", "lists.row_code_required", {"row": str(number)}))
            continue
        if code.casefold() in seen:
            errors.append(FieldError("code", "lists.row_code_twice", {"row": str(number), "value": code}))
            continue
        seen.add(code.casefold())
        if len(code) > CODE_MAX or max(len(name_en), len(name_zh)) > NAME_MAX:
            errors.append(
                FieldError("code", "lists.row_too_long", {"row": str(number), "max": str(NAME_MAX)})
            )
            continue
        raw_order = row.get("sort_order")
        try:
            order = int(str(raw_order)) if raw_order not in (None, "") else number - 1
        except ValueError:
            errors.append(FieldError("sort_order", "lists.row_order_invalid", {"row": str(number)}))
            continue
        cleaned.append((code, name_en, name_zh, order, bool(row.get("active", True))))
    if errors:
        raise ValidationError(errors)
    before = {
        v.code: (v.name_en, v.name_zh, v.active)
        for v in list_values(session, list_name, include_inactive=True)
    }
    for code, name_en, name_zh, order, active in cleaned:
        save_value(
            session, list_name, code=code, name_en=name_en, name_zh=name_zh, sort_order=order, active=active
        )
    for code in set(before) - {c for c, *_ in cleaned}:
        old = find_value(session, list_name, code)
        if old is not None and old.active:
            save_value(session, list_name, code=code, name_en=old.name_en, name_zh=old.name_zh, active=False)
    after = {
        v.code: (v.name_en, v.name_zh, v.active)
        for v in list_values(session, list_name, include_inactive=True)
    }
    changes: dict[str, list[object]] = {
        f"{list_name}:{code}": [repr(before.get(code)), repr(after.get(code))]
        for code in sorted(set(before) | set(after))
        if before.get(code) != after.get(code)
    }
    if changes:
        audit.record(
            session, action=AuditAction.UPDATE, entity=AuditEntity.SETTING, entity_id=None,
            user_id=actor.user_id, changes=changes,
        )  # fmt: skip
    session.flush()
    return len(cleaned)
