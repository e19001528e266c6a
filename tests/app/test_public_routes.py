"""The public lead form and POST /api/leads through Starlette's test client: no login, the guards, the answers."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette

from funnel.access.permissions import SYSTEM
from funnel.capture.intake import add_source, revoke_token
from funnel.core.db import session_scope
from funnel.core.settings import get_settings
from funnel.integrations.public_routes import CSRF_COOKIE, build_routes
from funnel.store.models import Activity, Customer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice that its TestClient prefers httpx2
    from starlette.testclient import TestClient


@pytest.fixture
def client(app_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CRM_INTAKE_SECRET", "test-secret")
    monkeypatch.setenv("CRM_INTAKE_FORM_PER_MINUTE", "3")
    monkeypatch.setenv("CRM_INTAKE_API_PER_MINUTE", "5")
    get_settings.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield TestClient(Starlette(routes=build_routes()), base_url="http://crm.example")


@pytest.fixture
def source(app_engine: Engine) -> dict[str, str | int]:
    with session_scope(app_engine) as session:
        issued = add_source(session, channel="展会", campaign="CIIE", actor=SYSTEM)
        return {"id": issued.source.id, "slug": issued.source.slug, "token": issued.token}


def customers(engine: Engine) -> list[Customer]:
    with session_scope(engine) as session:
        return list(session.scalars(select(Customer)))


def open_form(client: TestClient, slug: object, **headers: str) -> str:
    page = client.get(f"/f/{slug}", headers=headers)
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def post_form(client: TestClient, slug: object, csrf: str, **fields: str) -> object:
    values = {"csrf": csrf, "name": "王芳", "phone": "13800138000", "consent": "yes", **fields}
    return client.post(f"/f/{slug}", data=values, follow_redirects=False)


def test_a_prospect_without_login_leaves_a_lead_and_sees_thanks_in_their_language(client, source, app_engine):
    csrf = open_form(client, source["slug"], **{"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"})
    answer = post_form(client, source["slug"], csrf, lang="zh", message="请报价 <script>x</script>")
    assert answer.status_code == 303
    thanks = client.get(answer.headers["location"])
    assert "感谢您的留言" in thanks.text
    (customer,) = customers(app_engine)
    assert (customer.name, customer.channel, customer.campaign, customer.owner_id) == (
        "王芳",
        "展会",
        "CIIE",
        None,
    )
    with session_scope(app_engine) as session:
        assert session.scalar(select(Activity.summary)) == "请报价 <script>x</script>"
    assert customer.customer_no not in thanks.text  # a prospect reads nothing back


def test_the_form_and_thanks_speak_english_or_chinese(client, source):
    assert (
        "Tell us about your enquiry"
        in client.get(f"/f/{source['slug']}", headers={"accept-language": "en-GB"}).text
    )
    assert "留下您的咨询" in client.get(f"/f/{source['slug']}?lang=zh").text
    assert "Thank you!" in client.get(f"/f/{source['slug']}/thanks?lang=en").text
    assert "感谢您的留言" in client.get(f"/f/{source['slug']}/thanks", headers={"accept-language": "zh"}).text
    page = client.get(f"/f/{source['slug']}")
    assert (
        'name="viewport"' in page.text and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )


def test_a_filled_honeypot_gets_thanks_and_stores_nothing(client, source, app_engine):
    csrf = open_form(client, source["slug"])
    answer = post_form(client, source["slug"], csrf, website="http://spam.example")
    assert answer.status_code == 303
    assert customers(app_engine) == []


def test_a_post_without_the_forms_cookie_or_with_a_forged_token_is_refused_and_keeps_the_input(
    client, source, app_engine
):
    csrf = open_form(client, source["slug"])
    client.cookies.delete(CSRF_COOKIE, path=f"/f/{source['slug']}")
    refused = post_form(client, source["slug"], csrf, company="华东机械")
    assert refused.status_code == 403
    assert 'value="华东机械"' in refused.text and "press Send once more" in refused.text
    forged = post_form(client, source["slug"], csrf.rsplit(".", 1)[0] + ".00")
    assert forged.status_code == 403
    assert customers(app_engine) == []
    again = re.search(r'name="csrf" value="([^"]+)"', forged.text)
    assert (
        again and post_form(client, source["slug"], again.group(1)).status_code == 303
    )  # the fresh token works


def test_bad_input_is_named_on_its_field_escaped_and_kept(client, source, app_engine):
    csrf = open_form(client, source["slug"])
    answer = post_form(client, source["slug"], csrf, name='<img src=x onerror="1">', phone="12", consent="")
    assert answer.status_code == 422
    assert "Please tick the box" in answer.text
    assert "<img src=x" not in answer.text and "&lt;img src=x" in answer.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', answer.text).group(1)
    answer = post_form(client, source["slug"], csrf, phone="12")
    assert answer.status_code == 422
    assert 'id="phone-error"' in answer.text and "is not a valid phone number" in answer.text
    assert customers(app_engine) == []


def test_the_form_is_rate_limited_per_client(client, source):
    csrf = open_form(client, source["slug"])
    answers = [post_form(client, source["slug"], csrf, phone=f"1380013800{i}").status_code for i in range(4)]
    assert answers[:3] == [303, 303, 303]
    assert answers[3] == 429


def test_a_form_switched_off_or_unknown_is_not_available(client, source, app_engine):
    from funnel.capture.intake import set_active

    with session_scope(app_engine) as session:
        set_active(session, int(source["id"]), False, actor=SYSTEM)
    assert client.get(f"/f/{source['slug']}").status_code == 404
    assert client.get("/f/nothere").status_code == 404


def api(client: TestClient, token: object, body: object, **headers: str) -> object:
    return client.post("/api/leads", json=body, headers={"authorization": f"Bearer {token}", **headers})


def test_the_api_creates_a_lead_and_a_replay_answers_200_with_the_same_number(client, source, app_engine):
    body = {"name": "Li Lei", "email": "li@example.com", "external_id": "ad-1", "message": "call me"}
    created = api(client, source["token"], body)
    assert created.status_code == 201
    number = created.json()["customer_no"]
    replay = api(client, source["token"], body)
    assert (replay.status_code, replay.json()) == (200, {"customer_no": number})
    assert [c.customer_no for c in customers(app_engine)] == [number]


def test_the_api_refuses_a_bad_or_revoked_token_with_401(client, source, app_engine):
    body = {"name": "Li", "phone": "13900139000"}
    assert api(client, "wrong", body).status_code == 401
    assert client.post("/api/leads", json=body).status_code == 401
    with session_scope(app_engine) as session:
        revoke_token(session, int(source["id"]), actor=SYSTEM)
    refused = api(client, source["token"], body)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert customers(app_engine) == []


def test_the_api_answers_409_for_a_duplicate(client, source, app_engine):
    assert api(client, source["token"], {"name": "A", "phone": "13700137000"}).status_code == 201
    duplicate = api(client, source["token"], {"name": "B", "phone": "137-0013-7000"})
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["field"] == "phone"
    assert len(customers(app_engine)) == 1


def test_the_api_answers_422_naming_the_bad_field(client, source):
    bad = api(client, source["token"], {"name": "A", "email": "not-an-email"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["email"]
    unknown = api(client, source["token"], {"name": "A", "phone": "13600136000", "owner": "rep01"})
    assert unknown.status_code == 422
    assert (
        unknown.json()["errors"][0]["field"] == "owner"
        and "Unknown field" in unknown.json()["errors"][0]["message"]
    )
    chinese = api(client, source["token"], {"name": "A", "phone": {"x": 1}}, **{"accept-language": "zh"})
    assert chinese.status_code == 422 and "必须是字符串" in chinese.json()["errors"][0]["message"]
    assert (
        client.post(
            "/api/leads", content=b"[1", headers={"authorization": f"Bearer {source['token']}"}
        ).status_code
        == 400
    )


def test_the_api_refuses_a_body_over_the_limit_with_413(client, source, monkeypatch):
    monkeypatch.setenv("CRM_INTAKE_MAX_BODY_KB", "1")
    get_settings.cache_clear()
    assert api(client, source["token"], {"name": "A", "message": "x" * 2000}).status_code == 413


def test_the_api_is_rate_limited_with_429(client, source, app_engine):
    answers = [api(client, "wrong", {"name": "A"}).status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]
    with session_scope(app_engine) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 0


def test_leads_get_their_sources_tags_and_a_sender_may_add_tags_of_the_library_only(
    client, source, app_engine
):
    from funnel.capture.intake import set_source_tags
    from funnel.customers.lists import save_value
    from funnel.customers.tags import tags_of

    with session_scope(app_engine) as session:
        save_value(session, "tag", code="高意向")
        info = set_source_tags(session, int(source["id"]), ["展会线索"], actor=SYSTEM)
    assert info.tags == ("展会线索",)
    unknown = api(client, source["token"], {"name": "A", "phone": "13500135000", "tags": ["made up"]})
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["tags"]
    created = api(client, source["token"], {"name": "B", "phone": "13500135001", "tags": ["高意向"]})
    assert created.status_code == 201, created.text
    csrf = open_form(client, source["slug"])
    assert post_form(client, source["slug"], csrf, phone="13500135002").status_code in (200, 303)
    with session_scope(app_engine) as session:
        by_name = {c.name: c.id for c in session.scalars(select(Customer))}
        tags = tags_of(session, by_name.values(), "en")
    assert sorted(tags[by_name["B"]]) == sorted(["展会线索", "高意向"])
    assert tags[by_name["王芳"]] == ["展会线索"]
    assert "A" not in by_name
