"""The one timer engine: first-contact SLA, follow-ups, idle quotes, surveys (the working issue fills it)."""
