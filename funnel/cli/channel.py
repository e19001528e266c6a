"""`channel add|list|revoke|rotate|on|off`: a channel's public intake sources from the command line.

`channel add NAME [--campaign C]` prints the new API token once, alone on its last line, so a script
can take it with `| tail -n 1`; only its sha256 is stored.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from funnel.access.permissions import SYSTEM
from funnel.capture.intake import (
    add_source,
    find_source,
    list_sources,
    revoke_token,
    rotate_token,
    set_active,
)
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.errors import ValidationError
from funnel.core.i18n import t


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "channel", help="public lead intake: a channel's form link and API token"
    )
    actions = parser.add_subparsers(dest="channel_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add a source (a new channel joins the list); prints its token once")
    add.add_argument("name", metavar="NAME", help="the channel (a code or name of the channel list, or new)")
    add.add_argument("--campaign", help="the campaign its leads belong to")
    add.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="a tag every lead from it gets (repeatable)"
    )
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="every source: channel, campaign, on/off, token, form link")
    listing.set_defaults(handler=_list)

    for action, handler, text in (
        ("revoke", _revoke, "revoke the source's API token (the API refuses it from now on)"),
        ("rotate", _rotate, "issue a new API token (prints it once); the old one stops working"),
        ("on", _on, "switch the source's form and API on"),
        ("off", _off, "switch the source's form and API off"),
    ):
        command = actions.add_parser(action, help=text)
        command.add_argument("name", metavar="NAME")
        command.add_argument("--campaign")
        command.set_defaults(handler=handler)


def _engine() -> Any:
    engine = make_engine()
    upgrade(engine)
    return engine


def _fail(exc: ValidationError) -> int:
    for error in exc.errors:
        print(f"error: {error.field}: {t(error.code, 'en', **error.params)}", file=sys.stderr)
    return 2


def _add(args: argparse.Namespace) -> int:
    try:
        with session_scope(_engine()) as session:
            issued = add_source(
                session, channel=args.name, campaign=args.campaign, tags=args.tag, actor=SYSTEM
            )
    except ValidationError as exc:
        return _fail(exc)
    print(f"added {issued.source.name}: form {issued.source.form_url}")
    print("API token (shown only this once; send it as 'Authorization: Bearer TOKEN'):")
    print(issued.token)
    return 0


def _list(_args: argparse.Namespace) -> int:
    with session_scope(_engine()) as session:
        for source in list_sources(session, actor=SYSTEM):
            state = "on" if source.active else "off"
            token = "token" if source.has_token else "no-token"
            print(f"{source.name:<30} {state:<4} {token:<9} {source.leads:>6} leads  {source.form_url}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with session_scope(_engine()) as session:
        source = find_source(session, args.name, args.campaign)
        info = revoke_token(session, source.id, actor=SYSTEM)
    print(f"revoked the API token of {info.name}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    with session_scope(_engine()) as session:
        source = find_source(session, args.name, args.campaign)
        issued = rotate_token(session, source.id, actor=SYSTEM)
    print(f"new API token for {issued.source.name} (shown only this once):")
    print(issued.token)
    return 0


def _switch(args: argparse.Namespace, active: bool) -> int:
    with session_scope(_engine()) as session:
        source = find_source(session, args.name, args.campaign)
        info = set_active(session, source.id, active, actor=SYSTEM)
    print(f"{info.name} is {'on' if active else 'off'}")
    return 0


def _on(args: argparse.Namespace) -> int:
    return _switch(args, True)


def _off(args: argparse.Namespace) -> int:
    return _switch(args, False)
