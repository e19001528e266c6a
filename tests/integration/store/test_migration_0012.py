"""Migration 0012: yesterday's comma/、/;-separated tag strings become tag items and links, on each backend."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from funnel.core.db import _alembic_config, make_engine, schema_is_current, upgrade


def test_old_tag_strings_become_links_and_the_lists_and_rules_are_seeded(db_url):
    engine = make_engine(db_url, create=True)
    command.upgrade(_alembic_config(engine), "0010")
    with engine.begin() as conn:
        conn.execute(
            text("""INSERT INTO customer (customer_no, name, stage, status, furthest_stage, tags, created_at,
                                          updated_at, version)
                    VALUES ('C1', 'A', 'lead', 'open', 'lead', '高意向、老板朋友; 高意向', '2026-01-01',
                            '2026-01-01', 1),
                           ('C2', 'B', 'lead', 'open', 'lead', NULL, '2026-01-01', '2026-01-01', 1)""")
        )

    upgrade(engine)

    assert schema_is_current(engine)
    with engine.connect() as conn:
        links = conn.execute(
            text("""SELECT c.customer_no, l.code, l.managed FROM customer_tag t
                    JOIN customer c ON c.id = t.customer_id JOIN list_item l ON l.id = t.tag_id
                    ORDER BY l.code""")
        ).all()
        trade_show = conn.execute(
            text("SELECT name_en FROM list_item WHERE list_name = 'channel' AND code = '展会'")
        ).scalar()
        rules = conn.execute(text("SELECT COUNT(*) FROM score_rule")).scalar()
    assert sorted((no, code, bool(managed)) for no, code, managed in links) == [
        ("C1", "老板朋友", False),
        ("C1", "高意向", True),
    ]
    assert trade_show == "Trade show"
    assert rules and rules > 5
    engine.dispose()
