"""POST /api/activities through Starlette's test client: token, matching by phone / WeChat, replay, errors."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from starlette.applications import Starlette

from funnel.access.permissions import SYSTEM
from funnel.capture.intake import add_source, revoke_token
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.db import session_scope
from funnel.core.settings import get_settings
from funnel.integrations.activity_routes import build_routes
from funnel.store.models import Activity, Customer, IntakeSource

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice that its TestClient prefers httpx2
    from starlette.testclient import TestClient


@pytest.fixture
def client(app_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CRM_INTAKE_API_PER_MINUTE", "8")
    get_settings.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield TestClient(Starlette(routes=build_routes()), base_url="http://crm.example")


@pytest.fixture
def token(app_engine: Engine) -> str:
    with session_scope(app_engine) as session:
        return add_source(session, channel="官网", actor=SYSTEM).token


@pytest.fixture
def customer_no(app_engine: Engine) -> str:
    with session_scope(app_engine) as session:
        lead = LeadInput(name="张三", phone="138 1234 5678", wechat="zhang_san_88")
        return create_lead(session, lead, actor=SYSTEM).customer_no


def post(client: TestClient, token: object, body: object, **headers: str) -> object:
    return client.post("/api/activities", json=body, headers={"authorization": f"Bearer {token}", **headers})


def activities(engine: Engine) -> list[tuple[str, str | None, int | None, str | None, str | None]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Customer.customer_no, Activity.direction, Activity.duration_s, Activity.summary,
                   Activity.source).join(Customer)
        )  # fmt: skip
        return [tuple(row) for row in rows]


CALL = {"external_id": "pbx-1", "time": "2026-12-01T09:30:00", "phone": "+86 138-1234-5678",
        "direction": "out", "duration": 125, "kind": "call", "note": "asked for a demo"}  # fmt: skip


def test_a_call_is_matched_by_phone_and_a_replay_answers_200_creating_nothing(
    client, token, customer_no, app_engine
):
    created = post(client, token, CALL)
    assert created.status_code == 201, created.text
    assert created.json()["customer_no"] == customer_no and created.json()["matched"] is True
    replay = post(client, token, CALL)
    assert replay.status_code == 200
    assert replay.json()["activity_id"] == created.json()["activity_id"]
    assert activities(app_engine) == [(customer_no, "out", 125, "asked for a demo", "api")]
    with session_scope(app_engine) as session:  # the first contact was made: the red flag clears
        stored = session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        assert stored.first_contacted_at is not None


def test_a_chat_is_matched_by_wechat(client, token, customer_no, app_engine):
    chat = {"external_id": "wecom-9", "time": "2026-12-01T10:00:00", "wechat": "zhang_san_88",
            "kind": "wechat", "note": "sent the price list"}  # fmt: skip
    answer = post(client, token, chat)
    assert answer.status_code == 201 and answer.json()["customer_no"] == customer_no


def test_an_unknown_number_is_listed_as_unmatched_and_nothing_is_stored(
    client, token, customer_no, app_engine
):
    answer = post(client, token, {**CALL, "external_id": "pbx-2", "phone": "13900000000"})
    assert answer.status_code == 202
    assert answer.json()["matched"] is False
    assert [u["code"] for u in answer.json()["unmatched"]] == ["sync.unmatched.no_customer"]
    assert activities(app_engine) == []


def test_a_bad_or_revoked_token_is_refused_with_401(client, token, customer_no, app_engine):
    assert post(client, "wrong", CALL).status_code == 401
    assert client.post("/api/activities", json=CALL).status_code == 401
    with session_scope(app_engine) as session:
        revoke_token(session, session.scalar(select(IntakeSource.id)), actor=SYSTEM)
    refused = post(client, token, CALL)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert activities(app_engine) == []


def test_bad_fields_are_named_as_sent_with_422(client, token, customer_no):
    bad = post(client, token, {"time": "yesterday", "direction": "sideways", "duration": "long", "colour": 1})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"time", "direction", "duration", "phone", "body"}
    chinese = post(client, token, {"phone": "13812345678"}, **{"accept-language": "zh"})
    assert chinese.status_code == 422 and chinese.json()["errors"][0]["field"] == "at"
    assert chinese.json()["errors"][0]["message"] != "sync.error.at"
    assert (
        client.post(
            "/api/activities", content=b"[1", headers={"authorization": f"Bearer {token}"}
        ).status_code
        == 400
    )


def test_a_body_over_the_limit_is_refused_with_413(client, token, monkeypatch):
    monkeypatch.setenv("CRM_INTAKE_MAX_BODY_KB", "1")
    get_settings.cache_clear()
    assert post(client, token, {**CALL, "note": "x" * 2000}).status_code == 413


def test_the_api_is_rate_limited_with_429(client, token):
    answers = [post(client, "wrong", CALL).status_code for _ in range(9)]
    assert answers == [401] * 8 + [429]
