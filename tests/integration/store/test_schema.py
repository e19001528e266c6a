"""The migrations and the models describe one schema, with named constraints, upgraded once at a time."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, ForeignKeyConstraint, PrimaryKeyConstraint, UniqueConstraint, inspect, text
from sqlalchemy.exc import IntegrityError

from funnel.core.db import _alembic_config, make_engine, schema_is_current, upgrade
from funnel.customers.search import SEARCH_OBJECTS
from funnel.store.models import Base
from tests.conftest import BACKENDS

POSTGRES_ONLY = [backend for backend in BACKENDS if backend != "sqlite"]

# A customer with a child in every kind of relation (cascading, plain, composite key) at revision 0003.
ROWS_AT_0003 = [
    """INSERT INTO "user" (id, username, display_name, role, is_active, failed_logins, created_at)
       VALUES (7, 'rep', 'Rep', 'rep', TRUE, 0, '2026-01-01')""",
    """INSERT INTO customer (id, customer_no, name, owner_id, stage, status, created_at, updated_at, version)
       VALUES (1, 'C0001', 'kept', 7, 'lead', 'open', '2026-01-01', '2026-01-01', 1)""",
    """INSERT INTO contact (customer_id, name, is_primary, is_decision_maker, created_at)
       VALUES (1, '王芳', TRUE, FALSE, '2026-01-01')""",
    "INSERT INTO customer_share (customer_id, user_id, created_at) VALUES (1, 7, '2026-01-01')",
    "INSERT INTO stage_event (customer_id, to_stage, at, by_user_id) VALUES (1, 'lead', '2026-01-01', 7)",
]


def drift(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        # The search's FTS5 tables and trigram indexes are per backend, made by migration 0025 outside the
        # models; `python -m funnel check` and the search tests prove them.
        options = {"include_name": lambda name, _kind, _parents: name not in SEARCH_OBJECTS}
        return list(compare_metadata(MigrationContext.configure(conn, opts=options), Base.metadata))


def constraint_names(engine: Engine) -> dict[str, set[str | None]]:
    """Each table's primary key, unique constraint and foreign key names, as the database reports them."""
    inspector = inspect(engine)
    return {
        table: {
            inspector.get_pk_constraint(table)["name"],
            *(uq["name"] for uq in inspector.get_unique_constraints(table)),
            *(fk["name"] for fk in inspector.get_foreign_keys(table)),
        }
        for table in Base.metadata.tables
    }


def model_constraint_names() -> dict[str, set[str | None]]:
    return {
        name: {
            constraint.name
            for constraint in table.constraints
            if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint | ForeignKeyConstraint)
        }
        for name, table in Base.metadata.tables.items()
    }


def test_the_migrations_build_exactly_the_schema_the_models_describe(db_url):
    engine = make_engine(db_url, create=True)
    upgrade(engine)

    assert drift(engine) == []
    engine.dispose()


def test_every_constraint_carries_the_name_the_convention_gives_it(db_url):
    engine = make_engine(db_url, create=True)
    upgrade(engine)

    assert constraint_names(engine) == model_constraint_names()
    assert constraint_names(engine)["customer"] == {
        "pk_customer", "uq_customer_customer_no", "uq_customer_external_id", "fk_customer_owner_id_user",
    }  # fmt: skip
    engine.dispose()


def test_naming_the_constraints_keeps_every_row_and_the_foreign_keys_still_hold(db_url):
    engine = make_engine(db_url, create=True)
    command.upgrade(_alembic_config(engine), "0003")
    with engine.begin() as conn:
        for statement in ROWS_AT_0003:
            conn.execute(text(statement))

    upgrade(engine)

    assert schema_is_current(engine)
    with engine.connect() as conn:
        counts = {
            table: conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar()
            for table in ("user", "customer", "contact", "customer_share", "stage_event")
        }
    assert counts == {"user": 1, "customer": 1, "contact": 1, "customer_share": 1, "stage_event": 1}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text("""INSERT INTO contact (customer_id, name, is_primary, is_decision_maker, created_at)
                             VALUES (99, 'nobody', FALSE, FALSE, '2026-01-01')""")
        )
    engine.dispose()


def test_the_constraint_names_can_be_downgraded_and_upgraded_again(db_url):
    engine = make_engine(db_url, create=True)
    upgrade(engine)

    command.downgrade(_alembic_config(engine), "0003")
    upgrade(engine)

    assert constraint_names(engine) == model_constraint_names()
    assert drift(engine) == []
    engine.dispose()


@pytest.mark.parametrize("db_url", POSTGRES_ONLY, indirect=True)
def test_app_servers_starting_at_once_upgrade_an_empty_database_once_without_error(db_url):
    servers = 6
    engines = [make_engine(db_url, create=True) for _ in range(servers)]
    all_ready = threading.Barrier(servers)
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        all_ready.wait()
        try:
            upgrade(engine)
        except BaseException as error:  # collected: an exception in a thread would not fail the test
            errors.append(error)

    # Daemon threads with a deadline: without the lock, racing DDL can deadlock rather than raise.
    threads = [threading.Thread(target=start, args=(engine,), daemon=True) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [thread for thread in threads if thread.is_alive()] == []
    assert errors == []
    assert schema_is_current(engines[0])
    assert drift(engines[0]) == []
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1
        assert (
            conn.execute(
                text(
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).scalar()
            == 0
        )
    for engine in engines:
        engine.dispose()
