"""`backup PATH` and `restore PATH`: a consistent copy of the whole database, and putting one back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from funnel.core.backup import BackupError, backup, restore
from funnel.core.db import make_engine, upgrade


def register(sub: Any) -> None:
    made: argparse.ArgumentParser = sub.add_parser(
        "backup",
        help="write a consistent copy of the database to PATH (safe while the app runs)",
        description="SQLite: the online backup API (consistent while the app writes). PostgreSQL: "
        "pg_dump --format=custom (the PostgreSQL client tools must be installed).",
    )
    made.add_argument("path", type=Path, help="the backup file to write")
    made.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    made.set_defaults(handler=run_backup)
    back: argparse.ArgumentParser = sub.add_parser(
        "restore",
        help="replace the database's contents with the backup at PATH",
        description="Refuses a database that already holds users or customers unless --force. The schema "
        "is upgraded afterwards, so a backup from an older version restores too.",
    )
    back.add_argument("path", type=Path, help="a file written by `backup`")
    back.add_argument("--force", action="store_true", help="replace a database that holds data")
    back.set_defaults(handler=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    engine = make_engine()
    try:
        result = backup(engine, args.path, force=args.force)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    print(f"backed up {where} to {result.path} ({result.size_bytes:,} bytes)")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    engine = make_engine(create=True)  # restoring may start a database anew, as init-db does
    try:
        restore(engine, args.path, force=args.force)
        upgrade(engine)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"restored {args.path} into {engine.url.render_as_string(hide_password=True)}")
    return 0
