"""The Olist MQLs routed by a TOML rule set over `origin` to teams of reps: round robin spreads within one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from funnel.access.permissions import SYSTEM
from funnel.accounts.users import UserInput, add_user
from funnel.cli.main import main
from funnel.core.db import session_scope
from funnel.store.models import Customer, User

RULES = """
[settings]
fallback_queue = "intake"

[[rule]]
name = "search"
channel = ["organic_search", "paid_search"]
team = "search"

[[rule]]
name = "social and ads"
channel = ["social", "display", "other_publicities", "referral"]
team = "social"

[[rule]]
name = "the rest"
team = "general"
"""
TEAMS = {"search": 5, "social": 4, "general": 3}


@pytest.mark.slow  # about 35 s on SQLite on a shared machine: 8,000 rows imported and routed
def test_olist_leads_routed_by_origin_give_each_rep_of_a_team_the_same_within_one(
    engine: Engine, tmp_path: Path, datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        for team, size in TEAMS.items():
            for i in range(1, size + 1):
                add_user(session, UserInput(username=f"{team}{i}", team=team), password=None, actor=SYSTEM)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    assert main(["rules", "load", str(rules)]) == 0
    mqls = pd.read_csv(datasets / "olist_marketing_funnel" / "olist_marketing_qualified_leads_dataset.csv")
    mqls["name"] = "MQL " + mqls["mql_id"].str[:8]
    path = tmp_path / "olist.csv"
    mqls.to_csv(path, index=False)

    code = main(["import", str(path), "--map", "mql_id=external_id", "--map", "origin=channel",
                 "--map", "first_contact_date=created_at"])  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    assert f"routed {len(mqls):,}".replace(",", "") in out.replace(",", "")
    with session_scope(engine) as session:
        owners = Counter(session.scalars(select(Customer.owner_id)))
        members = {
            team: [u.id for u in session.scalars(select(User).where(User.team == team))] for team in TEAMS
        }
    assert owners[None] == 0
    spreads = {}
    for team, ids in members.items():
        counts = [owners[uid] for uid in ids]
        spreads[team] = max(counts) - min(counts)
        print(team, counts, "spread", spreads[team])
    assert sum(owners.values()) == len(mqls)
    assert all(spread <= 1 for spread in spreads.values()), spreads
