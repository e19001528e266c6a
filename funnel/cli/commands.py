"""The CLI's commands, one module each; every module has `register(subparsers)`."""

from funnel.cli import backup, check, demo, import_leads, init_db, notify, report, rules, user

COMMAND_MODULES = [init_db, report, check, user, demo, import_leads, backup]
COMMAND_MODULES += [rules, notify]
