"""What the app's PostgreSQL connections are set to: no JIT compilation (it made each dashboard query
0.2-0.5 s slower at 100,000 customers), unless the URL sets the connection `options` itself."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from funnel.core.db import make_engine
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="CRM_TEST_POSTGRES_URL is not set")


def _setting(url: str, name: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text(f"SHOW {name}")).scalar())
    finally:
        engine.dispose()


def test_the_app_connects_without_jit():
    assert POSTGRES_URL
    assert _setting(POSTGRES_URL, "jit") == "off"


def test_options_in_the_url_are_kept():
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL).update_query_dict({"options": "-c jit=on -c work_mem=8MB"})
    rendered = url.render_as_string(hide_password=False)
    assert _setting(rendered, "jit") == "on"
    assert _setting(rendered, "work_mem") == "8MB"
