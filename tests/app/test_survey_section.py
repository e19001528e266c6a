"""The dashboard's survey section (pages/_shared/closing_parts.survey_section) as drawn, in both languages."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


def _draw(answers: int, rating_sum: float, promoters: int, detractors: int, lang: str) -> None:
    from funnel.closing.surveys import SurveySummary
    from pages._shared.closing_parts import survey_section

    survey_section(SurveySummary.of(answers, rating_sum, promoters, detractors), lang)


@pytest.mark.parametrize(
    ("lang", "labels"),
    [("en", ["Answers", "Average rating", "NPS"]), ("zh", ["回答数", "平均满意度", "净推荐值 NPS"])],
)
def test_the_section_shows_answers_average_and_nps(lang: str, labels: list[str]) -> None:
    app = AppTest.from_function(_draw, args=(4, 13.0, 2, 1, lang)).run()

    assert not app.exception
    assert [(m.label, m.value) for m in app.metric] == list(zip(labels, ["4", "3.2 / 5", "+25"], strict=True))


def test_without_answers_it_says_so_instead_of_showing_zeros() -> None:
    app = AppTest.from_function(_draw, args=(0, 0.0, 0, 0, "en")).run()

    assert not app.exception and not app.metric
    assert app.caption[0].value == "No survey answered yet."
