"""Routing (managers, admins): the rule set, a test on a sample lead, away reps and caps, group bots,
and reassigning many leads at once."""

import pandas as pd
import streamlit as st

from funnel.capture.routing import LeadFacts, describe_reason, load_rules, reassign_many
from funnel.capture.routing_rules import (
    current_rule_set,
    customer_ids_by_number,
    parse_rules_toml,
    preview,
    rep_statuses,
    replace_rules,
    rules_to_toml,
    set_availability,
)
from funnel.core.db import session_scope
from funnel.customers.edit import assignable_users
from funnel.integrations.outbox import (
    EndpointInput,
    add_endpoint,
    endpoint_statuses,
    failing_endpoints,
    retry_failed,
    send_test,
)
from funnel.integrations.webhooks import KINDS
from pages._shared import forms
from pages._shared.common import CUSTOMERS, USERS, current_language, get_engine, tr
from pages._shared.shell import page_setup

actor = page_setup("routing.manage")
lang = current_language()
st.title(tr("routing.title"))
st.caption(tr("routing.intro"))
forms.show_notice()

with forms.guarded_read(), session_scope(get_engine()) as session:
    rules = load_rules(session)
    toml_text = rules_to_toml(current_rule_set(session))
    reps = rep_statuses(session, actor=actor)
    hooks = endpoint_statuses(session, actor=actor)
    owners = assignable_users(session, actor=actor)
names = {rep.id: rep.display_name for rep in reps}

# ---- the rules, in order, and the rule set as TOML (the same file `rules load` reads)
st.subheader(tr("routing.rules"))
if rules:
    table = pd.DataFrame(
        [
            {
                tr("routing.col.position"): rule.position,
                tr("routing.col.name"): rule.name,
                tr("routing.col.conditions"): rule.conditions.label(),
                tr("routing.col.target"): names.get(rule.target_user_id or 0, "")
                if rule.target_user_id
                else tr("routing.target.team", team=rule.target_team),
                tr("routing.col.method"): tr(f"routing.method.{rule.method}") if rule.target_team else "",
                tr("routing.col.active"): rule.active,
            }
            for rule in rules
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch", key="routing_rules_table")
else:
    st.info(tr("routing.no_rules"))
toml_slots: forms.Slots = {}
with st.form("routing_toml_form", enter_to_submit=False):
    typed = st.text_area(tr("routing.rules_toml"), value=toml_text, height=300, key="routing_toml")
    toml_slots["form"] = st.empty()
    toml_clicked = st.form_submit_button(tr("routing.save_toml"), key="routing_toml_submit", type="primary")
if toml_clicked:
    forms.save(
        toml_slots,
        lambda s: replace_rules(s, actor=actor, rule_set=parse_rules_toml(typed)),
        notice=tr("routing.saved"),
        areas=(),
    )

# ---- which owner would a sample lead get, and why
st.subheader(tr("routing.test"))
with st.form("routing_test_form", enter_to_submit=False):
    cols = st.columns(3)
    sample = {
        name: cols[i % 3].text_input(tr(f"routing.sample.{name}"), key=f"routing_test_{name}")
        for i, name in enumerate(("region", "industry", "channel", "campaign", "score", "tags"))
    }
    test_clicked = st.form_submit_button(tr("routing.test_submit"), key="routing_test_submit")
if test_clicked:
    score = sample["score"].strip()
    facts = LeadFacts(
        region=sample["region"] or None,
        industry=sample["industry"] or None,
        channel=sample["channel"] or None,
        campaign=sample["campaign"] or None,
        score=int(score) if score.isdigit() else None,
        tags=frozenset(t.strip() for t in sample["tags"].split(",") if t.strip()),
    )
    with forms.guarded_read(), session_scope(get_engine()) as session:
        decision = preview(session, actor=actor, lead=facts)
    why = describe_reason(decision.reason, lang)
    if decision.owner_id is not None:
        owner_name = names.get(decision.owner_id, str(decision.owner_id))
        st.success(tr("routing.test_result", owner=owner_name, reason=why))
    else:
        st.warning(tr("routing.test_nobody", reason=why))

# ---- reps: away and caps
st.subheader(tr("routing.reps"))
st.dataframe(
    pd.DataFrame(
        [
            {
                tr("routing.col.user"): f"{rep.display_name} ({rep.username})",
                tr("routing.col.team"): rep.team or "",
                tr("routing.col.away"): rep.away,
                tr("routing.col.cap"): "" if rep.max_open_leads is None else str(rep.max_open_leads),
                tr("routing.col.open"): rep.open_leads,
            }
            for rep in reps
        ]
    ),
    hide_index=True,
    width="stretch",
    key="routing_reps_table",
)
if reps:
    by_id = {rep.id: rep for rep in reps}
    picked = st.selectbox(
        tr("routing.pick_rep"),
        list(by_id),
        format_func=lambda i: by_id[i].display_name,
        key="routing_rep_pick",
    )
    rep_slots: forms.Slots = {}
    with st.form("routing_rep_form", enter_to_submit=False):
        away = st.toggle(tr("routing.field.away"), value=by_id[picked].away, key=f"routing_rep_away_{picked}")
        cap_default = "" if by_id[picked].max_open_leads is None else str(by_id[picked].max_open_leads)
        cap = st.text_input(tr("routing.field.cap"), value=cap_default, key=f"routing_rep_cap_{picked}")
        rep_slots["max_open_leads"] = st.empty()
        rep_slots["form"] = st.empty()
        rep_clicked = st.form_submit_button(tr("routing.save_rep"), key="routing_rep_submit")
    if rep_clicked:
        forms.save(
            rep_slots,
            lambda s: set_availability(s, actor=actor, user_id=picked, away=away, max_open_leads=cap),
            notice=tr("routing.rep_saved", name=by_id[picked].display_name),
            areas=(USERS,),
        )

# ---- reassign many leads at once
st.subheader(tr("routing.reassign"))
if owners:
    owner_names = {o.id: o.display_name for o in owners}
    move_slots: forms.Slots = {}
    with st.form("routing_reassign_form", enter_to_submit=False):
        numbers = st.text_area(tr("routing.reassign_numbers"), key="routing_reassign_numbers")
        move_slots["numbers"] = st.empty()
        new_owner = st.selectbox(
            tr("routing.reassign_to"),
            list(owner_names),
            format_func=owner_names.__getitem__,
            key="routing_reassign_to",
        )
        move_slots["form"] = st.empty()
        move_clicked = st.form_submit_button(tr("routing.reassign_submit"), key="routing_reassign_submit")
    if move_clicked:
        wanted = numbers.replace(",", "\n").splitlines()
        forms.save(
            move_slots,
            lambda s: reassign_many(
                s,
                actor=actor,
                customer_ids=customer_ids_by_number(s, actor=actor, numbers=wanted),
                owner_id=new_owner,
            ),
            notice=lambda count: tr("routing.reassigned", count=count),
            areas=(CUSTOMERS,),
        )

# ---- group bots
st.subheader(tr("routing.hooks"))
st.caption(tr("routing.hooks_intro"))
if failing := failing_endpoints(hooks):
    st.error(tr("routing.hook.failing", count=len(failing)), icon=":material/error:")
if hooks:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    tr("routing.col.kind"): tr(f"routing.col.kind.{hook.kind}"),
                    tr("routing.col.for"): hook.owner,
                    tr("routing.col.url"): hook.url,
                    tr("routing.col.active"): hook.active,
                    tr("routing.col.last_ok"): hook.last_ok_at,
                    tr("routing.col.last_error"): hook.last_error or "",
                    tr("routing.col.pending"): hook.pending,
                    tr("routing.col.failed"): hook.failed,
                }
                for hook in hooks
            ]
        ),
        hide_index=True,
        width="stretch",
        key="routing_hooks_table",
    )
    hook_ids = {hook.id: f"#{hook.id} {hook.kind} → {hook.owner}" for hook in hooks}
    hook = st.selectbox(
        tr("routing.hook.pick"), list(hook_ids), format_func=hook_ids.__getitem__, key="routing_hook_pick"
    )
    hook_slots: forms.Slots = {"form": st.empty()}
    test_col, retry_col = st.columns(2)
    if test_col.button(tr("routing.hook.test"), key="routing_hook_test"):
        error = send_test(get_engine(), actor=actor, endpoint_id=hook, text=tr("routing.hook.test_text"))
        if error is None:
            st.success(tr("routing.hook.test_ok"))
        else:
            st.error(tr("routing.hook.test_failed", error=error))
    if retry_col.button(tr("routing.hook.retry"), key="routing_hook_retry"):
        forms.save(
            hook_slots,
            lambda s: retry_failed(s, actor=actor, endpoint_id=hook),
            notice=lambda count: tr("routing.hook.retried", count=count),
            areas=(),
        )
else:
    st.info(tr("routing.hook.none"))
add_slots: forms.Slots = {}
with st.form("routing_hook_form", enter_to_submit=False):
    kind = st.selectbox(
        tr("routing.hook.kind"),
        KINDS,
        format_func=lambda k: tr(f"routing.col.kind.{k}"),
        key="routing_hook_kind",
    )
    add_slots["kind"] = st.empty()
    url = st.text_input(tr("routing.hook.url"), key="routing_hook_url")
    add_slots["url"] = st.empty()
    secret = st.text_input(tr("routing.hook.secret"), type="password", key="routing_hook_secret")
    add_slots["secret"] = st.empty()
    left, right = st.columns(2)
    username = left.text_input(tr("routing.hook.user"), key="routing_hook_user")
    team = right.text_input(tr("routing.hook.team"), key="routing_hook_team")
    add_slots["user"] = st.empty()
    hook_lang = st.selectbox(tr("routing.hook.lang"), ("zh", "en"), key="routing_hook_lang")
    add_slots["form"] = st.empty()
    add_clicked = st.form_submit_button(tr("routing.hook.add"), key="routing_hook_submit")
if add_clicked:
    endpoint = EndpointInput(kind=kind, url=url, secret=secret, username=username, team=team, lang=hook_lang)
    forms.save(
        add_slots,
        lambda s: add_endpoint(s, actor=actor, endpoint=endpoint).id,
        notice=tr("routing.hook.added"),
        areas=(),
    )
