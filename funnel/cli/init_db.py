"""`init-db`: create or upgrade the schema."""

from __future__ import annotations

import argparse
from typing import Any

from funnel.core.db import make_engine, upgrade


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "init-db",
        help="create or upgrade the database schema to the latest migration",
        description="Create or upgrade the schema. This is the one command that creates a new SQLite "
        "file outside data/: elsewhere a missing file is taken for a mistyped CRM_DATABASE_URL.",
    )
    parser.set_defaults(handler=init_db)


def init_db(_args: argparse.Namespace) -> int:
    engine = make_engine(create=True)
    upgrade(engine)
    print(f"database is up to date: {engine.url.render_as_string(hide_password=True)}")
    return 0
