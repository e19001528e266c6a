"""Filters, SQL roll-ups over the stored funnel state, pure funnel math, the report, charts."""
