"""The CLI's commands, one module each; every module has `register(subparsers)`."""

from funnel.cli import (
    backup,
    channel,
    check,
    demo,
    export,
    forecast,
    import_calls,
    import_leads,
    init_db,
    notify,
    remind,
    report,
    rules,
    summary,
    train_score,
    user,
)

COMMAND_MODULES = [
    init_db,
    report,
    check,
    user,
    demo,
    import_leads,
    backup,
    channel,
    export,
    forecast,
    import_calls,
    notify,
    remind,
    rules,
    summary,
    train_score,
]
