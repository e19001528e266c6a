"""The connection pool is sized by settings: enough for many sessions' dashboards at once (#12)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from funnel.core.db import make_engine
from funnel.core.settings import get_settings


@pytest.fixture
def settings_env(monkeypatch):
    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()


def test_a_file_database_gets_the_configured_pool(settings_env, tmp_path):
    settings_env(CRM_DB_POOL_SIZE="7", CRM_DB_MAX_OVERFLOW="3", CRM_DB_POOL_TIMEOUT_SECONDS="9")
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}", create=True)
    assert (engine.pool.size(), engine.pool.timeout()) == (7, 9)
    held = [engine.connect() for _ in range(10)]  # size + overflow
    assert engine.pool.checkedout() == 10
    for connection in held:
        connection.close()
    engine.dispose()


def test_the_defaults_hold_twenty_sessions_and_an_in_memory_database_is_left_as_it_is(settings_env):
    settings_env()
    settings = get_settings()
    assert settings.db_pool_size + settings.db_max_overflow >= 20 + 3 * 3  # 20 sessions, 3 dashboards reading
    engine = make_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_a_pool_size_that_is_not_a_number_is_named(settings_env):
    with pytest.raises(ValueError, match="CRM_DB_POOL_SIZE must be a whole number"):
        settings_env(CRM_DB_POOL_SIZE="lots")
        get_settings()
