"""The funnel report end to end: leads through the use case, counts in SQL, JSON from the CLI."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlalchemy import select

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics.report import build_report
from funnel.analytics.rollups import CustomerFilter, entity_funnel
from funnel.capture.leads import LeadInput, create_lead
from funnel.cli.main import main
from funnel.customers.stages import move_stage
from funnel.store.models import Contract, Customer, Objection, Payment
from tests.factories import SEED_STAGES, add_leads


def _report_json(capsys, *args: str) -> dict:
    assert main(["report", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_seed_example_comes_out_exactly_from_the_cli(session, capsys):
    add_leads(session, SEED_STAGES)
    session.commit()

    report = _report_json(capsys)

    overall = report["overall"]
    assert report["stages"] == ["lead", "contact", "qualify", "proposal", "closing", "won"]
    assert list(overall["reached"].values()) == [1000, 200, 100, 20, 10, 0]
    assert [overall["step_conversion"][s] for s in ("contact", "qualify", "proposal", "closing")] == [
        0.2,
        0.5,
        0.2,
        0.5,
    ]
    assert overall["drop_off"]["contact"] == 800
    assert overall["win_rate"] is None
    assert overall["loss_point"]["at_stage"] == "lead"
    assert report["segments"] == []


def test_segments_split_by_channel_with_wins_losses_and_amounts(session, capsys):
    add_leads(session, {"lead": 3, "won": 2}, channel="官网", amount="1000")
    add_leads(session, {"contact": 1, "lost": 1}, channel="展会")
    session.commit()

    report = _report_json(capsys, "--by", "channel")

    by_value = {s["value"]: s for s in report["segments"]}
    assert set(by_value) == {"官网", "展会"}
    assert (by_value["官网"]["won"], by_value["官网"]["won_amount"], by_value["官网"]["win_rate"]) == (
        2,
        2000.0,
        1.0,
    )
    assert (by_value["展会"]["lost"], by_value["展会"]["win_rate"]) == (1, 0.0)
    assert report["overall"]["total"] == 7
    assert sum(s["total"] for s in report["segments"]) == 7


def test_the_loss_point_carries_lost_reasons_and_objections_recorded_at_that_stage(session):
    add_leads(session, {"lead": 2, "contact": 10, "closing": 1})
    for n in range(3):
        lead = create_lead(
            session, LeadInput(name=f"L{n}", email=f"l{n}@x.cn", stage="contact"), actor=SYSTEM
        )
        move_stage(session, customer_id=lead.id, to_stage="lost", lost_reason="price", actor=SYSTEM)
        session.add(Objection(customer_id=lead.id, category="price", stage="contact"))
    session.commit()

    report = build_report(session, actor=SYSTEM)
    loss = report.overall.loss_point(report.details)

    assert (loss.at_stage, loss.to_stage) == ("contact", "qualify")
    assert loss.lost_reasons == {"price": 3}
    assert loss.objections == {"price": 3}


def test_filters_by_creation_date(session, capsys):
    create_lead(session, LeadInput(name="old", email="o@x.cn", created_at=datetime(2025, 1, 5)), actor=SYSTEM)
    create_lead(
        session, LeadInput(name="new", email="n@x.cn", created_at=datetime(2026, 2, 5, 23, 30)), actor=SYSTEM
    )
    session.commit()

    assert _report_json(capsys, "--since", "2026-01-01")["overall"]["total"] == 1
    assert _report_json(capsys, "--until", "2026-02-05")["overall"]["total"] == 2
    assert _report_json(capsys, "--until", "2026-02-04")["overall"]["total"] == 1


@pytest.mark.parametrize(
    ("by", "values"), [("created_month", {"2026-01", "2026-02"}), ("created_week", {"2026-W01", "2026-W06"})]
)
def test_segments_by_creation_period_mark_open_cohorts_incomplete(session, capsys, by, values):
    create_lead(
        session,
        LeadInput(name="a", email="a@x.cn", created_at=datetime(2026, 1, 2), status="won"),
        actor=SYSTEM,
    )
    create_lead(session, LeadInput(name="b", email="b@x.cn", created_at=datetime(2026, 2, 3)), actor=SYSTEM)
    session.commit()

    segments = {s["value"]: s for s in _report_json(capsys, "--by", by)["segments"]}

    assert set(segments) == values
    assert [s["incomplete"] for s in sorted(segments.values(), key=lambda s: s["value"])] == [False, True]


def test_the_entity_funnel_joins_opportunities_contracts_and_payments_by_customer(session):
    add_leads(session, {"lead": 2}, amount="500")
    won = create_lead(session, LeadInput(name="w", email="w@x.cn", status="won", amount="900"), actor=SYSTEM)
    session.add(Contract(customer_id=won.id, amount=800, signed_on=date(2026, 5, 1)))
    session.add(Payment(customer_id=won.id, amount=300, received_on=date(2026, 5, 9)))
    session.commit()

    frame = entity_funnel(session, actor=SYSTEM).set_index("step")

    assert frame["customers"].tolist() == [3, 3, 1, 1]
    assert frame.loc["contracts", "amount"] == 800
    assert frame.loc["payments", "amount"] == 300
    assert (
        entity_funnel(session, filters=CustomerFilter(values={"channel": ("none",)}), actor=SYSTEM)[
            "customers"
        ].sum()
        == 0
    )


def test_a_bad_split_field_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--by", "colour"])
    assert "invalid choice" in capsys.readouterr().err


def test_dates_and_periods_are_the_teams_days_not_utc_days(session, capsys, monkeypatch):
    from funnel.core.settings import get_settings

    monkeypatch.setenv("CRM_TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()
    # 23:30 UTC on Sunday 3 May is 07:30 on Monday 4 May in Shanghai.
    create_lead(
        session,
        LeadInput(name="early", email="e@x.cn", created_at=datetime(2026, 5, 3, 23, 30)),
        actor=SYSTEM,
    )
    session.commit()

    assert _report_json(capsys, "--since", "2026-05-04", "--until", "2026-05-04")["overall"]["total"] == 1
    assert _report_json(capsys, "--until", "2026-05-03")["overall"]["total"] == 0
    weeks = [s["value"] for s in _report_json(capsys, "--by", "created_week")["segments"]]
    assert weeks == ["2026-W19"]


def test_a_reopened_won_deal_no_longer_counts_as_won(session):
    from funnel.customers.recount import funnel_differences, repair_funnel_state
    from funnel.store.models import StageEvent

    deal = create_lead(session, LeadInput(name="reopened", email="r@x.cn", status="won"), actor=SYSTEM)
    # As history imported from elsewhere may hold: won, then back to proposal.
    deal.status, deal.stage = "open", "proposal"
    session.add(
        StageEvent(customer_id=deal.id, from_stage="won", to_stage="proposal", at=datetime(2026, 6, 1))
    )
    session.commit()
    # Written past the write path, the stored funnel state is stale until `check --fix` repairs it.
    assert [d.customer_no for d in funnel_differences(session, actor=SYSTEM)] == [deal.customer_no]
    repair_funnel_state(session, actor=SYSTEM)
    session.commit()

    overall = build_report(session, actor=SYSTEM).overall

    assert (overall.won, overall.reached["won"], overall.reached["proposal"]) == (0, 0, 1)
    assert funnel_differences(session, actor=SYSTEM) == []


def test_filter_values_list_only_what_the_scope_covers(session):
    from funnel.accounts.users import UserInput, add_user
    from funnel.analytics.rollups import segment_values

    other = add_user(session, UserInput(username="other", role="rep"), password=None, actor=SYSTEM)
    them = Actor.of(other)
    team_manager = add_user(
        session, UserInput(username="boss", role="manager", team="t"), password=None, actor=SYSTEM
    )
    create_lead(session, LeadInput(name="unowned", email="m@x.cn", channel="官网", team="t"), actor=SYSTEM)
    create_lead(
        session, LeadInput(name="theirs", email="t@x.cn", channel="展会", owner_id=other.id), actor=SYSTEM
    )
    session.commit()

    assert segment_values(session, "channel", actor=SYSTEM) == ["官网", "展会"]
    # A team manager whose team has no reps sees the team's unowned intake only; a rep their own.
    assert segment_values(session, "channel", actor=Actor.of(team_manager)) == ["官网"]
    assert segment_values(session, "channel", actor=them) == ["展会"]


@pytest.mark.parametrize("by", ["channel", "owner", "grade", "created_month"])
def test_the_overall_funnel_is_the_same_with_or_without_a_split(session, by):
    add_leads(session, {"lead": 3, "contact": 2, "won": 2}, channel="官网", grade="A", amount="10")
    add_leads(session, {"qualify": 2, "lost": 3}, lost_reason="价格太高")
    session.commit()

    plain, split = build_report(session, actor=SYSTEM), build_report(session, by=by, actor=SYSTEM)

    assert split.overall.as_dict(split.details) == plain.overall.as_dict(plain.details)
    assert sum(s.total for s in split.segments) == plain.overall.total


def test_report_csv_neutralises_cells_that_would_run_as_formulas(session, capsys):
    create_lead(
        session, LeadInput(name="x", email="x@x.cn", channel='=HYPERLINK("https://evil")'), actor=SYSTEM
    )
    session.commit()

    assert main(["report", "--by", "channel", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "'=HYPERLINK" in out
    assert ",=HYPERLINK" not in out


def test_an_imported_neutralised_cell_keeps_its_quote(session):
    from funnel.capture.importer import import_rows

    import_rows(session, [{"name": "'=SUM(A1)", "email": "q@x.cn"}], actor=SYSTEM)
    assert session.scalars(select(Customer.name)).all() == ["'=SUM(A1)"]
