"""CLI commands, one module each; every module has `register(subparsers)`."""

from funnel.commands import db_commands, report_command

COMMAND_MODULES = [db_commands, report_command]
