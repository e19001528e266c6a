"""Settings, clock, engine and unit of work, errors a user can cause, domain events, i18n, validation."""
