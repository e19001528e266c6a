"""The customer page's closing sections (方案呈现 and 成交转化, issue #10) and the dashboard's survey summary.

Opportunities, files, meetings, objections with the playbook, quotes, contracts with approval, payments
and the survey, each a short form that writes through the page kit's one guarded write (forms.save):
errors under their field, the input kept, and a notice after the commit. A form is drawn only for an
actor who may use it; funnel/closing checks every call again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from funnel.access.permissions import Actor, allowed
from funnel.closing.contracts import (
    DRAFT,
    PENDING,
    REJECTED,
    SIGNED,
    approve_contract,
    contracts_table,
    create_contract,
    may_approve,
    reject_contract,
    submit_contract,
)
from funnel.closing.files import documents_table, download_document, send_proposal, upload_document
from funnel.closing.meetings import KINDS as MEETING_KINDS
from funnel.closing.meetings import colleagues, log_meeting, meetings_table
from funnel.closing.objections import categories, log_objection, objections_table, playbook, set_resolved
from funnel.closing.opportunities import catalogue, opportunities_table, save_opportunity
from funnel.closing.payments import (
    contract_balances,
    customer_balance,
    plan_table,
    record_payment,
    set_plan,
)
from funnel.closing.quotes import add_quote, quotes_table
from funnel.closing.surveys import SurveySummary, surveys_table
from funnel.core.clock import local_to_utc, team_today
from funnel.core.db import session_scope
from funnel.core.errors import FORM
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.customers.read import UserChoice
from funnel.pipeline.stages import get_pipeline
from funnel.working.contacts import list_contacts
from pages._shared import forms
from pages._shared.common import current_language, get_engine, keep_translated_choices, tr
from pages._shared.customer_parts import table, text

KEY = "deal_{}".format  # widget keys of this tab
FILE_KINDS = ("proposal", "contract", "other")
MAX_INSTALMENTS = 12


@dataclass(frozen=True)
class Deals:
    """What the deals tab shows of one customer, read in one unit of work."""

    opportunities: pd.DataFrame
    documents: pd.DataFrame
    meetings: pd.DataFrame
    objections: pd.DataFrame
    quotes: pd.DataFrame
    contracts: pd.DataFrame
    balances: pd.DataFrame
    contracted: Decimal
    paid: Decimal
    surveys: pd.DataFrame
    products: dict[str, str]  # code -> name in the reader's language
    categories: dict[str, str]
    playbook: dict[str, str]
    contacts: dict[int, str]
    colleagues: dict[int, str]


def read_deals(actor: Actor, customer_id: int, lang: str) -> Deals:
    with forms.guarded_read(), session_scope(get_engine()) as session:
        balance = customer_balance(session, actor=actor, customer_id=customer_id)
        people: list[UserChoice] = colleagues(session, actor=actor)
        return Deals(
            opportunities=opportunities_table(session, actor=actor, customer_id=customer_id),
            documents=documents_table(session, actor=actor, customer_id=customer_id),
            meetings=meetings_table(session, actor=actor, customer_id=customer_id),
            objections=objections_table(session, actor=actor, customer_id=customer_id),
            quotes=quotes_table(session, actor=actor, customer_id=customer_id),
            contracts=contracts_table(session, actor=actor, customer_id=customer_id),
            balances=contract_balances(session, actor=actor, customer_id=customer_id),
            contracted=balance.contracted,
            paid=balance.paid,
            surveys=surveys_table(session, actor=actor, customer_id=customer_id),
            products={value.code: value.label(lang) for value in catalogue(session)},
            categories={value.code: value.label(lang) for value in categories(session)},
            playbook=playbook(session),
            contacts={c.id: c.name for c in list_contacts(session, actor=actor, customer_id=customer_id)},
            colleagues={u.id: u.display_name for u in people},
        )


def deals_section(actor: Actor, customer_id: int, customer_no: str) -> None:
    """The deals tab: every closing stage of one customer, from the opportunity to the survey."""
    lang = current_language()
    keep_translated_choices(KEY("file_kind"), KEY("meet_kind"), KEY("obj_category"))
    deals = read_deals(actor, customer_id, lang)
    can_edit = allowed(actor, "customer.edit")
    _opportunities(actor, customer_id, deals, can_edit)
    st.divider()
    _files(actor, customer_id, deals, can_edit)
    st.divider()
    _meetings(actor, customer_id, deals, can_edit)
    st.divider()
    _objections(actor, customer_id, deals, can_edit, lang)
    st.divider()
    _quotes(actor, customer_id, deals, can_edit)
    st.divider()
    _contracts(actor, customer_id, customer_no, deals, can_edit)
    st.divider()
    _payments(actor, deals)
    st.divider()
    _survey(deals)


# ---- helpers


def _slots(*fields: str) -> forms.Slots:
    """An error placeholder per field, and the form's own ("form") for anything else."""
    return {name: st.empty() for name in (*fields, FORM)}


def _forget(*names: str) -> Callable[[object], None]:
    """After a save: empty the named widgets (keys without the prefix) so the form starts afresh."""

    def forget(_: object) -> None:
        for name in names:
            st.session_state.pop(KEY(name), None)

    return forget


def _label(options: dict[int, str]) -> Callable[[int | None], str]:
    return lambda value: "—" if value is None else options.get(value, str(value))


def _money(value: object) -> str:
    return f"{float(value):,.2f}"  # type: ignore[arg-type]


# ---- opportunities (商机)


OPPORTUNITY_COLUMNS = [
    "name",
    "amount",
    "expected_close",
    "products",
    "probability",
    "next_step",
    "quoted_at",
]


def _opportunities(actor: Actor, customer_id: int, deals: Deals, can_edit: bool) -> None:
    st.subheader(tr("deals.opp.title"))
    frame = deals.opportunities
    if frame.empty:
        st.caption(tr("deals.opp.none"))
    else:
        shown = frame[OPPORTUNITY_COLUMNS].assign(
            products=[
                ", ".join(deals.products.get(code, code) for code in (value or "").split(",") if code)
                for value in frame["products"]
            ],
            probability=[
                tr("deals.opp.stage_default") if pd.isna(p) else f"{int(p)}%" for p in frame["probability"]
            ],
        )
        table(shown, "deals.opp", KEY("opp_table"))
    if not can_edit:
        return
    rows = {int(r.id): r for r in frame.itertuples()}
    names = {i: f"{text(r.name)} · {_money(r.amount)}" for i, r in rows.items()}
    # Labels made now: AppTest calls a format_func outside the run, where tr() knows no language.
    new = tr("deals.opp.new")
    chosen = st.selectbox(
        tr("deals.opp.choose"),
        [None, *rows],
        format_func=lambda i: new if i is None else names[i],
        key=KEY("opp_choose"),
    )
    row = rows.get(chosen) if chosen is not None else None
    suffix = "new" if row is None else str(chosen)
    field = lambda name: f"opp_{name}_{suffix}"  # noqa: E731
    with st.form(KEY(f"opp_form_{suffix}"), enter_to_submit=False):
        left, right = st.columns(2)
        with left:
            name = st.text_input(
                tr("deals.opp.name"), value=_str(row, "name"), key=KEY(field("name")), max_chars=200
            )
            slots = {"name": st.empty()}
            amount = st.text_input(
                tr("deals.opp.amount"),
                value=_str(row, "amount", _money),
                key=KEY(field("amount")),
                placeholder="120000",
            )
            slots["amount"] = st.empty()
            close = st.date_input(
                tr("deals.opp.expected_close"), value=_day(row, "expected_close"), key=KEY(field("close"))
            )
            slots["expected_close"] = st.empty()
        with right:
            picked = [c for c in (_str(row, "products") or "").split(",") if c]
            products = st.multiselect(
                tr("deals.opp.products"),
                list(dict.fromkeys([*deals.products, *picked])),
                default=picked,
                format_func=lambda code: deals.products.get(code, code),
                key=KEY(field("products")),
            )
            slots["products"] = st.empty()
            probability = st.text_input(
                tr("deals.opp.probability"),
                value=_str(row, "probability", lambda p: str(int(p))),
                key=KEY(field("probability")),
                help=tr("deals.opp.probability_help"),
            )
            slots["probability"] = st.empty()
            next_step = st.text_area(
                tr("deals.opp.next_step"),
                value=_str(row, "next_step"),
                key=KEY(field("next_step")),
                height=68,
            )
            slots["next_step"] = st.empty()
        slots[FORM] = st.empty()
        submitted = st.form_submit_button(
            tr("deals.opp.add" if row is None else "deals.opp.save"),
            key=KEY(f"opp_submit_{suffix}"),
            type="primary",
        )
    if submitted:
        values = {
            "name": name,
            "amount": amount,
            "expected_close": close,
            "products": products,
            "probability": probability,
            "next_step": next_step,
        }
        forms.save(
            slots,
            lambda s: save_opportunity(
                s, actor=actor, customer_id=customer_id, values=values, opportunity_id=chosen
            ),
            notice=tr("deals.opp.saved"),
            then=_forget(
                *(field(n) for n in ("name", "amount", "close", "products", "probability", "next_step"))
            )
            if row is None
            else None,
        )


def _str(row: Any, name: str, shown: Callable[[Any], str] = str) -> str:
    if row is None:
        return ""
    value = getattr(row, name)
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else shown(value)


def _day(row: Any, name: str) -> Any:
    value = None if row is None else getattr(row, name)
    return None if value is None or pd.isna(value) else value


# ---- files: proposals and others


FILE_COLUMNS = [
    "filename",
    "version",
    "kind",
    "size_kb",
    "uploader",
    "uploaded_at",
    "sent_at",
    "feedback_due_at",
]


def _files(actor: Actor, customer_id: int, deals: Deals, can_edit: bool) -> None:
    st.subheader(tr("deals.file.title"))
    frame = deals.documents
    if frame.empty:
        st.caption(tr("deals.file.none"))
    else:
        shown = frame.assign(
            kind=[tr(f"deals.file.kind.{k}") if k in FILE_KINDS else k for k in frame["kind"]],
            size_kb=[f"{size / 1024:,.0f} KB" for size in frame["size_bytes"]],
        )[FILE_COLUMNS]
        table(shown, "deals.file", KEY("file_table"))
        files = {int(r.id): f"{r.filename} · v{r.version}" for r in frame.itertuples()}
        chosen = st.selectbox(
            tr("deals.file.choose"), list(files), format_func=files.__getitem__, key=KEY("file_choose")
        )
        slots = _slots()
        picked = frame[frame["id"] == chosen].iloc[0]
        left, right = st.columns(2)
        left.download_button(
            tr("deals.file.download"),
            data=_file_bytes(actor, chosen),
            file_name=str(picked["filename"]),
            mime=str(picked["mime_type"] or "application/octet-stream"),
            key=KEY(f"file_download_{chosen}"),
            icon=":material/download:",
            on_click="ignore",
        )
        if can_edit and right.button(
            tr("deals.file.send"),
            key=KEY("file_send"),
            help=tr("deals.file.send_help", days=get_settings().proposal_feedback_days),
        ):
            forms.save(
                slots,
                lambda s: send_proposal(s, actor=actor, document_id=chosen),
                notice=lambda d: tr("deals.file.sent", due=text(d.feedback_due_at)),
            )
    if not can_edit:
        return
    with st.form(KEY("file_form"), enter_to_submit=False):
        uploaded = st.file_uploader(
            tr("deals.file.upload", max=get_settings().max_upload_mb),
            key=KEY("file_upload"),
            help=tr("deals.file.upload_help"),
        )
        slots = {"file": st.empty()}
        kind = st.radio(
            tr("deals.file.kind"),
            FILE_KINDS,
            format_func={k: tr(f"deals.file.kind.{k}") for k in FILE_KINDS}.__getitem__,
            horizontal=True,
            key=KEY("file_kind"),
        )
        opportunity = _opportunity_choice(deals, "file_opportunity")
        slots["opportunity_id"] = st.empty()
        slots[FORM] = st.empty()
        submitted = st.form_submit_button(tr("deals.file.save"), key=KEY("file_submit"), type="primary")
    if submitted:
        if uploaded is None:
            slots["file"].error(tr("deals.file.missing"), icon=":material/error:")
            return
        name, data = uploaded.name, uploaded.getvalue()
        forms.save(
            slots,
            lambda s: upload_document(
                s,
                actor=actor,
                customer_id=customer_id,
                filename=name,
                data=data,
                kind=kind,
                opportunity_id=opportunity,
            ),
            notice=lambda d: tr("deals.file.saved", name=d.filename, version=d.version),
            then=_forget("file_upload"),
        )


def _file_bytes(actor: Actor, document_id: int) -> Callable[[], bytes]:
    """The file's bytes, read when the button is clicked (not on every run: files go up to 20 MB) and
    checked then: someone who may no longer see the customer gets nothing."""
    engine = get_engine()

    def read() -> bytes:
        with session_scope(engine) as session:
            return download_document(session, actor=actor, document_id=document_id).data

    return read


def _opportunity_choice(deals: Deals, key: str) -> int | None:
    """An optional opportunity of the customer (for a file, a quote, a contract)."""
    names = {int(r.id): f"{text(r.name)} · {_money(r.amount)}" for r in deals.opportunities.itertuples()}
    if not names:
        return None
    choice: int | None = st.selectbox(
        tr("deals.opportunity"), [None, *names], format_func=_label(names), key=KEY(key)
    )
    return choice


# ---- meetings and demos


def _meetings(actor: Actor, customer_id: int, deals: Deals, can_edit: bool) -> None:
    st.subheader(tr("deals.meet.title"))
    frame = deals.meetings
    if frame.empty:
        st.caption(tr("deals.meet.none"))
    else:
        documents = {int(r.id): str(r.filename) for r in deals.documents.itertuples()}

        def names(ids: Any, people: dict[int, str]) -> str:
            return ", ".join(people.get(i, f"#{i}") for i in (ids or []))

        shown = pd.DataFrame(
            {
                "at": frame["at"],
                "kind": [tr(f"deals.meet.kind.{k}") for k in frame["kind"]],
                "attendees": [
                    ", ".join(filter(None, (names(c, deals.contacts), names(u, deals.colleagues))))
                    for c, u in zip(frame["contact_ids"], frame["user_ids"], strict=True)
                ],
                "link": frame["link"],
                "minutes": frame["minutes"],
                "feedback": frame["feedback"],
                "files": [names(d, documents) for d in frame["document_ids"]],
            }
        )
        table(shown, "deals.meet", KEY("meet_table"))
    if not can_edit:
        return
    with st.form(KEY("meet_form"), enter_to_submit=False):
        kind = st.radio(
            tr("deals.meet.kind"),
            MEETING_KINDS,
            format_func={k: tr(f"deals.meet.kind.{k}") for k in MEETING_KINDS}.__getitem__,
            horizontal=True,
            key=KEY("meet_kind"),
        )
        left, right = st.columns(2)
        day = left.date_input(tr("deals.meet.day"), value=team_today(), key=KEY("meet_day"))
        at = right.time_input(tr("deals.meet.time"), value=time(10, 0), key=KEY("meet_time"))
        slots = {"at": st.empty()}
        contacts = st.multiselect(
            tr("deals.meet.contacts"),
            list(deals.contacts),
            format_func=_label(deals.contacts),
            key=KEY("meet_contacts"),
        )
        users = st.multiselect(
            tr("deals.meet.colleagues"),
            list(deals.colleagues),
            format_func=_label(deals.colleagues),
            key=KEY("meet_users"),
        )
        slots["attendees"] = st.empty()
        link = st.text_input(
            tr("deals.meet.link"), key=KEY("meet_link"), placeholder="https://", max_chars=500
        )
        slots["link"] = st.empty()
        minutes = st.text_area(tr("deals.meet.minutes"), key=KEY("meet_minutes"), height=100)
        slots["minutes"] = st.empty()
        feedback = st.text_area(tr("deals.meet.feedback"), key=KEY("meet_feedback"), height=68)
        slots["feedback"] = st.empty()
        documents = {int(r.id): f"{r.filename} · v{r.version}" for r in deals.documents.itertuples()}
        files = st.multiselect(
            tr("deals.meet.files"),
            list(documents),
            format_func=_label(documents),
            key=KEY("meet_files"),
            help=tr("deals.meet.files_help"),
        )
        slots["document_ids"] = st.empty()
        slots["kind"] = slots[FORM] = st.empty()
        submitted = st.form_submit_button(tr("deals.meet.save"), key=KEY("meet_submit"), type="primary")
    if submitted:
        when = local_to_utc(datetime.combine(day or team_today(), at or time(10, 0)))
        forms.save(
            slots,
            lambda s: log_meeting(
                s,
                actor=actor,
                customer_id=customer_id,
                at=when,
                kind=kind,
                contact_ids=contacts,
                user_ids=users,
                link=link,
                minutes=minutes,
                feedback=feedback,
                document_ids=files,
            ),
            notice=tr("deals.meet.saved"),
            then=_forget(
                "meet_contacts", "meet_users", "meet_link", "meet_minutes", "meet_feedback", "meet_files"
            ),
        )


# ---- objections (异议) with the playbook's prepared answer


def _objections(actor: Actor, customer_id: int, deals: Deals, can_edit: bool, lang: str) -> None:
    st.subheader(tr("deals.obj.title"))
    frame = deals.objections
    pipeline = get_pipeline()
    if frame.empty:
        st.caption(tr("deals.obj.none"))
    else:
        shown = frame[["created_at", "category", "stage", "detail", "response", "status"]].assign(
            category=[deals.categories.get(c, c) for c in frame["category"]],
            stage=[pipeline.name(k, lang) if isinstance(k, str) else k for k in frame["stage"]],
            status=[tr(f"deals.obj.status.{s}") for s in frame["status"]],
        )
        table(shown, "deals.obj", KEY("obj_table"))
    if not can_edit:
        return
    # Not an st.form: picking a category reruns at once, so the prepared answer shows before typing.
    category = st.selectbox(
        tr("deals.obj.category"),
        list(deals.categories),
        format_func=deals.categories.__getitem__,
        key=KEY("obj_category"),
    )
    slots = {"category": st.empty()}
    prepared = deals.playbook.get(category)
    if prepared:
        st.info(tr("objections.prepared"), icon=":material/lightbulb:")
        st.text(prepared)  # a manager's text, shown as typed
    else:
        st.caption(tr("objections.no_answer"))
    words = st.text_area(tr("deals.obj.words"), key=KEY("obj_words"), max_chars=4000, height=68)
    slots["detail"] = st.empty()
    response = st.text_area(tr("deals.obj.response"), key=KEY("obj_response"), max_chars=4000, height=68)
    slots["response"] = st.empty()
    resolved = st.checkbox(tr("deals.obj.resolved"), key=KEY("obj_resolved"))
    slots["stage"] = slots[FORM] = st.empty()
    if st.button(tr("deals.obj.save"), key=KEY("obj_save"), type="primary"):
        forms.save(
            slots,
            lambda s: log_objection(
                s,
                actor=actor,
                customer_id=customer_id,
                category=category,
                words=words,
                response=response,
                resolved=resolved,
            ),
            notice=tr("deals.obj.saved"),
            then=_forget("obj_words", "obj_response", "obj_resolved"),
        )
    still_open = frame[frame["status"] == "open"] if not frame.empty else frame
    if still_open.empty:
        return
    labels = {
        int(r.id): f"{deals.categories.get(r.category, r.category)} · {text(r.detail)[:60]}"
        for r in still_open.itertuples()
    }
    with st.form(KEY("obj_resolve_form"), enter_to_submit=False):
        picked = st.selectbox(
            tr("deals.obj.open"), list(labels), format_func=labels.__getitem__, key=KEY("obj_pick")
        )
        answer = st.text_area(tr("deals.obj.response"), key=KEY("obj_resolve_response"), height=68)
        resolve_slots = _slots("response")
        done = st.form_submit_button(tr("deals.obj.resolve"), key=KEY("obj_resolve"))
    if done:
        forms.save(
            resolve_slots,
            lambda s: set_resolved(s, actor=actor, objection_id=picked, resolved=True, response=answer),
            notice=tr("deals.obj.resolved_saved"),
            then=_forget("obj_resolve_response"),
        )


# ---- quotes (报价)


def _quotes(actor: Actor, customer_id: int, deals: Deals, can_edit: bool) -> None:
    st.subheader(tr("deals.quote.title"))
    frame = deals.quotes
    if frame.empty:
        st.caption(tr("deals.quote.none"))
    else:
        table(frame[["quoted_on", "amount", "valid_until", "concessions"]], "deals.quote", KEY("quote_table"))
    if not can_edit:
        return
    with st.form(KEY("quote_form"), enter_to_submit=False):
        left, right = st.columns(2)
        amount = left.text_input(tr("deals.quote.amount"), key=KEY("quote_amount"), placeholder="98000")
        amount_slot = left.empty()
        quoted_on = left.date_input(tr("deals.quote.quoted_on"), value=team_today(), key=KEY("quote_on"))
        quoted_slot = left.empty()
        until = right.date_input(tr("deals.quote.valid_until"), value=None, key=KEY("quote_until"))
        until_slot = right.empty()
        concessions = right.text_input(
            tr("deals.quote.concessions"),
            key=KEY("quote_concessions"),
            max_chars=500,
            placeholder=tr("deals.quote.concessions_hint"),
        )
        concessions_slot = right.empty()
        opportunity = _opportunity_choice(deals, "quote_opportunity")
        slots: forms.Slots = {
            "amount": amount_slot,
            "quoted_on": quoted_slot,
            "valid_until": until_slot,
            "concessions": concessions_slot,
            "opportunity_id": st.empty(),
            FORM: st.empty(),
        }
        submitted = st.form_submit_button(tr("deals.quote.save"), key=KEY("quote_submit"), type="primary")
    if submitted:
        forms.save(
            slots,
            lambda s: add_quote(
                s,
                actor=actor,
                customer_id=customer_id,
                amount=amount,
                quoted_on=quoted_on,
                valid_until=until,
                concessions=concessions,
                opportunity_id=opportunity,
            ),
            notice=tr("deals.quote.saved"),
            then=_forget("quote_amount", "quote_until", "quote_concessions"),
        )


# ---- contracts / orders: draft -> pending -> signed (or rejected)


def _contracts(actor: Actor, customer_id: int, customer_no: str, deals: Deals, can_edit: bool) -> None:
    st.subheader(tr("deals.contract.title"))
    frame = deals.contracts
    if frame.empty:
        st.caption(tr("deals.contract.none"))
    else:
        shown = frame[
            ["contract_no", "amount", "status", "signed_on", "submitted_at", "rejected_reason"]
        ].assign(status=[tr(f"deals.contract.status.{s}") for s in frame["status"]])
        table(shown, "deals.contract", KEY("contract_table"))
        if (frame["status"] == SIGNED).any():
            st.caption(tr("deals.contract.delivery_told"))
    for row in frame.itertuples():
        _contract_steps(actor, int(row.id), row.contract_no, Decimal(str(row.amount)), row.status, can_edit)
    if not can_edit:
        return
    with st.form(KEY("contract_form"), enter_to_submit=False):
        st.markdown(tr("deals.contract.new", customer_no=customer_no))
        left, right = st.columns(2)
        number = left.text_input(tr("deals.contract.contract_no"), key=KEY("contract_no"), max_chars=64)
        number_slot = left.empty()
        amount_text = right.text_input(tr("deals.contract.amount"), key=KEY("contract_amount"))
        amount_slot = right.empty()
        opportunity = _opportunity_choice(deals, "contract_opportunity")
        manager: int | None = st.selectbox(
            tr("deals.contract.project_manager"),
            [None, *deals.colleagues],
            format_func=_label(deals.colleagues),
            key=KEY("contract_pm"),
        )
        manager_slot = st.empty()
        documents = {int(r.id): f"{r.filename} · v{r.version}" for r in deals.documents.itertuples()}
        attachment: int | None = st.selectbox(
            tr("deals.contract.attachment"),
            [None, *documents],
            format_func=_label(documents),
            key=KEY("contract_doc"),
        )
        form_slots: forms.Slots = {
            "contract_no": number_slot,
            "amount": amount_slot,
            "project_manager_id": manager_slot,
            "opportunity_id": st.empty(),
            FORM: st.empty(),
        }
        submitted = st.form_submit_button(
            tr("deals.contract.create"), key=KEY("contract_create"), type="primary"
        )
    if submitted:
        forms.save(
            form_slots,
            lambda s: create_contract(
                s,
                actor=actor,
                customer_id=customer_id,
                amount=amount_text,
                contract_no=number,
                opportunity_id=opportunity,
                project_manager_id=manager,
                document_id=attachment,
            ),
            notice=tr("deals.contract.created"),
            then=_forget("contract_no", "contract_amount"),
        )


def _contract_steps(
    actor: Actor, contract_id: int, number: object, amount: Decimal, status: str, can_edit: bool
) -> None:
    """The next step of one contract: submit a draft (or a corrected rejected one); approve or reject."""
    name = number if isinstance(number, str) else f"#{contract_id}"
    if status in (DRAFT, REJECTED) and can_edit:
        slots = _slots("status")
        if st.button(tr("deals.contract.submit", contract=name), key=KEY(f"contract_submit_{contract_id}")):
            forms.save(
                slots,
                lambda s: submit_contract(s, actor=actor, contract_id=contract_id),
                notice=lambda c: tr(
                    "deals.contract.signed" if c.status == SIGNED else "deals.contract.submitted"
                ),
            )
    if status != PENDING or not allowed(actor, "contract.approve"):
        return
    if not may_approve(actor, amount):
        st.caption(tr("deals.contract.above_limit", contract=name))
        return
    with st.container(border=True, key=KEY(f"contract_decide_{contract_id}")):
        st.markdown(tr("deals.contract.decide", contract=name, amount=_money(amount)))
        reason = st.text_input(
            tr("contracts.reject_reason"), key=KEY(f"contract_reason_{contract_id}"), max_chars=500
        )
        slots = _slots("rejected_reason", "status", "signed_on")
        left, right = st.columns(2)
        if left.button(tr("contracts.approve"), key=KEY(f"contract_approve_{contract_id}"), type="primary"):
            forms.save(
                slots,
                lambda s: approve_contract(s, actor=actor, contract_id=contract_id),
                notice=tr("contracts.approved"),
            )
        if right.button(tr("contracts.reject"), key=KEY(f"contract_reject_{contract_id}")):
            forms.save(
                slots,
                lambda s: reject_contract(s, actor=actor, contract_id=contract_id, reason=reason),
                notice=tr("contracts.rejected"),
            )


# ---- payments (回款): plan, receipts, balances


def _payments(actor: Actor, deals: Deals) -> None:
    st.subheader(tr("deals.pay.title"))
    left, middle, right = st.columns(3)
    left.metric(tr("deals.pay.contracted"), _money(deals.contracted))
    middle.metric(tr("deals.pay.paid"), _money(deals.paid))
    right.metric(tr("deals.pay.outstanding"), _money(deals.contracted - deals.paid))
    frame = deals.balances
    if frame.empty:
        st.caption(tr("deals.pay.none"))
        return
    table(
        frame[["contract_no", "amount", "paid", "outstanding", "instalments"]], "deals.pay", KEY("pay_table")
    )
    names = {
        int(
            r.id
        ): f"{r.contract_no if isinstance(r.contract_no, str) else '#' + str(r.id)} · {_money(r.outstanding)}"
        for r in frame.itertuples()
    }
    contract_id = st.selectbox(
        tr("deals.pay.contract"), list(names), format_func=names.__getitem__, key=KEY("pay_contract")
    )
    with forms.guarded_read(), session_scope(get_engine()) as session:
        plan = plan_table(session, actor=actor, contract_id=contract_id)
    if plan.empty:
        st.caption(tr("deals.pay.no_plan"))
    else:
        table(plan[["due_on", "amount", "open"]], "deals.pay.plan", KEY("pay_plan_table"))
    if not allowed(actor, "payment.record"):
        return
    receipt, planning = st.columns(2)
    with receipt, st.form(KEY("pay_receipt_form"), enter_to_submit=False):
        st.markdown(tr("deals.pay.receipt"))
        amount = st.text_input(tr("contracts.amount"), key=KEY("pay_amount"))
        slots = {"amount": st.empty()}
        received = st.date_input(tr("contracts.received_on"), value=team_today(), key=KEY("pay_received"))
        slots["received_on"] = st.empty()
        slots["contract_id"] = slots[FORM] = st.empty()
        recorded = st.form_submit_button(tr("contracts.record"), key=KEY("pay_record"), type="primary")
    if recorded:
        forms.save(
            slots,
            lambda s: record_payment(
                s, actor=actor, contract_id=contract_id, amount=amount, received_on=received
            ),
            notice=tr("contracts.recorded"),
            then=_forget("pay_amount"),
        )
    with planning:
        count = int(
            st.number_input(
                tr("deals.pay.count"),
                min_value=1,
                max_value=MAX_INSTALMENTS,
                value=max(1, len(plan)),
                key=KEY(f"pay_count_{contract_id}"),
            )
        )
        with st.form(KEY(f"pay_plan_form_{contract_id}"), enter_to_submit=False):
            rows: list[tuple[object, object]] = []
            plan_slots: forms.Slots = {}
            for n in range(1, count + 1):
                old = plan.iloc[n - 1] if n <= len(plan) else None
                one, two = st.columns(2)
                value = one.text_input(
                    tr("deals.pay.instalment_amount", n=n),
                    value="" if old is None else _money(old["amount"]),
                    key=KEY(f"pay_{contract_id}_amount_{n}"),
                )
                plan_slots[f"instalment_{n}_amount"] = one.empty()
                due = two.date_input(
                    tr("deals.pay.instalment_due", n=n),
                    value=None if old is None else old["due_on"],
                    key=KEY(f"pay_{contract_id}_due_{n}"),
                )
                plan_slots[f"instalment_{n}_due_on"] = two.empty()
                rows.append((value, due))
            plan_slots["instalments"] = plan_slots[FORM] = st.empty()
            planned = st.form_submit_button(
                tr("deals.pay.save_plan"), key=KEY(f"pay_plan_save_{contract_id}")
            )
    if planned:
        forms.save(
            plan_slots,
            lambda s: set_plan(s, actor=actor, contract_id=contract_id, instalments=rows),
            notice=tr("deals.pay.plan_saved"),
        )


# ---- the satisfaction survey


def _survey(deals: Deals) -> None:
    st.subheader(tr("deals.survey.title"))
    frame = deals.surveys
    if frame.empty:
        st.caption(tr("deals.survey.none", days=get_settings().survey_after_win_days))
        return
    table(
        frame[["sent_at", "expires_at", "answered_at", "rating", "recommend", "comment"]],
        "deals.survey",
        KEY("survey_table"),
    )


def survey_section(summary: SurveySummary, lang: str) -> None:
    """The dashboard's survey results: answers, average rating (1-5) and NPS (promoters - detractors)."""
    st.subheader(t("deals.survey.summary", lang))
    if not summary.answers:
        st.caption(t("deals.survey.no_answers", lang))
        return
    answers, rating, nps = st.columns(3)
    answers.metric(t("deals.survey.answers", lang), f"{summary.answers:,}")
    rating.metric(t("deals.survey.average", lang), f"{summary.average_rating:.1f} / 5")
    nps.metric(
        t("deals.survey.nps", lang),
        f"{summary.nps:+.0f}",
        help=t(
            "deals.survey.nps_help",
            lang,
            promoters=summary.promoters,
            passives=summary.passives,
            detractors=summary.detractors,
        ),
    )
