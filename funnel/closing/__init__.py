"""Opportunities, files, meetings, objections, quotes, contracts, payments, surveys (the closing issue)."""
