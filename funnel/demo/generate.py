"""Realistic demo data: users, leads and their whole history, identical for the same seed and anchor.

Rows are built as plain dicts with ids allocated from max(id) + 1, a batch of leads at a time, and each
batch is bulk loaded (COPY on PostgreSQL) and dropped before the next is drawn, all in one transaction:
memory holds one batch whatever the size of the demo, and a million leads load in minutes (issue #12).
The tag links and the rule score are made as each lead is drawn. Unlike funnel.capture.leads.create_lead,
the demo writes no audit_log rows:
one "create" row per customer would add thousands of rows that tell a demo user nothing.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from faker import Faker
from sqlalchemy import Engine, Table, func, select, text
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.accounts.passwords import hash_password, is_demo_password_hash
from funnel.capture.scoring import load_rules, seed_rules
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.core.settings import get_settings
from funnel.customers.lists_seed import seed_lists
from funnel.customers.tags import TAG_LIST
from funnel.demo.catalog import DEMO_PASSWORD, DEMO_USERS
from funnel.demo.people import pools_for
from funnel.demo.rows import TABLES, DemoRows, Rep
from funnel.pipeline.stages import get_pipeline
from funnel.store.bulk import BulkLoader, bulk_load_settings, deferred_indexes, refresh_statistics
from funnel.store.models import Base, Contact, Customer, ListItem, User

# Leads drawn, inserted and dropped at a time: bounds memory (a batch of rows is ~8 KB a lead); the rows
# do not depend on it.
BATCH_LEADS = 5_000
MAX_LEADS = 1_000_000


class DemoError(ValueError):
    """Demo data cannot be loaded as asked (a non-empty database, a bad option value)."""


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    region: str | None
    industry: str | None
    team: str | None
    created: bool  # False when a user of that name already existed and was reused


@dataclass(frozen=True)
class DemoSummary:
    """What generate_demo loaded: rows inserted per table, the demo users, and how long it took."""

    leads: int
    seed: int
    anchor: date
    counts: dict[str, int] = field(default_factory=dict)
    users: list[DemoUser] = field(default_factory=list)
    elapsed_seconds: float = 0.0


def demo_tables() -> list[Table]:
    """The tables the demo fills, parents first."""
    return [Base.metadata.tables[name] for name in TABLES]


def _user_names_faker(seed: int) -> Faker:
    # Instance seeds, never Faker.seed(): that reseeds a generator shared by every Faker in the process.
    zh = Faker("zh_CN")
    zh.seed_instance(seed)
    return zh


def _next_ids(session: Session) -> dict[str, int]:
    return {
        table.name: (session.scalar(select(func.max(table.c.id))) or 0) + 1
        for table in demo_tables()
        if "id" in table.c
    }


def _tag_ids(session: Session) -> dict[str, int]:
    """The tag library's item ids by code (seed_lists has made every tag the demo draws)."""
    query = select(ListItem.code, ListItem.id).where(ListItem.list_name == TAG_LIST)
    return {code: item_id for code, item_id in session.execute(query)}


def _add_users(
    session: Session, rows: DemoRows, zh: Faker, now: datetime, password_hash: str
) -> list[DemoUser]:
    """The demo users, reusing any that already exist by username (so --append works); sets rows.reps.

    No demo administrator joins a database that already has an active one: an administrator with the
    published password would hand the whole install (users, settings, every customer) to anyone who
    read the README. Demo data loaded from the app always lands in such a database.
    """
    rng = rows.rng
    existing = {user.username: user for user in session.scalars(select(User))}
    taken_emails = {user.email for user in existing.values() if user.email}
    has_admin = any(user.role == "admin" and user.is_active for user in existing.values())
    users: list[DemoUser] = []
    for spec in DEMO_USERS:
        # Always draw the same values, so the leads that follow do not depend on who already existed.
        display_name = zh.name()
        skill = rng.uniform(0.75, 1.3)
        joined = now - timedelta(days=rng.randint(200, 900))
        user = existing.get(spec.username)
        if user is None and spec.role == "admin" and has_admin:
            continue
        if user is None:
            email = f"{spec.username}@loudou.example.com"
            user_id = rows.add(
                "user",
                username=spec.username,
                display_name=display_name,
                email=None if email in taken_emails else email,
                role=spec.role,
                region=spec.region,
                industry=spec.industry,
                team=spec.team,
                is_active=True,
                password_hash=password_hash,
                failed_logins=0,
                locked_until=None,
                last_login_at=None,
                created_at=joined,
            )
            users.append(
                DemoUser(spec.username, display_name, spec.role, spec.region, spec.industry, spec.team, True)
            )
        else:
            user_id = user.id
            users.append(
                DemoUser(
                    user.username, user.display_name, user.role, user.region, user.industry, user.team, False
                )
            )
        if spec.role == "rep":
            rows.reps.append(Rep(user_id, spec.region, spec.industry, skill, spec.team))
    return users


def demo_logins(session: Session) -> list[str]:
    """The demo accounts that still sign in with DEMO_PASSWORD, for the sign-in page's hint.

    Empty while the settings turn the demo off (sign-in then refuses DEMO_PASSWORD anyway). Every user
    one demo load creates shares a single hash (see generate_demo), so the verdict on the most shared
    hash answers for all of them; it is one argon2 verify per hash for the life of the process
    (is_demo_password_hash remembers it), not one per anonymous view of the sign-in page. Checking
    usernames alone would advertise the demo password for accounts whose password was changed since,
    or for real users who happen to be called rep01; a user whose password was changed has a hash of
    their own and drops out.
    """
    if not get_settings().allow_demo:
        return []
    names = [spec.username for spec in DEMO_USERS]
    hashes = {
        username: password_hash
        for username, password_hash in session.execute(
            select(User.username, User.password_hash).where(
                User.username.in_(names), User.is_active.is_(True), User.password_hash.is_not(None)
            )
        )
    }
    if not hashes:
        return []
    shared, _ = Counter(hashes.values()).most_common(1)[0]
    if not is_demo_password_hash(shared):
        return []
    return [name for name in names if hashes.get(name) == shared]


def _sync_sequences(session: Session, tables: list[Table]) -> None:
    """Move PostgreSQL id sequences past the ids the demo assigned itself, so later inserts do not clash."""
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return
    for table in tables:
        if "id" not in table.c:
            continue
        quoted = dialect.identifier_preparer.format_table(table)
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence(:table, 'id'), (SELECT MAX(id) FROM {quoted}))"),
            {"table": quoted},
        )


def generate_demo(
    engine: Engine,
    *,
    leads: int = 2000,
    seed: int = 42,
    anchor: date | None = None,
    append: bool = False,
    actor: Actor,
) -> DemoSummary:
    """Load demo users and `leads` leads with six months of history ending at 00:00 UTC of `anchor`.

    `anchor` defaults to today (UTC). The same seed, leads and anchor give identical rows in an empty
    database. A database that already holds customers is refused unless `append` is set.
    """
    require(actor, "demo.load")
    started = time.perf_counter()
    today = utcnow().date()
    anchor = anchor or today
    if not 1 <= leads <= MAX_LEADS:
        raise DemoError(f"--leads must be between 1 and {MAX_LEADS:,}, got {leads}")
    if anchor > today:
        raise DemoError(f"--anchor {anchor} is in the future; demo history must end by today")
    now = datetime.combine(anchor, datetime.min.time())
    rng = random.Random(seed)
    zh = _user_names_faker(seed)
    with session_scope(engine) as session:
        existing = session.scalar(select(func.count()).select_from(Customer)) or 0
        if existing and not append:
            raise DemoError(
                f"the database already holds {existing:,} customers; demo data goes into an empty "
                "database, or pass --append (append=True) to add it alongside"
            )
        taken_numbers: set[str] = set()
        taken_handles: set[str] = set()
        if existing:
            # Appending must not repeat a customer number (unique) or a phone (a duplicate lead).
            taken_numbers = set(session.scalars(select(Customer.customer_no)))
            for handles in session.execute(select(Contact.phone, Contact.email, Contact.wechat)):
                taken_handles.update(value for value in handles if value)
        # The managed lists the demo's codes come from (tags among them) and the scoring rules, first:
        # each lead is linked to its tags and scored as it is drawn.
        seed_lists(session)
        seed_rules(session)
        rows = DemoRows(
            rng=rng,
            pools=pools_for(seed),
            pipeline=get_pipeline(),
            now=now,
            next_ids=_next_ids(session),
            taken_numbers=taken_numbers,
            taken_handles=taken_handles,
            tag_ids=_tag_ids(session),
            score_rules=load_rules(session),
        )
        # One hash for every new demo user: they share the published DEMO_PASSWORD anyway.
        users = _add_users(session, rows, zh, now, hash_password(DEMO_PASSWORD))
        connection = session.connection()
        loader = BulkLoader(connection)
        tables = demo_tables()
        # Into empty tables the indexes are built once after the rows (not kept row by row); appending,
        # the rows already there would be indexed again, so they are kept as they are.
        indexes = nullcontext() if existing else deferred_indexes(connection, tables)
        with bulk_load_settings(connection), indexes:
            for start in range(0, leads, BATCH_LEADS):
                for _ in range(min(BATCH_LEADS, leads - start)):
                    rows.add_lead()
                batch = rows.take()
                for table in tables:
                    loader.insert(table, batch[table.name])
                del batch
        _sync_sequences(session, [table for table in tables if rows.counts[table.name]])
        refresh_statistics(connection, tables)
    return DemoSummary(leads, seed, anchor, rows.counts, users, time.perf_counter() - started)
