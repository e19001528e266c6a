"""Every ORM model of the CRM (SQLAlchemy 2, typed)."""

# Keeps customer.last_active_at with every flush of an activity or stage event, whatever imports a model.
from funnel.store import last_active as last_active
