"""The CLI's commands, one module each; every module has `register(subparsers)`."""

from funnel.cli import backup, check, demo, export, import_leads, init_db, report, user

COMMAND_MODULES = [init_db, report, check, user, demo, import_leads, backup, export]
