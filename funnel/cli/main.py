"""`python -m funnel <command>`: each command lives in funnel/commands/ and registers itself here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from funnel.cli.commands import COMMAND_MODULES
from funnel.core.db import DatabaseUnavailable
from funnel.core.errors import PermissionDenied, UserError
from funnel.core.i18n import t
from funnel.integrations.handlers import install_handlers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m funnel",
        description="Loudou CRM command line. Every command uses CRM_DATABASE_URL "
        "(default: a SQLite file under data/).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    install_handlers()
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except DatabaseUnavailable as exc:
        # Missing file, unknown schema revision, server down, read-only: one line the operator can act on.
        print(f"error: {t(exc.key, 'en', **exc.params)}", file=sys.stderr)
        return 2
    except PermissionDenied as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (UserError, ValueError, OSError, LookupError) as exc:
        # Errors a user can cause (a bad path, a bad option value) get one line, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code
