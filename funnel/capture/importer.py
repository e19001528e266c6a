"""CSV / Excel rows -> validated leads, with a report of every rejected row (`python -m funnel import`).

funnel/capture/import_parsing.py reads files and validates rows; this module writes them: new leads through
the lead write path (store_leads), rows whose external_id exists as updates through the same stage rules.

A file is streamed and written in batches of _WRITE_BATCH rows, each its own transaction: the valid rows of a
long file land batch by batch, memory stays bounded, and on SQLite a waiting writer (a sign-in, a lead saved
in a form) takes the write lock between two batches instead of timing out behind the whole file."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.exc import StaleDataError

from funnel.access.permissions import EVERYTHING, Actor, allowed, can_see, customer_scope, require
from funnel.accounts.users import create_inactive_owner
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction
from funnel.capture.import_parsing import (
    FIELDS,
    ImportFileError,
    ParsedRow,
    cell_text,
    describe,
    map_headers,
    odd_data_warnings,
    open_rows,
    parse_date,
    parse_row,
    read_rows,
    recognise_header,
    resolve_stage_map,
)
from funnel.capture.leads import CleanLead, NewLead, store_leads
from funnel.capture.routing import mark_not_routed, route_many
from funnel.capture.scoring import score_before_routing
from funnel.core import events
from funnel.core.db import rows_where_in, session_factory, take_write_lock
from funnel.core.errors import FORM, FieldError, ValidationError
from funnel.core.i18n import DEFAULT_LANGUAGE, t
from funnel.customers.duplicates import duplicate_error, lock_intake
from funnel.customers.fields import AUDITED_FIELDS
from funnel.customers.lists import ListValue, list_values
from funnel.customers.numbering import new_customer_no
from funnel.customers.stages import add_history
from funnel.customers.tags import TAG_LIST, same_tags
from funnel.pipeline.stages import WON, Pipeline, get_pipeline
from funnel.store.bulk import refresh_stale_statistics
from funnel.store.models import Contact, Customer, Opportunity, StageEvent, User

__all__ = [
    "FIELDS", "ImportFileError", "ImportReport", "describe", "import_file", "import_rows",
    "map_headers", "parse_date", "parse_row", "read_rows", "recognise_header", "summary",
]  # fmt: skip

CONTACT_KEYS = ("phone", "email", "wechat")
UPDATED_FIELDS = (
    "name", "company", "channel", "campaign", "region", "industry", "tags", "grade", "lost_reason", "team",
)  # fmt: skip
# Rows are written this many at a time, one transaction per batch (new leads: one INSERT per table).
_WRITE_BATCH = 1000
# Updates are flushed this many at a time, in one savepoint (a savepoint and a flush per row were most of
# a re-import); a group that meets a concurrent edit is rolled back and its rows applied one at a time.
_UPDATE_GROUP = 200
# A row whose customer someone else saved meanwhile is reloaded and applied again this many times in all.
_ATTEMPTS = 3
# On SQLite, the pause between two batches in which a waiting writer's busy handler finds the lock free.
_SQLITE_PAUSE = 0.05


@dataclass
class ImportReport:
    """What an import did; rejected rows and warnings carry spreadsheet row numbers (header = row 1)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, list[FieldError]]] = field(default_factory=list)
    warnings: list[tuple[int, FieldError]] = field(default_factory=list)
    new_owners: list[str] = field(default_factory=list)
    routed: int = 0  # new leads without an owner that went through the routing rules
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class _Applied:
    """An update applied in memory in the open group, with what to report once the group is flushed."""

    row: ParsedRow
    customer_id: int
    owner_id: int | None
    warnings: list[FieldError]
    changed: bool


@dataclass
class _State:
    """An existing customer with what an update compares against."""

    customer: Customer
    contact: Contact | None = None
    opportunity: Opportunity | None = None
    # The stage events it has, as (stage, at), earliest first.
    events: list[tuple[str, datetime]] = field(default_factory=list)


class _Importer:
    """One import run: existing ids, contacts and users preloaded in bulk, then one pass of writes."""

    def __init__(
        self,
        session: Session,
        rows: list[ParsedRow],
        report: ImportReport,
        actor: Actor,
        pipeline: Pipeline,
        first_row: dict[str, int],
        route: bool = True,
    ):
        self.session, self.report, self.actor, self.pipeline = session, report, actor, pipeline
        self.route = route
        # The tag list, read once for comparing updated rows' tags (same_tags adds tags created meanwhile).
        self.tag_values: list[ListValue] = list_values(session, TAG_LIST, include_inactive=True)
        # The batch checks its new people for duplicates against contacts loaded below: take the lock a
        # lead save takes first, so nobody stores one of them between that load and the batch's commit.
        lock_intake(session)
        # Someone who may not assign leads keeps owners as they are and owns the new leads themselves.
        self.may_assign = allowed(actor, "customer.assign")
        self.sees_all = customer_scope(session, actor) is EVERYTHING
        external = sorted({r.cleaned.external_id for r in rows if r.cleaned.external_id})
        known = rows_where_in(
            session, select(Customer.external_id, Customer.id), Customer.external_id, external
        )
        self.ids: dict[str, int] = {ext: cid for ext, cid in known}
        self.states = self._load_states(sorted(self.ids.values()))
        self.contacts: dict[tuple[str, str], tuple[int | None, str]] = {}
        # Only a row without an external id is checked for a duplicate person, so only its handles are
        # looked up (a handle a row with an id shares with it is then found stored, not taken by that row).
        checked = [r.cleaned for r in rows if not r.cleaned.external_id]
        for kind in CONTACT_KEYS:
            values = sorted({getattr(lead, kind) for lead in checked if getattr(lead, kind)})
            column = getattr(Contact, kind)
            query = select(column, Customer.id, Customer.customer_no).join(Customer)
            found = rows_where_in(session, query, column, values)
            self.contacts |= {(kind, value): (cid, no) for value, cid, no in found}
        users = session.execute(select(User.id, User.username, User.display_name)).all()
        self.usernames = {username.casefold() for _, username, _ in users}
        # An owner cell may hold a username or a display name; a username match wins.
        self.users = {name.casefold(): uid for uid, _, name in users}
        self.users |= {username.casefold(): uid for uid, username, _ in users}
        self.numbers = self._fresh_numbers([r for r in rows if r.cleaned.external_id not in self.ids])
        self.first_row = first_row  # external_id -> the file's first row with it, across batches
        self.pending: list[NewLead] = []
        self.pending_ids: set[str] = set()
        self.updated_ids: list[int] = []  # customers this batch changed: their tags linked, scored again
        # Updates not yet flushed: applied in memory inside one savepoint, counted once it holds.
        self.group: list[_Applied] = []
        self.group_savepoint: SessionTransaction | None = None

    def _load_states(self, ids: list[int]) -> dict[int, _State]:
        """Customers with their primary contact, first opportunity and the stages they have events for."""
        session = self.session
        # populate_existing: a customer reloaded after someone else saved it must show their values.
        fresh = {"populate_existing": True}
        customers = select(Customer).execution_options(**fresh)
        states = {c.id: _State(c) for (c,) in rows_where_in(session, customers, Customer.id, ids)}
        contacts = select(Contact).order_by(Contact.is_primary.desc(), Contact.id).execution_options(**fresh)
        for (contact,) in rows_where_in(session, contacts, Contact.customer_id, ids):
            states[contact.customer_id].contact = states[contact.customer_id].contact or contact
        deals = select(Opportunity).order_by(Opportunity.id).execution_options(**fresh)
        for (deal,) in rows_where_in(session, deals, Opportunity.customer_id, ids):
            states[deal.customer_id].opportunity = states[deal.customer_id].opportunity or deal
        events = select(StageEvent.customer_id, StageEvent.to_stage, StageEvent.at).order_by(StageEvent.at)
        for customer_id, to_stage, at in rows_where_in(session, events, StageEvent.customer_id, ids):
            states[customer_id].events.append((to_stage, at))
        return states

    def _fresh_numbers(self, rows: list[ParsedRow]) -> dict[int, str]:
        """Unused customer numbers for rows that may create a customer, checked in bulk."""
        numbers: dict[int, str] = {}
        used: set[str] = set()
        pending = rows
        while pending:  # a clash with an existing number is rare: draw again for those rows only
            for row in pending:
                assert row.cleaned.created_at is not None
                number = new_customer_no(row.cleaned.created_at)
                while number in used:
                    number = new_customer_no(row.cleaned.created_at)
                used.add(number)
                numbers[row.number] = number
            drawn = [numbers[r.number] for r in pending]
            query = select(Customer.customer_no)
            taken = {no for (no,) in rows_where_in(self.session, query, Customer.customer_no, drawn)}
            pending = [r for r in pending if numbers[r.number] in taken]
        return numbers

    def run(self, rows: list[ParsedRow]) -> None:
        # SQLite: the batch's transaction starts with the write lock, so each update's savepoint nests in it.
        take_write_lock(self.session)
        for row in rows:
            external_id = row.cleaned.external_id
            if external_id in self.pending_ids:
                self._store_pending()  # a later row updates a customer this file creates: write it first
            if external_id in self.first_row:
                params = {"external_id": external_id, "row": str(self.first_row[external_id])}
                warning = FieldError("external_id", "import.warn.repeated_external_id", params)
                self.report.warnings.append((row.number, warning))
            elif external_id:
                self.first_row[external_id] = row.number
            customer_id = self.ids.get(external_id) if external_id else None
            problem = self._hidden(customer_id) if external_id else self._duplicate(row.cleaned)
            if problem:
                self.report.rejected.append((row.number, [problem]))
                continue
            owner_id = self._owner_id(row.owner) if self.may_assign else None
            self.report.warnings.extend((row.number, warning) for warning in odd_data_warnings(row))
            if customer_id is None:
                self._create(row, owner_id)
            else:
                self._apply_update(row, customer_id, owner_id)
        self._store_pending()  # closes the group of updates first
        if self.updated_ids:  # as an edit in the app does (funnel.capture.scoring.score_updated_customer)
            score_before_routing(self.session, self.updated_ids)
            self.updated_ids = []

    def _apply_update(self, row: ParsedRow, customer_id: int, owner_id: int | None) -> None:
        """Apply an update in the open group of updates (one savepoint, one flush for _UPDATE_GROUP rows)."""
        if self.group_savepoint is None:
            self.group_savepoint = self.session.begin_nested()
            # The group's changes are flushed once, at its end, where the version checks run for all of it.
            self.session.autoflush = False
        warnings: list[FieldError] = []
        changed = self._update(row, self._state(customer_id), owner_id, warnings)
        self.group.append(_Applied(row, customer_id, owner_id, warnings, changed))
        if len(self.group) >= _UPDATE_GROUP:
            self._close_group()

    def _close_group(self) -> None:
        """Flush the open group of updates; if someone saved one of its customers since it was read, roll
        the group back and apply its rows again one savepoint each (each reloaded and retried)."""
        savepoint, group = self.group_savepoint, self.group
        if savepoint is None:
            return
        self.group_savepoint, self.group = None, []
        try:
            self.session.flush()  # the version check: StaleDataError when a customer changed meanwhile
            savepoint.commit()
            held = True
        except StaleDataError:
            savepoint.rollback()
            held = False
        finally:
            self.session.autoflush = True
        if held:
            for applied in group:
                self._count(applied)
            return
        for applied in group:
            self.states.pop(applied.customer_id, None)
        for applied in group:
            self._apply_alone(applied.row, applied.customer_id, applied.owner_id)

    def _apply_alone(self, row: ParsedRow, customer_id: int, owner_id: int | None) -> None:
        """Update a customer in its own savepoint; if someone saved it since it was read, reload and apply
        again, _ATTEMPTS times in all."""
        for _attempt in range(_ATTEMPTS):
            state = self._state(customer_id)
            warnings: list[FieldError] = []
            try:
                with self.session.begin_nested():
                    changed = self._update(row, state, owner_id, warnings)
                    self.session.flush()
            except StaleDataError:
                self.states.pop(customer_id, None)
                continue
            self._count(_Applied(row, customer_id, owner_id, warnings, changed))
            return
        params = {"customer_no": self._state(customer_id).customer.customer_no, "attempts": str(_ATTEMPTS)}
        self.report.rejected.append(
            (row.number, [FieldError(FORM, "import.error.changed_meanwhile", params)])
        )

    def _count(self, applied: _Applied) -> None:
        self.report.warnings.extend((applied.row.number, warning) for warning in applied.warnings)
        if applied.changed:
            self.report.updated += 1
            self.updated_ids.append(applied.customer_id)
        else:
            self.report.unchanged += 1

    def _state(self, customer_id: int) -> _State:
        if customer_id not in self.states:  # created by an earlier row of this file
            self.states.update(self._load_states([customer_id]))
        return self.states[customer_id]

    def _hidden(self, customer_id: int | None) -> FieldError | None:
        """Refuse to update a customer the importing user may not see (the system sees everything)."""
        if customer_id is None or can_see(self.session, self.actor, self._state(customer_id).customer):
            return None
        return FieldError("external_id", "import.error.hidden")

    def _duplicate(self, lead: CleanLead) -> FieldError | None:
        for kind in CONTACT_KEYS:
            found = self.contacts.get((kind, getattr(lead, kind)))
            if found is None:
                continue
            # Whoever sees everything needs no query per duplicate row; a lead this file is creating is
            # the importer's own (id None until it is written).
            customer = None if self.sees_all or found[0] is None else self.session.get(Customer, found[0])
            visible = customer is None or can_see(self.session, self.actor, customer)
            return duplicate_error(kind, found[1], visible=visible)
        return None

    def _owner_id(self, name: str | None) -> int | None:
        """The user an owner cell names; someone not yet a user becomes an inactive rep (accounts/)."""
        if not name:
            return None
        if name.casefold() not in self.users:
            self._close_group()  # nor the new user, whose id later rows use
            user = create_inactive_owner(self.session, display_name=name, actor=self.actor)
            self.users[name.casefold()] = user.id
            self.report.new_owners.append(name)
        return self.users[name.casefold()]

    def _remember(self, lead: CleanLead, customer_id: int | None, customer_no: str) -> None:
        if lead.external_id and customer_id is not None:
            self.ids[lead.external_id] = customer_id
        for kind in CONTACT_KEYS:
            value = getattr(lead, kind)
            if value and self.contacts.get((kind, value), (None, None))[1] in (None, customer_no):
                self.contacts[(kind, value)] = (customer_id, customer_no)

    def _create(self, row: ParsedRow, owner_id: int | None) -> None:
        """Queue a new lead for the bulk write (duplicates were checked above against preloaded contacts)."""
        new = NewLead(
            row.cleaned, owner_id if self.may_assign else self.actor.user_id, self.numbers[row.number]
        )
        self.pending.append(new)
        if row.cleaned.external_id:
            self.pending_ids.add(row.cleaned.external_id)
        self._remember(row.cleaned, None, new.customer_no)
        if len(self.pending) >= _WRITE_BATCH:
            self._store_pending()

    def _store_pending(self) -> None:
        """Write the queued new leads through the bulk form of the lead write path."""
        self._close_group()  # a group rolled back must not take the new leads with it
        ids = store_leads(self.session, self.pending, actor=self.actor, pipeline=self.pipeline)
        for customer_id, new in zip(ids, self.pending, strict=True):
            self._remember(new.cleaned, customer_id, new.customer_no)
        self.report.created += len(ids)
        # Rows without an owner go through the routing rules (funnel.capture.routing), or are marked as
        # deliberately unassigned (--no-route), in the batch's transaction.
        unowned = [
            customer_id for customer_id, new in zip(ids, self.pending, strict=True) if new.owner_id is None
        ]
        if unowned and self.route and self.may_assign:  # stored scored and tagged, as a rule on either reads
            self.report.routed += len(route_many(self.session, unowned, actor=self.actor))
        elif unowned:
            mark_not_routed(self.session, unowned)
        self.pending, self.pending_ids = [], set()

    def _update(
        self, row: ParsedRow, state: _State, owner_id: int | None, warnings: list[FieldError]
    ) -> bool:
        """Overwrite a customer with the row's non-empty values; add only stage events it lacks.

        Returns whether anything changed; warnings go to `warnings` (kept only if the update holds).
        """
        customer, lead = state.customer, row.cleaned
        before = _snapshot(state)
        for name in UPDATED_FIELDS:
            value = getattr(lead, name)
            if name == "tags" and value and same_tags(self.session, value, customer.tags, self.tag_values):
                continue  # the same tags written another way (the stored copy reads 'hot, expo')
            _assign(customer, name, value)
        _assign(customer, "owner_id", owner_id)
        if row.created_given:
            _assign(customer, "created_at", lead.created_at)
        if row.stage_given and customer.status == WON and lead.status != WON:
            # A won deal is final (funnel.pipeline.rules.check_move); a later export showing it open is stale.
            warnings.append(
                FieldError("stage", "import.warn.won_is_final", {"customer_no": customer.customer_no})
            )
        elif row.stage_given:
            _assign(customer, "stage", lead.stage)
            _assign(customer, "status", lead.status)
            known = list(state.events)
            add_history(
                self.session,
                customer,
                list(lead.history),
                actor=self.actor,
                pipeline=self.pipeline,
                known=known,
            )
            have = {key for key, _ in known}
            state.events += [(key, at) for key, at in lead.history if key not in have]
        contact_values = dict(name=lead.contact_name, phone=lead.phone, email=lead.email, wechat=lead.wechat)
        if state.contact is None and any(contact_values.values()):
            state.contact = Contact(
                customer_id=customer.id, name=lead.contact_name or customer.name, is_primary=True
            )
            self.session.add(state.contact)
        for name, value in contact_values.items():
            _assign(state.contact, name, value)
        if lead.amount is not None and state.opportunity is None:
            state.opportunity = Opportunity(
                customer_id=customer.id, amount=lead.amount, created_at=customer.created_at
            )
            self.session.add(state.opportunity)
        _assign(state.opportunity, "amount", lead.amount)
        self._remember(lead, customer.id, customer.customer_no)
        changes = audit.diff(before, _snapshot(state))
        if not changes:
            return False
        audit.record_customer(
            self.session,
            actor=self.actor,
            customer=customer,
            action=AuditAction.IMPORT_UPDATE,
            changes=changes,
        )
        return True


def _assign(target: object, name: str, value: object) -> None:
    # Only real changes touch the row, so an unchanged re-import bumps no version and writes no audit.
    if target is not None and value is not None and getattr(target, name) != value:
        setattr(target, name, value)


def _snapshot(state: _State) -> dict[str, object]:
    customer, contact = state.customer, state.contact
    values: dict[str, object] = {name: getattr(customer, name) for name in AUDITED_FIELDS}
    values.update(
        created_at=customer.created_at,
        closed_at=customer.closed_at,
        stage_events=sorted({key for key, _ in state.events}),
    )
    for name in ("name", "phone", "email", "wechat"):
        values[f"contact_{name}"] = getattr(contact, name) if contact else None
    values["amount"] = state.opportunity.amount if state.opportunity else None
    return values


def import_rows(
    session: Session,
    rows: Iterable[Mapping[str, object]],
    *,
    columns: Mapping[str, str] | None = None,
    headers: Sequence[str] | None = None,
    stage_map: Mapping[str, str] | None = None,
    actor: Actor,
    pipeline: Pipeline | None = None,
    after_batch: Callable[[], None] | None = None,
    route: bool = True,
    report: ImportReport | None = None,
) -> ImportReport:
    """Validate and store rows ({header: value}, the n-th row = spreadsheet row n + 1) in the session.

    `columns` is {header: field} from map_headers (default: recognised from the headers of `rows`).
    Rows are read and written _WRITE_BATCH at a time; `after_batch` runs after each batch is flushed
    (import_file commits there). Without it the caller commits, or rolls back for a dry run.
    """
    require(actor, "customer.import")
    pipeline = pipeline or get_pipeline()
    if columns is None or headers is None:
        rows = list(rows)
        headers = headers or list(dict.fromkeys(header for row in rows for header in row))
    columns = dict(columns) if columns is not None else map_headers(headers, pipeline=pipeline)
    if "name" not in columns.values():
        raise ImportFileError("import.error.no_name", headers=", ".join(headers))
    report = report if report is not None else ImportReport()  # given: its counts grow as batches land
    report.columns, report.ignored_columns = columns, [h for h in headers if h not in columns]
    stage_keys = resolve_stage_map(stage_map, pipeline)
    first_row: dict[str, int] = {}
    batch: list[ParsedRow] = []

    def write_batch() -> None:
        if batch:
            _Importer(session, batch, report, actor, pipeline, first_row, route).run(batch)
            session.flush()
        if after_batch is not None:
            after_batch()
        batch.clear()

    for index, raw in enumerate(rows):
        if not any(cell_text(value) for value in raw.values()):
            continue  # blank lines are skipped but still counted, so row numbers match the spreadsheet
        report.rows += 1
        values = {name: raw.get(header) for header, name in columns.items()}
        try:
            batch.append(parse_row(index + 2, values, stage_map=stage_keys, pipeline=pipeline))
        except ValidationError as exc:
            report.rejected.append((index + 2, exc.errors))
        if len(batch) >= _WRITE_BATCH:
            write_batch()
    write_batch()
    report.rejected.sort(key=lambda item: item[0])
    report.warnings.sort(key=lambda item: item[0])
    return report


def import_file(
    engine: Engine,
    source: Path | str | bytes,
    *,
    filename: str | None = None,
    column_map: Mapping[str, str] | None = None,
    stage_map: Mapping[str, str] | None = None,
    dry_run: bool = False,
    actor: Actor,
    pipeline: Pipeline | None = None,
    route: bool = True,
    progress: Callable[[ImportReport], None] | None = None,
    name_from: str | None = None,
) -> ImportReport:
    """Import a CSV or .xlsx file (a path, or bytes plus filename), streamed, one transaction per batch.

    `name_from` names a column each lead's name is copied from, for a file without a name column.

    `progress(report)` runs after each batch with the counts so far (report.rows: rows read), e.g. to
    move a progress bar; the CLI passes none.

    The valid rows of each batch are committed as it completes; a dry run writes every batch in one
    transaction that is rolled back, so it reports exactly what an import would do and writes nothing.
    """
    require(actor, "customer.import")
    pipeline = pipeline or get_pipeline()
    pause = _SQLITE_PAUSE if engine.dialect.name == "sqlite" else 0.0
    opened = open_rows(source, filename, name_from=name_from)
    with opened as (headers, rows), session_factory(engine)() as session:
        columns = map_headers(headers, column_map, pipeline=pipeline)

        def after_batch() -> None:
            if not dry_run:
                session.commit()
                events.publish(events.take_pending(session), engine)
                time.sleep(pause)  # let a writer waiting for SQLite's lock have it before the next batch
            session.expunge_all()  # the batch's rows are in the database: keep no objects in memory
            if progress is not None:
                progress(report_so_far)

        report_so_far = ImportReport()

        try:
            report = import_rows(
                session,
                rows,
                columns=columns,
                headers=headers,
                stage_map=stage_map,
                actor=actor,
                pipeline=pipeline,
                after_batch=after_batch,
                route=route,
                report=report_so_far,
            )
        finally:
            session.rollback()  # a dry run's writes, or a batch cut short by an error
            events.take_pending(session)
    if not dry_run and report.created:
        refresh_stale_statistics(engine)  # an import can grow a table tenfold: SQLite's plans follow
    report.dry_run = dry_run
    return report


def summary(report: ImportReport, lang: str = DEFAULT_LANGUAGE) -> str:
    """The one-line outcome: imported, created, updated, rejected, warnings, new inactive owners."""
    counts = {"imported": report.imported, "created": report.created, "updated": report.updated}
    counts |= {
        "unchanged": report.unchanged,
        "rejected": len(report.rejected),
        "warnings": len(report.warnings),
    }
    line = t("import.summary", lang, **counts)
    if report.new_owners:
        line += t("import.summary.owners", lang, names=", ".join(report.new_owners))
    return t("import.summary.dry_run", lang, summary=line) if report.dry_run else line
