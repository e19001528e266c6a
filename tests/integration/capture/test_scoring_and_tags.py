"""Tags as links, the rule score kept by the event handlers, and the learned model on a fixture history."""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture import learned_score
from funnel.capture.leads import LeadInput, create_lead
from funnel.capture.learned_score import MIN_CLOSED, auc, is_stale, latest_model, train
from funnel.capture.scoring import BASE, score_customers
from funnel.core.db import session_scope
from funnel.core.errors import ValidationError
from funnel.customers.edit import update_customer
from funnel.customers.lists_seed import seed_lists
from funnel.customers.tags import (
    has_any_tag,
    migrate_tag_strings,
    set_tags,
    split_tags,
    sync_tags_from_texts,
    tags_of,
)
from funnel.store.models import Customer, CustomerTag, ListItem, ScoreModel


@pytest.mark.parametrize(
    ("text", "names"),
    [("高意向, 大客户", ["高意向", "大客户"]), ("a、b；c;a", ["a", "b", "c"]), ("  ", []), (None, [])],
)
def test_old_tag_strings_split_on_commas_and_chinese_separators(text, names):
    assert split_tags(text) == names


def test_the_migration_seeds_the_lists_with_both_names(session):
    trade_show = session.scalar(
        select(ListItem).where(ListItem.list_name == "channel", ListItem.code == "展会")
    )

    assert (trade_show.name_en, trade_show.name_zh) == ("Trade show", "展会")
    assert seed_lists(session) == 0  # idempotent


def test_set_tags_links_library_tags_by_either_name_and_keeps_the_display_copy(session, role_users):
    manager = Actor.of(role_users["manager"])
    lead = create_lead(session, LeadInput(name="A", email="a@example.com"), actor=SYSTEM)

    codes = set_tags(session, actor=manager, customer_id=lead.id, names=["High intent", "大客户"])

    assert codes == ["高意向", "大客户"]
    assert lead.tags == "高意向, 大客户"
    assert tags_of(session, [lead.id], "en") == {lead.id: ["High intent", "Key account"]}
    found = session.scalars(select(Customer.id).where(has_any_tag(["大客户"]))).all()
    assert found == [lead.id]


def test_a_free_tag_is_refused_where_the_settings_forbid_it(session, role_users, monkeypatch):
    from funnel.core.settings import get_settings

    monkeypatch.setenv("CRM_FREE_TAGS", "0")
    get_settings.cache_clear()
    rep = role_users["rep"]
    lead = create_lead(session, LeadInput(name="A", email="a@example.com", owner_id=rep.id), actor=SYSTEM)
    try:
        with pytest.raises(ValidationError) as refused:
            set_tags(session, actor=Actor.of(rep), customer_id=lead.id, names=["my own tag"])
    finally:
        get_settings.cache_clear()
    assert refused.value.errors[0].field == "tags"
    assert refused.value.errors[0].code == "tags.unknown"


def test_a_free_tag_joins_the_list_unmanaged_where_allowed(session, role_users):
    rep = role_users["rep"]
    lead = create_lead(session, LeadInput(name="A", email="a@example.com", owner_id=rep.id), actor=SYSTEM)

    set_tags(session, actor=Actor.of(rep), customer_id=lead.id, names=["my own tag"])

    item = session.scalar(select(ListItem).where(ListItem.code == "my own tag"))
    assert item.list_name == "tag" and item.managed is False


def test_the_migration_helper_turns_old_strings_into_links(session):
    lead = create_lead(session, LeadInput(name="A", email="a@example.com"), actor=SYSTEM)
    lead.tags = "高意向、老板朋友"
    session.flush()

    assert migrate_tag_strings(session) == 2
    assert migrate_tag_strings(session) == 0
    assert sorted(tags_of(session, [lead.id], "zh")[lead.id]) == sorted(["高意向", "老板朋友"])


def test_the_bulk_tag_sync_links_each_customer_as_its_string_says(session):
    texts = ["High intent, 大客户", "high INTENT；new free tag", None, "大客户、大客户", "x" * 70]
    leads = [
        create_lead(session, LeadInput(name=f"L{i}", email=f"l{i}@example.com"), actor=SYSTEM)
        for i in range(len(texts))
    ]
    for lead, text in zip(leads, texts, strict=True):
        lead.tags = text
    session.flush()

    # Every customer but the untagged one changes; a name over the code limit is dropped (as set_tags refuses it).
    assert sync_tags_from_texts(session, [lead.id for lead in leads]) == 4
    assert sync_tags_from_texts(session, [lead.id for lead in leads]) == 0  # in step: nothing to write

    shown = tags_of(session, [lead.id for lead in leads], "zh")
    assert [sorted(shown.get(lead.id, [])) for lead in leads] == [
        sorted(["高意向", "大客户"]), sorted(["高意向", "new free tag"]), [], ["大客户"], [],
    ]  # fmt: skip
    display = [session.scalar(select(Customer.tags).where(Customer.id == lead.id)) for lead in leads]
    assert display == ["高意向, 大客户", "高意向, new free tag", None, "大客户", None]
    free = session.scalar(select(ListItem).where(ListItem.code == "new free tag"))
    assert free.managed is False


def test_a_new_lead_is_scored_with_reasons_after_the_commit(engine):
    with session_scope(engine) as session:
        seed = create_lead(
            session,
            LeadInput(name="A", email="a@example.com", company="ACME", channel="展会", tags="高意向"),
            actor=SYSTEM,
        )
        customer_id = seed.id

    with session_scope(engine) as session:
        customer = session.get(Customer, customer_id)
        links = session.scalars(
            select(CustomerTag.tag_id).where(CustomerTag.customer_id == customer_id)
        ).all()
        assert customer.intake == "import"  # entered by the system principal
        assert len(links) == 1
        kinds = {(r["kind"], r["arg"]) for r in customer.score_reasons}
        assert kinds == {("channel_is", "展会"), ("tag_has", "高意向"), ("field_filled", "company")}
        assert customer.score == BASE + 10 + 15 + 5
        assert customer.version == 1  # the scorer's write is no edit


def test_an_edit_rescores_without_retriggering_itself(engine):
    with session_scope(engine) as session:
        lead = create_lead(session, LeadInput(name="A", email="a@example.com"), actor=SYSTEM)
        customer_id = lead.id
    with session_scope(engine) as session:
        before = session.get(Customer, customer_id)
        update_customer(session, actor=SYSTEM, customer_id=customer_id, changes={"grade": "A"},
                        expected_version=before.version)  # fmt: skip
    with session_scope(engine) as session:
        after = session.get(Customer, customer_id)
        assert any(r["kind"] == "grade_is" for r in after.score_reasons)
        assert after.version == 2  # the edit's version only


def _history(session, n: int, rng: random.Random) -> None:
    """Closed leads whose odds depend on channel and a tag, over a year, plus the rule score stored."""
    start = datetime(2025, 1, 1)
    channels = {"转介绍": 0.7, "展会": 0.45, "广告投放": 0.12, "官网": 0.3}
    for i in range(n):
        channel = rng.choice(list(channels))
        hot = rng.random() < 0.3
        p = min(0.95, channels[channel] + (0.25 if hot else 0))
        won = rng.random() < p
        created = start + timedelta(days=i * 300 / n)
        session.add(
            Customer(
                customer_no=f"T{i:06d}", name=f"L{i}", channel=channel, status="won" if won else "lost",
                stage="closing", furthest_stage="won" if won else "proposal", created_at=created,
                closed_at=created + timedelta(days=20), tags="高意向" if hot else None,
            )
        )  # fmt: skip
    session.flush()
    migrate_tag_strings(session)
    score_customers(session)


def test_the_learned_model_beats_a_constant_on_held_out_deals(session):
    _history(session, 400, random.Random(5))

    result = train(session)

    assert result.trained
    assert result.test_size == 120
    assert result.auc_learned is not None and result.auc_learned > 0.6  # a constant scores 0.5
    stored = latest_model(session)
    assert "channel=转介绍" in stored.model["features"]
    assert session.scalar(
        select(Customer.win_probability).where(Customer.channel == "转介绍")
    ) > session.scalar(select(Customer.win_probability).where(Customer.channel == "广告投放"))
    assert not is_stale(session)


def test_the_model_learns_from_the_latest_closed_deals_and_scores_every_customer_a_chunk_at_a_time(
    session, monkeypatch
):
    _history(session, 400, random.Random(5))
    monkeypatch.setattr(learned_score, "MAX_TRAINING", 250)
    monkeypatch.setattr(learned_score, "PREDICT_CHUNK", 7)
    latest = set(session.scalars(select(Customer.id).order_by(Customer.closed_at.desc()).limit(250)))
    read: list[set[int]] = []
    original = learned_score._rows

    def recording_rows(session, query):
        rows = original(session, query)
        read.append({row.customer_id for row in rows})
        return rows

    monkeypatch.setattr(learned_score, "_rows", recording_rows)

    result = train(session)

    assert result.trained and (result.closed, result.train_size, result.test_size) == (250, 175, 75)
    assert read[0] == latest
    assert result.predicted == 400 and max(len(ids) for ids in read[1:]) == 7
    assert session.scalar(select(func.count()).where(Customer.win_probability.is_(None))) == 0
    assert not is_stale(session)  # the stored history is all 400 closed deals, not the 250 used


def test_too_little_history_trains_nothing(session):
    _history(session, MIN_CLOSED - 1, random.Random(1))

    result = train(session)

    assert not result.trained and result.reason == "too_few_closed"
    assert session.scalar(select(ScoreModel.id)) is None


def test_auc_needs_both_classes():
    assert auc([1, 1], [0.2, 0.4]) is None
    assert auc([0, 1], [0.2, 0.4]) == 1.0


def test_a_list_table_with_bad_rows_is_refused_naming_each_row(session, role_users):
    from funnel.customers.lists_seed import save_list

    manager = Actor.of(role_users["manager"])
    rows = [
        {"code": "展会", "name_en": "Trade fair", "name_zh": "展会", "sort_order": 0, "active": True},
        {"code": "", "name_en": "Nameless"},
        {"code": "展会", "name_en": "Again"},
        {"code": "x", "sort_order": "soon"},
    ]

    with pytest.raises(ValidationError) as refused:
        save_list(session, actor=manager, list_name="channel", rows=rows)

    assert [(e.code, e.params["row"]) for e in refused.value.errors] == [
        ("lists.row_code_required", "2"),
        ("lists.row_code_twice", "3"),
        ("lists.row_order_invalid", "4"),
    ]


def test_saving_a_list_renames_and_deactivates_what_was_left_out(session, role_users):
    from funnel.customers.lists import labels, list_values
    from funnel.customers.lists_seed import save_list

    manager = Actor.of(role_users["manager"])
    save_list(session, actor=manager, list_name="channel",
              rows=[{"code": "展会", "name_en": "Trade fair", "name_zh": "展会", "active": True}])  # fmt: skip

    assert labels(session, "channel", "en")["展会"] == "Trade fair"
    assert [v.code for v in list_values(session, "channel")] == ["展会"]


def test_a_rep_may_not_edit_lists(session, role_users):
    from funnel.core.errors import PermissionDenied
    from funnel.customers.lists_seed import save_list

    with pytest.raises(PermissionDenied):
        save_list(session, actor=Actor.of(role_users["rep"]), list_name="tag", rows=[])


def test_a_batch_handler_gets_all_events_of_a_commit_at_once(engine):
    from funnel.core import events

    calls: list[int] = []

    def count(batch: list[events.LeadCreated], _engine) -> None:
        calls.append(len(batch))

    events.subscribe_batch(events.LeadCreated, count)
    try:
        with session_scope(engine) as session:
            for i in range(3):
                create_lead(session, LeadInput(name=f"L{i}", email=f"l{i}@example.com"), actor=SYSTEM)
    finally:
        events._batch_handlers[events.LeadCreated].remove(count)
    assert calls == [3]


def test_a_stale_model_is_retrained_on_a_thread_of_its_own_and_only_once_at_a_time(engine, monkeypatch):
    with session_scope(engine) as s:
        _history(s, 300, random.Random(2))
    release = threading.Event()
    started: list[int] = []
    original = learned_score.train

    def slow_train(session, **options):
        started.append(1)
        release.wait(10)  # the page's caller returns while this still runs
        return original(session, **options)

    monkeypatch.setattr(learned_score, "train", slow_train)
    assert learned_score.retrain_in_background(engine) is True
    assert learned_score.retrain_in_background(engine) is True  # still running: no second thread
    assert learned_score.retraining()
    release.set()
    deadline = time.monotonic() + 30
    while learned_score.retraining() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not learned_score.retraining() and started == [1]
    with session_scope(engine) as s:
        assert latest_model(s) is not None and not is_stale(s)
    assert learned_score.retrain_in_background(engine) is False  # fresh now: nothing to start


def test_a_failed_background_retrain_is_logged_and_the_next_visit_may_try_again(engine, monkeypatch, caplog):
    with session_scope(engine) as s:
        _history(s, 300, random.Random(3))

    def failing_train(session, **options):
        raise RuntimeError("disk full")

    monkeypatch.setattr(learned_score, "train", failing_train)
    assert learned_score.retrain_in_background(engine) is True
    deadline = time.monotonic() + 30
    while learned_score.retraining() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not learned_score.retraining()
    assert "retraining the learned lead score failed" in caplog.text
    monkeypatch.undo()
    assert learned_score.retrain_in_background(engine) is True  # still stale, so it starts again
    while learned_score.retraining() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_retrain_commits_the_scores_a_chunk_at_a_time_so_writers_are_not_held_off(engine, monkeypatch):
    with session_scope(engine) as s:
        _history(s, 300, random.Random(4))
    monkeypatch.setattr(learned_score, "PREDICT_CHUNK", 50)
    commits: list[int] = []
    listen = event.listens_for(Session, "after_commit")(lambda session: commits.append(1))
    try:
        result = learned_score.train_if_stale(engine)
    finally:
        event.remove(Session, "after_commit", listen)
    assert result is not None and result.trained and result.predicted == 300
    assert len(commits) >= 300 // 50 + 1  # the model, then each chunk of scores
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).where(Customer.win_probability.is_(None))) == 0
