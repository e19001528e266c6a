"""Loudou (漏斗): a sales-funnel CRM. This package never imports streamlit."""

__version__ = "0.1.0"
