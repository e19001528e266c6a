"""The weekly summary: one printable HTML page with the week's figures, the funnel, the loss point, the
forecast; announced to leadership through the inbox; and the `summary` command."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics.weekly_summary import build_summary, parse_week, post_summary, render_html
from funnel.cli.main import main
from funnel.core.clock import team_today
from funnel.core.errors import PermissionDenied
from funnel.demo.generate import generate_demo
from funnel.store.models import Notification


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_summary_shows_the_weeks_figures_funnel_and_forecast_in_both_languages(engine, session) -> None:
    generate_demo(engine, leads=400, seed=5, actor=SYSTEM)
    summary = build_summary(session, actor=SYSTEM)
    assert summary.start == team_today() - timedelta(days=team_today().weekday())
    assert not summary.complete and summary.end == team_today()
    assert summary.report.overall.total > 0
    for lang, heading in (("en", "Top loss point"), ("zh", "最大流失点")):
        page = render_html(summary, lang)
        parsed = _Text()
        parsed.feed(page)
        assert parsed.tags.count("svg") >= 2  # the funnel and the forecast weeks, inlined
        text = " ".join(parsed.text)
        assert heading in text and summary.week in text
        assert f"{summary.forecast.open:,}" in text
        new_leads = next(k for k in summary.kpis if k.key == "new_leads")
        assert f"{int(new_leads.value or 0):,}" in text


def test_a_past_week_is_complete_and_its_forecast_is_made_as_of_its_sunday(engine, session) -> None:
    generate_demo(engine, leads=200, seed=5, actor=SYSTEM)
    monday = team_today() - timedelta(days=team_today().weekday() + 14)
    summary = build_summary(session, actor=SYSTEM, day=monday + timedelta(days=3))
    assert (summary.start, summary.end, summary.complete) == (monday, monday + timedelta(days=6), True)
    assert summary.forecast.as_of == monday + timedelta(days=6)


def test_posting_tells_every_active_leader_and_a_rep_may_not_build_it(session: Session, role_users) -> None:
    summary = build_summary(session, actor=Actor.of(role_users["manager"]))
    assert post_summary(session, actor=Actor.of(role_users["manager"]), summary=summary) == 1
    told = session.scalars(select(Notification).where(Notification.kind == "weekly_summary")).all()
    assert [n.user_id for n in told] == [role_users["leader"].id]
    with pytest.raises(PermissionDenied):
        build_summary(session, actor=Actor.of(role_users["rep"]))


def test_parse_week_names_the_expected_form() -> None:
    assert parse_week("2026-W49") == date(2026, 11, 30)
    with pytest.raises(ValueError, match="ISO week like 2026-W49"):
        parse_week("last week")


def test_the_summary_command_writes_the_page(engine, tmp_path, capsys) -> None:
    out = tmp_path / "summary.html"
    assert main(["summary", "--lang", "zh", "--out", str(out)]) == 0
    assert "漏斗周报" in out.read_text(encoding="utf-8")
    assert str(out) in capsys.readouterr().out
    assert main(["summary", "--week", "nonsense"]) == 2
    assert "ISO week" in capsys.readouterr().err
