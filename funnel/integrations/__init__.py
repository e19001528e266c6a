"""The outside world: group-bot webhooks and their outbox, file storage (later issues fill it)."""
