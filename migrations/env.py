"""Alembic environment: on the connection or engine from funnel.core.db.upgrade, or CRM_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from funnel.core.db import make_engine
from funnel.store.models import Base

config = context.config


def run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by dropping it; with foreign keys on, dropping a parent would
        # cascade-delete its children's rows. The pragma only takes effect outside a transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=sqlite)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


# upgrade() passes the connection that holds the migration lock; the alembic CLI passes nothing.
given = config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    engine = config.attributes.get("engine") or make_engine()
    with engine.connect() as connection:
        run_migrations(connection)
