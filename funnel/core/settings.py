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


def load_settings() -> Settings:
    """Build settings from the environment (CRM_*), then secrets.toml, then defaults."""
    url = os.environ.get("CRM_DATABASE_URL") or _secrets_database_url() or DEFAULT_DATABASE_URL
    pipeline = os.environ.get("CRM_PIPELINE_FILE")
    return Settings(
        database_url=url,
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
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
