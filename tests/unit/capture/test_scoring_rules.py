"""The lead score's rules, table-driven: each condition kind, clamping, and the reasons it gives."""

from __future__ import annotations

import pytest

from funnel.capture.scoring import BASE, DEFAULT_RULES, Facts, Rule, reasons_text, score_facts, validate_rule

DEFAULTS = [Rule(k, a, p, en, zh) for k, a, p, en, zh in DEFAULT_RULES]


def rule(kind: str, arg: str | None = None, points: int = 10) -> Rule:
    return Rule(kind, arg, points, f"{kind} {arg}", f"{kind} {arg} zh")


@pytest.mark.parametrize(
    ("the_rule", "facts", "holds"),
    [
        (rule("field_filled", "budget_range"), Facts({"budget_range": "10-30万"}), True),
        (rule("field_filled", "budget_range"), Facts({"budget_range": None}), False),
        (rule("field_filled", "budget_range"), Facts({"budget_range": ""}), False),
        (rule("field_filled", "phone"), Facts({"phone": True}), True),
        (rule("field_filled", "phone"), Facts({"phone": False}), False),
        (rule("channel_is", "展会"), Facts({"channel": "展会"}), True),
        (rule("channel_is", "展会"), Facts({"channel": "官网"}), False),
        (rule("tag_has", "高意向"), Facts({}, frozenset({"高意向", "大客户"})), True),
        (rule("tag_has", "高意向"), Facts({}, frozenset({"大客户"})), False),
        (rule("grade_is", "A"), Facts({"grade": "A"}), True),
        (rule("grade_is", "A"), Facts({"grade": "B"}), False),
        (rule("intake_is", "form"), Facts({"intake": "form"}), True),
        (rule("intake_is", "form"), Facts({"intake": "rep"}), False),
        (rule("decision_maker"), Facts({}, decision_maker=True), True),
        (rule("decision_maker"), Facts({}), False),
        (rule("budget_low"), Facts({"budget_range": "10万以下"}), True),
        (rule("budget_low"), Facts({"budget_range": "30-100万"}), False),
    ],
)
def test_each_condition_kind_holds_exactly_when_its_fact_does(the_rule, facts, holds):
    score, reasons = score_facts([the_rule], facts)

    assert score == (BASE + the_rule.points if holds else BASE)
    assert len(reasons) == (1 if holds else 0)


@pytest.mark.parametrize(
    ("points", "expected"),
    [([90], 100), ([-90], 0), ([20, 15, 15, -10], BASE + 40), ([], BASE)],
)
def test_the_score_is_the_base_plus_the_points_clamped_to_0_100(points, expected):
    rules = [rule("decision_maker", points=p) for p in points]

    score, _ = score_facts(rules, Facts({}, decision_maker=True))

    assert score == expected


def test_an_inactive_rule_gives_no_points():
    inactive = Rule("decision_maker", None, 40, "dm", "dm", active=False)

    assert score_facts([inactive], Facts({}, decision_maker=True)) == (BASE, [])


def test_the_issue_example_reads_as_its_reasons_in_both_languages():
    facts = Facts(
        {"intake": "form", "budget_range": "10万以下", "phone": False, "company": None}, decision_maker=True
    )

    score, reasons = score_facts(DEFAULTS, facts)

    assert score == BASE + 20 + 15 + 15 - 10
    assert reasons_text(reasons, "en") == (
        "+20 left details themselves · +15 budget stated · +15 talks to the decision maker · \u221210 budget low"
    )
    assert reasons_text(reasons, "zh").startswith("+20 客户主动留资")


@pytest.mark.parametrize(
    ("the_rule", "code"),
    [
        (Rule("colour_is", "red", 5, "x", "x"), "scoring.kind_unknown"),
        (Rule("field_filled", "shoe_size", 5, "x", "x"), "scoring.field_unknown"),
        (Rule("grade_is", "Z", 5, "x", "x"), "scoring.grade_unknown"),
        (Rule("intake_is", "fax", 5, "x", "x"), "scoring.intake_unknown"),
        (Rule("channel_is", " ", 5, "x", "x"), "scoring.arg_required"),
        (Rule("decision_maker", None, 500, "x", "x"), "scoring.points_range"),
        (Rule("decision_maker", None, 5, " ", ""), "scoring.label_required"),
    ],
)
def test_a_bad_rule_is_refused_with_a_message_naming_the_problem(the_rule, code):
    errors = validate_rule(the_rule, 3)

    assert [e.code for e in errors] == [code]
    assert errors[0].params["row"] == "3"


def test_every_default_rule_is_valid():
    assert [e for i, r in enumerate(DEFAULTS, 1) for e in validate_rule(r, i)] == []
