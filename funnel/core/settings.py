"""One Settings object: where the data lives and the time rules the CRM keeps."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'loudou.db'}"
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # Connections per app process: a Streamlit session runs on a thread of its own and a dashboard reads
    # on up to three more (funnel.core.db.ConcurrentReads). With SQLAlchemy's 5 + 10 and 30 s, twenty
    # people opening dashboards at once at a million customers failed for want of a connection while
    # the CPU was the real queue; a larger pool and a longer wait queue the work instead (#12).
    db_pool_size: int = 10
    db_max_overflow: int = 30
    db_pool_timeout_seconds: int = 300
    pipeline_file: Path | None = None
    first_contact_sla_hours: int = 24
    quote_idle_days: int = 3
    proposal_feedback_days: int = 5
    survey_after_win_days: int = 3
    max_upload_mb: int = 20
    # A contract of at least this amount waits for a manager's approval; below it, submitting signs it.
    contract_approval_amount: int = 0
    # A contract of at least this amount is approved by an admin only (0: no such limit).
    contract_admin_amount: int = 0
    # How long a satisfaction survey's link stays open.
    survey_valid_days: int = 14
    # The largest file `import` reads; bigger ones are refused before a byte is parsed.
    max_import_mb: int = 50
    session_idle_minutes: int = 60
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    language: str = "en"
    # The sales team's time zone: what "a day", "a week" and naive spreadsheet times mean.
    timezone: str = "Asia/Shanghai"
    # Whether the app offers "Load demo data" (and shows the demo logins); turn off in production.
    allow_demo: bool = True
    # Forecast categories: a deal whose P(win) is at least this many percent is "commit", "best case".
    forecast_commit_percent: int = 70
    forecast_best_case_percent: int = 40
    # Public intake (funnel.integrations.public_routes): the address prospects reach the app at (form
    # links and QR codes), the secret that signs the form's CSRF token (empty: one is generated and
    # kept in data/), and per-client limits per minute, counted in each server process.
    public_base_url: str = "http://localhost:8501"
    intake_secret: str = ""
    intake_form_per_minute: int = 10
    intake_api_per_minute: int = 120
    intake_max_body_kb: int = 64
    # Believe X-Forwarded-For (only behind a reverse proxy that sets it); otherwise the socket's address.
    trust_forwarded_for: bool = False
    # Whether a rep may type a tag outside the managed library (it joins the list unmanaged).
    free_tags: bool = True
    # Where the app is reached from outside: group-bot messages link to {public_base_url}/customer?id=N.
    # Whether the running app sends due group-bot messages itself (a background thread), and how often.
    notify_in_app: bool = True
    notify_interval_seconds: int = 30
    # The timers (funnel/timers): the first-contact SLA counts only business hours when this is on
    # (business_days, ISO weekday numbers, from business_hours_start to business_hours_end, team zone).
    first_contact_business_hours: bool = False
    business_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    business_hours_start: int = 9
    business_hours_end: int = 18
    # Hours after the first-contact deadline (same clock) before the owner's manager is told too.
    first_contact_escalation_hours: int = 4
    # How long before a task's due time its owner is reminded.
    task_reminder_minutes: int = 60
    # The hour of the team's day from which the day's A list is sent.
    a_daily_hour: int = 8
    # How far back the timers look: a lead or task older than this is not reminded of any more
    # (also keeps the first run on an imported history from flooding every inbox).
    timer_lookback_days: int = 14
    # The least time between two runs of the timers started by opening My day or the inbox.
    timer_page_interval_seconds: int = 60


def _secrets_database_url() -> str | None:
    # Streamlit deployments keep connection strings in .streamlit/secrets.toml; read it without
    # importing streamlit so the CLI and tests resolve the same URL as the app.
    if not SECRETS_FILE.exists():
        return None
    try:
        secrets = tomllib.loads(SECRETS_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    url = secrets.get("CRM_DATABASE_URL") or secrets.get("database", {}).get("url")
    return str(url) if url else None


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


_YES = ("1", "true", "yes", "on")


def _flag_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


def _days_env(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """ISO weekday numbers (1 = Monday) written "1,2,3,4,5" or "1-5"."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    days: set[int] = set()
    try:
        for part in raw.split(","):
            first, _, last = part.strip().partition("-")
            days.update(range(int(first), int(last or first) + 1))
    except ValueError as exc:
        raise ValueError(f"{name} must list weekdays 1-7 (1 = Monday), e.g. 1-5, got {raw!r}") from exc
    if not days or not days <= set(range(1, 8)):
        raise ValueError(f"{name} must list weekdays 1-7 (1 = Monday), e.g. 1-5, got {raw!r}")
    return tuple(sorted(days))


def load_settings() -> Settings:
    """Build settings from the environment (CRM_*), then secrets.toml, then defaults."""
    url = os.environ.get("CRM_DATABASE_URL") or _secrets_database_url() or DEFAULT_DATABASE_URL
    pipeline = os.environ.get("CRM_PIPELINE_FILE")
    return Settings(
        database_url=url,
        db_pool_size=_int_env("CRM_DB_POOL_SIZE", 10),
        db_max_overflow=_int_env("CRM_DB_MAX_OVERFLOW", 30),
        db_pool_timeout_seconds=_int_env("CRM_DB_POOL_TIMEOUT_SECONDS", 300),
        pipeline_file=Path(pipeline) if pipeline else None,
        first_contact_sla_hours=_int_env("CRM_FIRST_CONTACT_SLA_HOURS", 24),
        quote_idle_days=_int_env("CRM_QUOTE_IDLE_DAYS", 3),
        proposal_feedback_days=_int_env("CRM_PROPOSAL_FEEDBACK_DAYS", 5),
        survey_after_win_days=_int_env("CRM_SURVEY_AFTER_WIN_DAYS", 3),
        max_upload_mb=_int_env("CRM_MAX_UPLOAD_MB", 20),
        contract_approval_amount=_int_env("CRM_CONTRACT_APPROVAL_AMOUNT", 0),
        contract_admin_amount=_int_env("CRM_CONTRACT_ADMIN_AMOUNT", 0),
        survey_valid_days=_int_env("CRM_SURVEY_VALID_DAYS", 14),
        max_import_mb=_int_env("CRM_MAX_IMPORT_MB", 50),
        session_idle_minutes=_int_env("CRM_SESSION_IDLE_MINUTES", 60),
        max_failed_logins=_int_env("CRM_MAX_FAILED_LOGINS", 5),
        lockout_minutes=_int_env("CRM_LOCKOUT_MINUTES", 15),
        language=os.environ.get("CRM_LANGUAGE", "en"),
        timezone=os.environ.get("CRM_TIMEZONE", "Asia/Shanghai"),
        allow_demo=os.environ.get("CRM_ALLOW_DEMO", "1").strip().lower() not in ("0", "false", "no", "off"),
        forecast_commit_percent=_int_env("CRM_FORECAST_COMMIT_PERCENT", 70),
        forecast_best_case_percent=_int_env("CRM_FORECAST_BEST_CASE_PERCENT", 40),
        public_base_url=os.environ.get("CRM_PUBLIC_BASE_URL", "").strip().rstrip("/")
        or Settings.public_base_url,
        intake_secret=os.environ.get("CRM_INTAKE_SECRET", ""),
        intake_form_per_minute=_int_env("CRM_INTAKE_FORM_PER_MINUTE", 10),
        intake_api_per_minute=_int_env("CRM_INTAKE_API_PER_MINUTE", 120),
        intake_max_body_kb=_int_env("CRM_INTAKE_MAX_BODY_KB", 64),
        trust_forwarded_for=os.environ.get("CRM_TRUST_FORWARDED_FOR", "0").strip().lower() in _YES,
        free_tags=os.environ.get("CRM_FREE_TAGS", "1").strip().lower() not in ("0", "false", "no", "off"),
        notify_in_app=os.environ.get("CRM_NOTIFY_IN_APP", "1").strip().lower()
        not in ("0", "false", "no", "off"),
        notify_interval_seconds=_int_env("CRM_NOTIFY_INTERVAL_SECONDS", 30),
        first_contact_business_hours=_flag_env("CRM_FIRST_CONTACT_BUSINESS_HOURS", False),
        business_days=_days_env("CRM_BUSINESS_DAYS", (1, 2, 3, 4, 5)),
        business_hours_start=_int_env("CRM_BUSINESS_HOURS_START", 9),
        business_hours_end=_int_env("CRM_BUSINESS_HOURS_END", 18),
        first_contact_escalation_hours=_int_env("CRM_FIRST_CONTACT_ESCALATION_HOURS", 4),
        task_reminder_minutes=_int_env("CRM_TASK_REMINDER_MINUTES", 60),
        a_daily_hour=_int_env("CRM_A_DAILY_HOUR", 8),
        timer_lookback_days=_int_env("CRM_TIMER_LOOKBACK_DAYS", 14),
        timer_page_interval_seconds=_int_env("CRM_TIMER_PAGE_INTERVAL_SECONDS", 60),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
