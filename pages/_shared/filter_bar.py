"""The analytics filter bar: period (presets or a range, by creation or by activity) and attribute values.

One call per page, `filters = filter_bar(actor, key_prefix="dash")`, draws it and returns the
`CustomerFilter` every query of the page takes. The choice lives in the address bar too
(?period=90d&basis=active&channel=展会&channel=直播&grade=A), so a view can be bookmarked and shared: the
URL is read on the page's first run (and whenever it names other filters than the bar last wrote),
and rewritten on every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import streamlit as st

from funnel.access.permissions import Actor
from funnel.analytics.filters import ACTIVE, BASES, CREATED, FILTER_FIELDS, CustomerFilter
from funnel.analytics.periods import CUSTOM_PERIOD, PERIODS, period_bounds
from funnel.core.clock import team_today
from funnel.core.i18n import t
from pages._shared.common import (
    cached_list_labels,
    cached_segment_values,
    current_language,
    database_url,
    keep_translated_choices,
    tr,
)
from pages._shared.forms import guarded_read

# The address bar's names: period, from, to, basis, and one per filter field (repeated for several values).
PERIOD_PARAMS = ("period", "from", "to", "basis")
URL_PARAMS = (*PERIOD_PARAMS, *FILTER_FIELDS)
# The widget key of each field's multiselect, after the page's prefix (dash_channels, dash_grades, ...).
WIDGET_SUFFIX = {
    "channel": "channels",
    "campaign": "campaigns",
    "owner": "owners",
    "team": "teams",
    "region": "regions",
    "industry": "industries",
    "grade": "grades",
    "tag": "tags",
}
# Fields whose stored values are codes of a managed list of the same name, shown by their names.
LISTED = {
    "channel": "channel",
    "campaign": "campaign",
    "region": "region",
    "industry": "industry",
    "tag": "tag",
}
DEFAULT_PERIOD = "all"
DEFAULT_CUSTOM_DAYS = 182
# The custom range's calendar bounds (a hand-edited URL outside them is ignored).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def widget_key(key_prefix: str, name: str) -> str:
    if name in WIDGET_SUFFIX:
        return f"{key_prefix}_{WIDGET_SUFFIX[name]}"
    return f"{key_prefix}_{name}"


def _iso(text: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def state_from_params(params: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The bar's widget values named by a query string ({name: [values]}); what is invalid is left out."""
    state: dict[str, Any] = {}
    period = _last(params.get("period"))
    if period in PERIODS or period == CUSTOM_PERIOD:
        state["period"] = period
    since, until = _iso(_last(params.get("from")) or ""), _iso(_last(params.get("to")) or "")
    if since or until:
        state["period"] = CUSTOM_PERIOD
        state["range"] = tuple(d for d in (since, until) if d is not None)
    basis = _last(params.get("basis"))
    if basis in BASES:
        state["basis"] = basis
    for name in FILTER_FIELDS:
        wanted = [v for v in params.get(name, ()) if v]
        if wanted:
            state[name] = list(dict.fromkeys(wanted))
    return state


def params_from_state(
    preset: str, custom: Sequence[date], basis: str, values: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """The query string for the bar's values: only what differs from the defaults."""
    params: dict[str, list[str]] = {}
    if preset == CUSTOM_PERIOD:
        if custom:
            params["from"] = [custom[0].isoformat()]
        if len(custom) > 1:
            params["to"] = [custom[1].isoformat()]
        if not custom:
            params["period"] = [CUSTOM_PERIOD]
    elif preset != DEFAULT_PERIOD:
        params["period"] = [preset]
    if basis != CREATED:
        params["basis"] = [basis]
    for name in FILTER_FIELDS:
        if values.get(name):
            params[name] = list(values[name])
    return params


def _last(values: Sequence[str] | None) -> str | None:
    return values[-1] if values else None


def _url_params() -> dict[str, list[str]]:
    return {name: st.query_params.get_all(name) for name in URL_PARAMS if st.query_params.get_all(name)}


def _load_url(key_prefix: str) -> None:
    """Set the widgets from the address bar on the first run, or when the URL names other filters."""
    written_key = f"{key_prefix}_url_written"
    current = _url_params()
    written = st.session_state.get(written_key)
    if written is not None and (not current or current == written):
        return  # the bar's own URL (or none, e.g. back from another page): keep the widgets as they are
    state = state_from_params(current)
    if written is not None:  # a new link within the session: what it does not name goes back to default
        for name in (*FILTER_FIELDS, "range", "basis", "period"):
            st.session_state.pop(widget_key(key_prefix, name), None)
    for name, value in state.items():
        st.session_state[widget_key(key_prefix, name)] = value
    st.session_state[written_key] = current


def _write_url(key_prefix: str, params: dict[str, list[str]]) -> None:
    current = _url_params()
    if current != params:
        for name in URL_PARAMS:
            if name in params:
                st.query_params[name] = params[name]
            elif name in st.query_params:
                del st.query_params[name]
    st.session_state[f"{key_prefix}_url_written"] = params


def _period_caption(basis: str, since: date | None, until: date | None) -> str:
    if since is None and until is None:
        return tr(f"filter.caption.{basis}.all")
    return tr(
        f"filter.caption.{basis}",
        since=since.isoformat() if since else "…",
        until=until.isoformat() if until else "…",
    )


def filter_bar(actor: Actor, *, key_prefix: str, fields: Sequence[str] = FILTER_FIELDS) -> CustomerFilter:
    """Draw the filter bar (its widgets keyed `<key_prefix>_...`) and return the filter it sets.

    `fields` are the attribute filters to offer (every FILTER_FIELDS name by default); the period is
    always there. Values a URL names that the reader's customers do not have are still offered (and
    match nothing) rather than dropped silently.
    """
    lang = current_language()
    url = database_url()
    today = team_today()  # periods are the sales team's days (CRM_TIMEZONE)
    _load_url(key_prefix)
    period_key, range_key, basis_key = (widget_key(key_prefix, n) for n in ("period", "range", "basis"))
    keep_translated_choices(period_key, basis_key)
    top = st.columns([1, 1.3, 1.4])
    preset = top[0].selectbox(
        tr("filter.period"),
        options=[*PERIODS, CUSTOM_PERIOD],
        format_func=lambda key: t(f"period.{key}", lang),
        key=period_key,
    )
    custom: tuple[date, ...] = ()
    if preset == CUSTOM_PERIOD:
        if range_key not in st.session_state:
            st.session_state[range_key] = (today - timedelta(days=DEFAULT_CUSTOM_DAYS), today)
        picked = top[1].date_input(tr("filter.range"), min_value=FIRST_DAY, max_value=LAST_DAY, key=range_key)
        custom = tuple(picked) if isinstance(picked, tuple | list) else ()
    basis = top[2].radio(
        tr("filter.basis"),
        options=list(BASES),
        format_func=lambda key: t(f"filter.basis.{key}", lang),
        horizontal=True,
        key=basis_key,
        help=tr("filter.basis.help"),
    )
    values: dict[str, list[str]] = {}
    shown = [name for name in FILTER_FIELDS if name in fields]
    per_row = 4
    for start in range(0, len(shown), per_row):
        columns = st.columns(per_row)
        for column, name in zip(columns, shown[start : start + per_row], strict=False):
            values[name] = _field_select(column, actor, url, lang, key_prefix, name)
    since, until = period_bounds(preset, today=today, custom=custom)
    st.caption(_period_caption(basis or CREATED, since, until))
    _write_url(key_prefix, params_from_state(preset, custom, basis or CREATED, values))
    return CustomerFilter(
        since=since,
        until=until,
        values={name: tuple(chosen) for name, chosen in values.items() if chosen},
        basis=basis if basis in (CREATED, ACTIVE) else CREATED,
    )


def _field_select(column: Any, actor: Actor, url: str, lang: str, key_prefix: str, name: str) -> list[str]:
    key = widget_key(key_prefix, name)
    with guarded_read():
        known = cached_segment_values(url, name, actor)
        names = cached_list_labels(url, LISTED[name], lang) if name in LISTED else {}
    chosen = st.session_state.get(key) or []
    options = [*known, *(v for v in chosen if v not in known)]
    picked: list[str] = column.multiselect(
        tr(f"filter.{name}"),
        options=options,
        format_func=lambda value: names.get(value, value),
        placeholder=tr("filter.all"),
        key=key,
    )
    return picked
