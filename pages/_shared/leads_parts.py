"""What the leads list and the board share: the filter bar (kept in the address bar), the table, bulk actions.

The filters are widgets whose values also live in the query string (?stage=qualify&grade=A&sort=score),
so a filtered list is a link; a link is read into the widgets on the page's first run in a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, allowed
from funnel.core.clock import day_start_utc, next_day, utcnow
from funnel.core.export import spreadsheet_safe
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.customers.deadline import SLA_STATES
from funnel.customers.fields import GRADES, STATUSES
from funnel.customers.lists import labels
from funnel.customers.read import (
    SORT_KEYS,
    LeadFilters,
    owner_choices,
    team_choices,
)
from funnel.customers.tags import tag_choices
from funnel.pipeline.stages import Pipeline
from funnel.working.bulk import BulkResult
from pages._shared.common import browser_zone, keep_translated_choices, tr
from pages._shared.customer_parts import text

MULTI = ("stage", "grade", "channel")  # filters that take several values (?grade=A&grade=B)
INTS = ("owner", "score_min", "score_max", "page")
DATES = ("from", "to")
# Query-string name -> widget key suffix (the widget key is "<page prefix>_<suffix>").
URL_NAMES = {
    "q": "search", "status": "status", "sort": "sort", "stage": "stage", "grade": "grade", "owner": "owner",
    "sla": "sla", "team": "team", "channel": "channel", "tag": "tag", "score_min": "score_min",
    "score_max": "score_max", "from": "from", "to": "to", "page": "page",
}  # fmt: skip


@dataclass(frozen=True)
class Chosen:
    """What the filter bar holds: the search text, status, filters, sort order and page."""

    search: str
    status: str | None
    filters: LeadFilters
    sort: str
    page: int
    problems: tuple[str, ...] = ()  # messages about contradicting filters (shown; the list stays empty)
    url: dict[str, Any] = field(default_factory=dict)  # the query string that holds this choice


def _parse(name: str, raw: list[str]) -> Any:
    values = [v for v in raw if v]
    if name in MULTI:
        return values
    if not values:
        return None
    value = values[-1]
    if name in INTS:
        return int(value) if value.isdigit() else None
    if name in DATES:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return value


def read_url(prefix: str) -> None:
    """On the page's first run in this session, put the address bar's filters into the widgets."""
    flag = f"{prefix}_from_url"
    if flag in st.session_state:
        return
    st.session_state[flag] = True
    params = st.query_params
    for name, suffix in URL_NAMES.items():
        if name in params:
            value = _parse(name, params.get_all(name))
            if value is not None:
                st.session_state[f"{prefix}_{suffix}"] = value
    if params.get("overdue") == "1" and "sla" not in params:  # the older link form of the overdue filter
        st.session_state[f"{prefix}_sla"] = "overdue"


def _keep_known(key: str, options: Sequence[Any], *, multi: bool) -> None:
    """Drop a value (from a link) the widget's options do not hold, which Streamlit would refuse."""
    if key not in st.session_state:
        return
    value = st.session_state[key]
    if multi:
        st.session_state[key] = [v for v in value if v in options]
    elif value not in options:
        del st.session_state[key]


def filter_bar(
    session: Session, prefix: str, *, actor: Actor, pipeline: Pipeline, lang: str, with_status: bool = True
) -> Chosen:
    """Draw the search, filters and sort (keys "<prefix>_..."), write them to the URL, return the choice.

    The board shows open customers only, so it draws no status filter (`with_status` False).
    """
    read_url(prefix)
    key = f"{prefix}_{{}}".format
    keep_translated_choices(key("status"), key("sort"), key("sla"))
    any_label = t("leads.filter.any", lang)
    owners = {user.id: user.display_name for user in owner_choices(session, actor=actor)}
    teams = team_choices(session, actor=actor)
    channel_names = labels(session, "channel", lang)
    channels = list(channel_names)
    channels += [c for c in st.session_state.get(key("channel"), []) if c not in channel_names]
    tags = tag_choices(session, lang)
    for suffix, options, multi in (
        ("status", ["all", *STATUSES], False),
        ("sort", SORT_KEYS, False),
        ("stage", pipeline.keys, True),
        ("grade", list(GRADES), True),
        ("owner", [None, *owners], False),
        ("sla", [None, *SLA_STATES], False),
        ("team", [None, *teams], False),
        ("tag", [None, *tags], False),
    ):
        _keep_known(key(suffix), options, multi=multi)

    search_col, status_col, sort_col = st.columns([3, 1, 2])
    search = search_col.text_input(
        tr("leads.search"), key=key("search"), placeholder=tr("leads.search.placeholder")
    )
    status = (
        status_col.selectbox(
            tr("leads.status"),
            ["all", *STATUSES],
            format_func=lambda k: t(f"leads.status.{k}", lang),
            key=key("status"),
        )
        if with_status
        else "all"
    )
    sort = sort_col.selectbox(
        tr("leads.sort"), SORT_KEYS, format_func=lambda k: t(f"leads.sort.{k}", lang), key=key("sort")
    )
    stage_col, grade_col, owner_col, sla_col = st.columns([3, 2, 2, 2])
    stages = stage_col.multiselect(
        tr("leads.filter.stage"),
        pipeline.keys,
        format_func=lambda k: pipeline.name(k, lang),
        key=key("stage"),
    )
    grades = grade_col.multiselect(tr("leads.filter.grade"), list(GRADES), key=key("grade"))
    owner = owner_col.selectbox(
        tr("leads.filter.owner"),
        [None, *owners],
        format_func=lambda v: any_label if v is None else owners[v],
        key=key("owner"),
    )
    sla = sla_col.selectbox(
        tr("leads.filter.sla"),
        [None, *SLA_STATES],
        format_func=lambda v: any_label if v is None else t(f"leads.sla.{v}", lang),
        key=key("sla"),
    )
    more_keys = ("team", "channel", "tag", "score_min", "score_max", "from", "to")
    with st.expander(tr("leads.filter.more"), expanded=any(st.session_state.get(key(k)) for k in more_keys)):
        team_col, channel_col, tag_col = st.columns(3)
        team = team_col.selectbox(
            tr("leads.filter.team"),
            [None, *teams],
            format_func=lambda v: any_label if v is None else v,
            key=key("team"),
        )
        chosen_channels = channel_col.multiselect(
            tr("leads.filter.channel"),
            channels,
            format_func=lambda c: channel_names.get(c, c),
            key=key("channel"),
        )
        tag = tag_col.selectbox(
            tr("leads.filter.tag"),
            [None, *tags],
            format_func=lambda v: any_label if v is None else tags[v],
            key=key("tag"),
        )
        low_col, high_col, from_col, to_col = st.columns(4)
        score_min = low_col.number_input(
            tr("leads.filter.score_min"), step=1, value=None, key=key("score_min")
        )
        score_max = high_col.number_input(
            tr("leads.filter.score_max"), step=1, value=None, key=key("score_max")
        )
        created_from = from_col.date_input(tr("leads.filter.created_from"), value=None, key=key("from"))
        created_to = to_col.date_input(tr("leads.filter.created_to"), value=None, key=key("to"))
    # A changed filter starts again at page 1 (the page widget is drawn after the bar, so it may be set).
    signature = repr((search, status, sort, stages, grades, owner, sla, team, chosen_channels, tag,
                      score_min, score_max, created_from, created_to))  # fmt: skip
    if st.session_state.get(key("signature"), signature) != signature:
        st.session_state[key("page")] = 1
    st.session_state[key("signature")] = signature
    page = int(st.session_state.get(key("page")) or 1)

    problems = []
    if score_min is not None and score_max is not None and score_min > score_max:
        problems.append(tr("leads.error.score_range"))
    if isinstance(created_from, date) and isinstance(created_to, date) and created_from > created_to:
        problems.append(tr("leads.error.date_range"))
    filters = LeadFilters(
        stages=tuple(stages),
        owner_id=owner,
        team=team,
        grades=tuple(grades),
        channels=tuple(chosen_channels),
        tag=tag,
        score_min=int(score_min) if score_min is not None else None,
        score_max=int(score_max) if score_max is not None else None,
        sla=sla,
        created_from=day_start_utc(created_from) if isinstance(created_from, date) else None,
        created_to=day_start_utc(next_day(created_to)) if isinstance(created_to, date) else None,
    )
    url: dict[str, Any] = {
        "q": search.strip(),
        "status": "" if status == "all" else status,
        "sort": "" if sort == SORT_KEYS[0] else sort,
        "stage": stages,
        "grade": grades,
        "owner": "" if owner is None else str(owner),
        "sla": sla or "",
        "team": team or "",
        "channel": chosen_channels,
        "tag": tag or "",
        "score_min": "" if score_min is None else str(int(score_min)),
        "score_max": "" if score_max is None else str(int(score_max)),
        "from": created_from.isoformat() if isinstance(created_from, date) else "",
        "to": created_to.isoformat() if isinstance(created_to, date) else "",
        "page": str(page) if page > 1 else "",
    }
    shown = {name: value for name, value in url.items() if value}
    st.query_params.from_dict(shown)
    return Chosen(search, None if status == "all" else status, filters, sort, page, tuple(problems), shown)


def switch_view(page: str, prefix: str, chosen: Chosen) -> None:
    """Open the other view (list or board) with the same filters: it reads them from the link anew."""
    st.session_state.pop(f"{prefix}_from_url", None)
    params = {name: value for name, value in chosen.url.items() if name != "page"}
    st.switch_page(page, query_params=params)


# ---- the table


TABLE_COLUMNS = (
    "customer_no", "name", "company", "stage", "status", "owner", "grade", "score", "win_probability",
    "amount", "first_contact_overdue", "tags", "last_activity", "created_at", "first_contacted_at",
    "channel", "region", "industry",
)  # fmt: skip


def leads_table(frame: pd.DataFrame, pipeline: Pipeline, lang: str) -> tuple[Any, dict[str, Any]]:
    """The list as shown (stage and status by name, no empty cells, overdue in red) and its columns."""
    shown = pd.DataFrame({name: [text(v, "") for v in frame[name]] for name in TABLE_COLUMNS})
    shown["stage"] = [pipeline.name(key, lang) for key in frame["stage"]]
    shown["status"] = [t(f"leads.status.{status}", lang) for status in frame["status"]]
    shown["score"] = ["" if pd.isna(v) else str(int(v)) for v in frame["score"]]
    shown["win_probability"] = ["" if pd.isna(v) else f"{v:.0%}" for v in frame["win_probability"]]
    shown["first_contact_overdue"] = [
        t("leads.overdue", lang) if v else "" for v in frame["first_contact_overdue"]
    ]
    shown["created_at"] = (
        pd.to_datetime(frame["created_at"]).dt.tz_localize(UTC).dt.tz_convert(browser_zone())
    )
    config: dict[str, Any] = {
        name: st.column_config.TextColumn(t(f"leads.col.{name}", lang)) for name in TABLE_COLUMNS
    }
    config["created_at"] = st.column_config.DatetimeColumn(
        t("leads.col.created_at", lang), format="YYYY-MM-DD HH:mm"
    )
    config["first_contact_overdue"] = st.column_config.TextColumn(
        t("leads.col.first_contact_overdue", lang),
        width=110,
        help=t("leads.col.first_contact_overdue.help", lang, hours=get_settings().first_contact_sla_hours),
    )
    red = "color: #d62728; font-weight: 600"
    # The table's toolbar downloads a CSV: cells a spreadsheet would run as formulas are neutralised.
    safe = spreadsheet_safe(shown)
    return safe.style.map(lambda v: red if v else "", subset=["first_contact_overdue"]), config


def days_in_stage(since: object, now: datetime | None = None) -> int | None:
    """Whole days since a customer entered its stage (None when no stage event says when)."""
    if since is None or pd.isna(since):
        return None
    return max(((now or utcnow()) - pd.Timestamp(since).to_pydatetime()).days, 0)


# ---- bulk actions (managers)

BULK_ACTIONS = ("reassign", "tag_add", "tag_remove", "grade")


REFUSED_KEY = "leads_bulk_refused"  # the refused rows of the last bulk action, shown once as a warning


def bulk_message(action: str, result: BulkResult) -> str:
    """The result line: how many changed, were already so, and were refused."""
    return tr(
        "leads.bulk.result",
        action=tr(f"leads.bulk.action.{action}"),
        changed=len(result.changed),
        unchanged=len(result.unchanged),
        refused=len(result.refused),
    )


def keep_refused(result: BulkResult) -> None:
    """Remember the refused rows for the next run (after the commit), one line each naming why."""
    lines = [
        tr(
            "leads.bulk.refused",
            customer_no=number,
            reason="; ".join(tr(e.code, **e.params) for e in errors),
        )
        for number, errors in result.refused
    ]
    if lines:
        st.session_state[REFUSED_KEY] = "  \n".join(lines)


def show_refused() -> None:
    if refused := st.session_state.pop(REFUSED_KEY, None):
        st.warning(refused, icon=":material/block:")


def may_bulk(actor: Actor) -> bool:
    return allowed(actor, "customer.assign")
