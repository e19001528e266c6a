"""The new-lead form's values: its fields (from the field specification), empty values, and the LeadInput;
the campaigns it suggests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, customer_scope, require
from funnel.capture.leads import LeadInput
from funnel.customers.fields import BY_NAME, LEAD_FORM_FIELDS
from funnel.customers.lists import list_values
from funnel.store.models import Customer

# Choices (a selectbox) start as None or a default; typed fields as "".
LEAD_CHOICE_FIELDS = tuple(name for name in LEAD_FORM_FIELDS if BY_NAME[name].kind in ("choice", "stage"))
LEAD_TEXT_FIELDS = tuple(name for name in LEAD_FORM_FIELDS if name not in LEAD_CHOICE_FIELDS)
# Typed on the form besides the customer's fields: the first note (an activity, not a customer field).
NOTE_FIELD = "note"
CAMPAIGN_LIST = "campaign"


def lead_form_defaults(first_stage: str) -> dict[str, str | None]:
    """Every field of an empty lead form."""
    values: dict[str, str | None] = dict.fromkeys(LEAD_TEXT_FIELDS, "")
    values.update(channel=None, campaign=None, grade="", stage=first_stage)
    values[NOTE_FIELD] = ""
    return values


def lead_input(values: dict[str, str | None]) -> LeadInput:
    """A LeadInput from the lead form's values (validation happens in funnel.capture.leads.create_lead)."""
    given = {name: values.get(name) or None for name in (*LEAD_FORM_FIELDS, NOTE_FIELD)}
    return LeadInput(**given)  # type: ignore[arg-type]  # the spec's form fields are LeadInput fields


def campaign_options(session: Session, *, actor: Actor, lang: str) -> dict[str, str]:
    """{stored value: label}: the managed `campaign` list first (named in `lang`), then the campaigns
    of the customers `actor` sees. Any other typed campaign is accepted too."""
    require(actor, "customer.create")
    require(actor, "customer.read")
    options = {value.code: value.label(lang) for value in list_values(session, CAMPAIGN_LIST)}
    stmt = select(Customer.campaign).where(Customer.campaign.is_not(None)).distinct()
    for campaign in session.scalars(stmt.where(*customer_scope(session, actor).conditions())):
        if campaign is not None:
            options.setdefault(campaign, campaign)
    return options
