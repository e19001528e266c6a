"""Every action the audit log records, and the kinds of record it is about: the one list of each."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    ASSIGN = "assign"
    SHARE = "share"
    UNSHARE = "unshare"
    DELETE = "delete"
    STAGE_MOVE = "stage_move"
    IMPORT_CREATE = "import_create"
    IMPORT_UPDATE = "import_update"
    FUNNEL_REPAIR = "funnel_repair"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_REFUSED_LOCKED = "login_refused_locked"
    LOGIN_REFUSED_DISABLED = "login_refused_disabled"
    ACCOUNT_LOCKED = "account_locked"
    LOGIN_SSO = "login_sso"
    PASSWORD_RESET = "password_reset"
    CHANNEL_ADD = "channel_add"
    CHANNEL_TOKEN = "channel_token"
    CHANNEL_REVOKE = "channel_revoke"
    CHANNEL_SWITCH = "channel_switch"
    CONTACT_ADD = "contact_add"
    CONTACT_EDIT = "contact_edit"
    CONTACT_REMOVE = "contact_remove"
    TAG_ADD = "tag_add"
    ACTIVITY_LOG = "activity_log"
    GRADE = "grade"
    QUALIFY = "qualify"
    ARCHIVE = "archive"
    RESTORE = "restore"
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"


class AuditEntity(StrEnum):
    CUSTOMER = "customer"
    USER = "user"
    INTAKE_SOURCE = "intake_source"
    SETTING = "setting"  # a team-wide setting: the score rules, a managed list
    ACTIVITY = "activity"
    TASK = "task"
    OPPORTUNITY = "opportunity"
    QUOTE = "quote"
    CONTRACT = "contract"
    PAYMENT = "payment"
    OBJECTION = "objection"
    PLAYBOOK = "playbook"
    DOCUMENT = "document"
    SURVEY = "survey"
    MEETING = "meeting"
