"""`user add|passwd|list|disable`: local accounts from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from funnel.access.permissions import ROLES, SYSTEM
from funnel.accounts.users import UserInput, add_user, list_users, set_password, update_user
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.errors import ValidationError
from funnel.core.i18n import t


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("user", help="add, list, disable users; set passwords")
    users = parser.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    add = users.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--name", help="display name (default: the username)")
    add.add_argument("--email")
    add.add_argument("--region", help="routing: the region this user covers")
    add.add_argument("--industry", help="routing: the industry this user covers")
    add.add_argument("--team")
    add.add_argument(
        "--password-stdin", action="store_true", required=True, help="read the password from stdin"
    )
    add.set_defaults(handler=_add)

    passwd = users.add_parser("passwd", help="set a user's password (also lifts a lock-out)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", required=True)
    passwd.set_defaults(handler=_passwd)

    listing = users.add_parser("list", help="list every account")
    listing.set_defaults(handler=_list)

    disable = users.add_parser("disable", help="stop a user from signing in (their customers stay)")
    disable.add_argument("username")
    disable.set_defaults(handler=_disable)


def _read_password() -> str:
    # One line from stdin, so `echo secret | ...` and a here-string both work; never echoed or logged.
    return sys.stdin.readline().rstrip("\r\n")


def _engine() -> Any:
    engine = make_engine()
    upgrade(engine)
    return engine


def _fail(exc: ValidationError) -> int:
    for error in exc.errors:
        print(f"error: {error.field}: {t(error.code, 'en', **error.params)}", file=sys.stderr)
    return 2


def _add(args: argparse.Namespace) -> int:
    user_in = UserInput(
        username=args.username,
        role=args.role,
        display_name=args.name,
        email=args.email,
        region=args.region,
        industry=args.industry,
        team=args.team,
    )
    try:
        with session_scope(_engine()) as session:
            user = add_user(session, user_in, password=_read_password(), actor=SYSTEM)
            print(f"added {user.username} ({user.role})")
    except ValidationError as exc:
        return _fail(exc)
    return 0


def _passwd(args: argparse.Namespace) -> int:
    try:
        with session_scope(_engine()) as session:
            set_password(session, args.username, _read_password(), actor=SYSTEM)
    except ValidationError as exc:
        return _fail(exc)
    print(f"password set for {args.username}")
    return 0


def _list(_args: argparse.Namespace) -> int:
    with session_scope(_engine()) as session:
        for user in list_users(session):
            state = "active" if user.is_active else "disabled"
            routing = " ".join(f"{k}={v}" for k, v in (("region", user.region), ("industry", user.industry),
                                                      ("team", user.team)) if v)  # fmt: skip
            print(f"{user.username:<20} {user.role:<9} {state:<9} {user.display_name} {routing}".rstrip())
    return 0


def _disable(args: argparse.Namespace) -> int:
    try:
        with session_scope(_engine()) as session:
            update_user(session, args.username, actor=SYSTEM, is_active=False)
    except ValidationError as exc:
        return _fail(exc)
    print(f"disabled {args.username}")
    return 0
