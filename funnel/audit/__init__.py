"""Recording and reading who changed what."""
