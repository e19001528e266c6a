"""Shared fixtures: a migrated database per test on SQLite, and on PostgreSQL when configured.

On SQLite each test starts from a copy of one template file migrated once per session: running every
migration for every test (a table rebuild per table since 0004) cost more than most tests themselves.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from funnel.core.db import make_engine, session_factory, upgrade
from funnel.core.settings import get_settings
from funnel.integrations.handlers import install_handlers
from funnel.store.models import User

install_handlers()  # the domain event handlers the app and the command line subscribe

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL")
if os.environ.get("CRM_REQUIRE_POSTGRES") and not POSTGRES_URL:
    raise pytest.UsageError("CRM_REQUIRE_POSTGRES is set but CRM_TEST_POSTGRES_URL is not")
DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="CRM_TEST_POSTGRES_URL is not set"),
        ],
    ),
]


def _fresh_postgres(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


def database_url_for(backend: str, tmp_path: Path) -> str:
    if backend == "postgresql":
        assert POSTGRES_URL
        _fresh_postgres(POSTGRES_URL).dispose()
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A URL of an empty database on each backend, also exported as CRM_DATABASE_URL."""
    url = database_url_for(request.param, tmp_path)
    monkeypatch.setenv("CRM_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A URL of an empty SQLite database, exported as CRM_DATABASE_URL (for app and unit-level tests)."""
    url = f"sqlite:///{tmp_path / 'test.db'}"
    monkeypatch.setenv("CRM_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the latest revision, built once per test session."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}", create=True)
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
    engine.dispose()
    return path


def copy_migrated_sqlite(template: Path, url: str) -> None:
    """Put a copy of the migrated template where the SQLite `url` points; upgrade() then finds it current."""
    database = make_url(url).database
    assert database, url
    shutil.copyfile(template, database)


@pytest.fixture
def engine(db_url: str, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated engine on each backend (on SQLite a copy of the template; upgrade() only checks it)."""
    if make_url(db_url).get_backend_name() == "sqlite":
        copy_migrated_sqlite(sqlite_template, db_url)
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as s:
        yield s


@pytest.fixture
def datasets() -> Path:
    if not DATASETS.exists():
        pytest.skip(f"shared data sets not found at {DATASETS}")
    return DATASETS


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with tiny costs: the same algorithm and format, without 60 ms per hash in every test."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        "funnel.accounts.passwords._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(autouse=True)
def utc_team_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests read times on a UTC team clock unless they set CRM_TIMEZONE themselves (the default is Shanghai)."""
    monkeypatch.setenv("CRM_TIMEZONE", "UTC")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


ROLE_PASSWORD = "correct horse"


@pytest.fixture
def role_users(session: Session) -> dict[str, User]:
    """The one role fixture: a user per role of the role table (username = role, display name in upper
    case, password ROLE_PASSWORD) and a second rep, "rep2", created as the SYSTEM principal would."""
    from funnel.access.permissions import ROLES, SYSTEM
    from funnel.accounts.users import UserInput, add_user

    return {
        name: add_user(
            session,
            UserInput(username=name, role=role, display_name=name.upper()),
            password=ROLE_PASSWORD,
            actor=SYSTEM,
        )
        for name, role in [*((role, role) for role in ROLES), ("rep2", "rep")]
    }
