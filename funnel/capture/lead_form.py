"""The new-lead form's values: its fields (from the field specification), empty values, and the LeadInput."""

from __future__ import annotations

from funnel.capture.leads import LeadInput
from funnel.customers.fields import BY_NAME, LEAD_FORM_FIELDS

# Choices (a selectbox) start as None or a default; typed fields as "".
LEAD_CHOICE_FIELDS = tuple(name for name in LEAD_FORM_FIELDS if BY_NAME[name].kind in ("choice", "stage"))
LEAD_TEXT_FIELDS = tuple(name for name in LEAD_FORM_FIELDS if name not in LEAD_CHOICE_FIELDS)


def lead_form_defaults(first_stage: str) -> dict[str, str | None]:
    """Every field of an empty lead form."""
    values: dict[str, str | None] = dict.fromkeys(LEAD_TEXT_FIELDS, "")
    values.update(channel=None, grade="", stage=first_stage)
    return values


def lead_input(values: dict[str, str | None]) -> LeadInput:
    """A LeadInput from the lead form's values (validation happens in funnel.capture.leads.create_lead)."""
    given = {name: values.get(name) or None for name in LEAD_FORM_FIELDS}
    return LeadInput(**given)  # type: ignore[arg-type]  # the spec's form fields are LeadInput fields
