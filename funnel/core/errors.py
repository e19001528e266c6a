"""Every error a user can cause, under one base, each naming the field or the record it is about.

Pages catch `UserError` and show `field_errors()` each under its field ("form": above the whole form);
the CLI prints one line and exits non-zero. Anything else is a bug or an outage, never the user's doing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

FORM = "form"  # the field name of an error about the whole form or record rather than one field


@dataclass(frozen=True)
class FieldError:
    """One problem with one field; `code` is a message key (see funnel/core/i18n.py)."""

    field: str
    code: str
    params: dict[str, str] = dataclasses.field(default_factory=dict)


class UserError(Exception):
    """Base of every error a user can cause; `errors` says what and where, as message keys."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.code} {e.params or ''}".strip() for e in errors))

    def field_errors(self) -> list[FieldError]:
        return list(self.errors)

    def by_field(self) -> dict[str, FieldError]:
        return {e.field: e for e in self.errors}


class ValidationError(UserError, ValueError):
    """Bad input: every field problem found at once, so a form can show them all."""


class PermissionDenied(UserError):
    """The actor may not do this; `action` names what was refused, `record` what it was refused on."""

    def __init__(self, action: str, record: str = ""):
        self.action, self.record = action, record
        super().__init__([FieldError(FORM, "error.permission", {"action": action})])

    def __str__(self) -> str:
        return f"not allowed: {self.action}{' ' + self.record if self.record else ''}"


class NotFound(UserError, LookupError):
    """The record asked for does not exist (any more); `entity` and `key` name it."""

    def __init__(self, entity: str, key: object):
        self.entity, self.key = entity, str(key)
        super().__init__([FieldError(FORM, "error.not_found", {"entity": entity, "key": self.key})])

    def __str__(self) -> str:
        return f"{self.entity} {self.key} does not exist"


class StaleEdit(UserError):
    """Someone else saved the record after it was loaded; `customer_no` names it."""

    def __init__(self, customer_no: str, *, saved_by: str | None = None, saved_at: str | None = None):
        self.customer_no = customer_no
        self.saved_by = saved_by
        if saved_by is None:
            super().__init__([FieldError(FORM, "error.stale_edit", {"customer_no": customer_no})])
        else:  # who saved first, and when (UTC, minutes), so the user knows whom to ask
            params = {"customer_no": customer_no, "user": saved_by, "at": saved_at or ""}
            super().__init__([FieldError(FORM, "error.stale_edit_by", params)])

    def __str__(self) -> str:
        return f"{self.customer_no} was changed by someone else after it was loaded"
