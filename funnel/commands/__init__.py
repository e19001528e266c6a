"""CLI commands, one module each; every module has `register(subparsers)`."""

from funnel.commands import db_commands, demo_command, import_command, report_command, user_command

COMMAND_MODULES = [db_commands, report_command, user_command, demo_command, import_command]
