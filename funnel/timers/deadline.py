"""The first-contact deadline, as the timers use it.

The rule itself lives one layer down, in funnel.customers.deadline, so that the leads list's red flag
(funnel.customers.read) and the timers share one definition of "overdue".
"""

from funnel.customers.deadline import (
    add_business_time,
    business_periods,
    first_contact_deadline,
    first_contact_overdue_sql,
    is_first_contact_overdue,
    overdue_created_until,
)

__all__ = [
    "add_business_time",
    "business_periods",
    "first_contact_deadline",
    "first_contact_overdue_sql",
    "is_first_contact_overdue",
    "overdue_created_until",
]
