"""Users, sign-in and sessions (above audit/: they write audit rows)."""
