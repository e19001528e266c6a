"""CLI commands, one module each; every module has `register(subparsers)`."""

from funnel.commands import db_commands

COMMAND_MODULES = [db_commands]
