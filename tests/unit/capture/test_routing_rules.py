"""Routing's pure parts: each condition kind, the two pickers, reasons, the TOML file's round trip."""

from __future__ import annotations

from collections import Counter

import pytest

from funnel.capture.routing import (
    Conditions,
    LeadFacts,
    Member,
    describe_reason,
    matches,
    pick_least_loaded,
    pick_round_robin,
    reason,
)
from funnel.capture.routing_rules import RuleInput, RuleSet, parse_rules_toml, rules_to_toml
from funnel.core.errors import ValidationError

LEAD = LeadFacts(region="华东", industry="教育", channel="paid_search", campaign="spring", score=70,
                 tags=frozenset({"vip", "renewal"}))  # fmt: skip


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (Conditions(), True),  # no condition: a catch-all rule
        (Conditions(region=("华东", "华南")), True),
        (Conditions(region=("华北",)), False),
        (Conditions(industry=("教育",)), True),
        (Conditions(industry=("医疗",)), False),
        (Conditions(channel=(" Paid_Search ",)), True),  # trimmed, case-insensitive
        (Conditions(channel=("social",)), False),
        (Conditions(campaign=("spring",)), True),
        (Conditions(campaign=("autumn",)), False),
        (Conditions(tags=("vip", "other")), True),  # any one tag
        (Conditions(tags=("other",)), False),
        (Conditions(score_min=70), True),
        (Conditions(score_min=71), False),
        (Conditions(score_max=70), True),
        (Conditions(score_max=69), False),
        (Conditions(region=("华东",), industry=("教育",)), True),  # every condition must hold
        (Conditions(region=("华东",), industry=("医疗",)), False),
    ],
)
def test_a_rule_matches_a_lead_on_each_kind_of_condition(conditions: Conditions, expected: bool) -> None:
    assert matches(conditions, LEAD) is expected


def test_a_lead_without_a_score_fails_a_score_condition() -> None:
    assert not matches(Conditions(score_min=0), LeadFacts())
    assert not matches(Conditions(region=("华东",)), LeadFacts())


def member(id_: int, *, open_leads: int = 0, cap: int | None = None, available: bool = True) -> Member:
    return Member(id_, f"rep{id_}", "east", available, cap, open_leads)


def test_round_robin_takes_turns_in_id_order_and_wraps_around() -> None:
    team = [member(3), member(1), member(2)]
    last = None
    picked = []
    for _ in range(7):
        chosen = pick_round_robin(team, last)
        assert chosen is not None
        picked.append(chosen.id)
        last = chosen.id
    assert picked == [1, 2, 3, 1, 2, 3, 1]


def test_round_robin_skips_away_reps_and_reps_at_their_cap() -> None:
    team = [member(1), member(2, available=False), member(3, open_leads=5, cap=5)]
    assert [pick_round_robin(team, last).id for last in (None, 1, 2, 3)] == [1, 1, 1, 1]  # type: ignore[union-attr]
    assert pick_round_robin([member(2, available=False)], None) is None


def test_round_robin_over_1000_leads_is_fair_within_one() -> None:
    team = [member(i) for i in (4, 9, 11, 17, 23, 42, 57)]
    counts: Counter[int] = Counter()
    last = None
    for _ in range(1000):
        chosen = pick_round_robin(team, last)
        assert chosen is not None
        counts[chosen.id] += 1
        last = chosen.id
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) == 1000


def test_least_loaded_picks_the_fewest_open_leads_the_lower_id_on_a_tie() -> None:
    tie = pick_least_loaded([member(1, open_leads=4), member(2, open_leads=2), member(3, open_leads=2)])
    assert tie is not None and tie.id == 2
    busy = pick_least_loaded([member(1, open_leads=0, available=False), member(2, open_leads=9)])
    assert busy is not None and busy.id == 2
    assert pick_least_loaded([member(1, open_leads=3, cap=3)]) is None


def test_a_reason_reads_in_each_language() -> None:
    why = reason("routing.reason.team", rule_no=3, rule="华东 + 教育", team="East", method="least_loaded",
                 owner="王芳", open=12)  # fmt: skip
    assert describe_reason(why, "en") == "rule 3: 华东 + 教育 -> team East, least loaded: 王芳, 12 open"
    assert describe_reason(why, "zh") == "规则 3:华东 + 教育 -> 团队 East,最少负载:王芳,12 条进行中"
    skipped = reason("routing.reason.fallback_queue", team="intake", skipped="1, 2")
    assert describe_reason(skipped, "en") == (
        "no rule placed it -> queue intake (unassigned) (rules 1, 2 matched but nobody there could take it)"
    )
    assert describe_reason(None, "en") == ""


def test_a_conditions_label_names_the_values() -> None:
    assert Conditions(region=("华东",), industry=("教育",)).label() == "华东 + 教育"
    assert Conditions(score_min=60).label() == "score ≥ 60"
    assert Conditions().label() == "*"


RULES = RuleSet(
    rules=[
        RuleInput(
            name="East edu", region=("华东",), industry=("教育", "培训"), team="east", method="least_loaded"
        ),
        RuleInput(name='VIP "gold"', tags=("vip",), score_min=60, score_max=100, owner="wangfang"),
        RuleInput(name="off", channel=("social",), team="west", active=False),
    ],
    fallback_owner="manager",
    fallback_queue="intake",
    max_open_leads=30,
)


def test_the_toml_file_round_trips() -> None:
    text = rules_to_toml(RULES)
    assert parse_rules_toml(text) == RULES
    assert rules_to_toml(parse_rules_toml(text)) == text


@pytest.mark.parametrize(
    ("toml", "field", "code"),
    [
        ("[[rule]]\nname='a'\nteam='x'\ncolour='red'", "rule1.colour", "routing.error.unknown_key"),
        ("[[rule]]\nname='a'\nteam='x'\nregion=3", "rule1.region", "routing.error.not_a_list"),
        ("[[rule]]\nname='a'\nteam='x'\nactive='yes'", "rule1.active", "routing.error.not_a_bool"),
        ("[settings]\nfallback='x'", "fallback", "routing.error.unknown_setting"),
        ("[[rule]\n", "form", "routing.error.toml"),
    ],
)
def test_a_bad_rules_file_names_the_rule_and_field(toml: str, field: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_rules_toml(toml)
    assert (caught.value.errors[0].field, caught.value.errors[0].code) == (field, code)
