"""The one timer engine: first-contact SLA, the A list, tasks (rules.RULES); closing adds proposal feedback,
idle quotes, overdue instalments and the survey through rules.register_rules (funnel.closing.reminders)."""
