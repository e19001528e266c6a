"""Every ORM model of the CRM (SQLAlchemy 2, typed)."""
