"""Every ORM model of the CRM (SQLAlchemy 2, typed)."""

# The stored columns kept with every flush, whatever imports a model: customer.opportunity_amount and
# signed_amount with each opportunity or contract, customer.last_active_at with each activity or stage event.
from funnel.store import deal_amounts as deal_amounts
from funnel.store import last_active as last_active
