"""Issue #8's "done when", end to end: a lead from the public form in Chromium and one from POST /api/leads
each come out scored, routed with the reason and in the owner's inbox, and the team's group bot (a local
HTTP receiver) gets both messages once the outbox sender runs.

Needs Debian's Chromium (/usr/bin/chromium) and the playwright package; skipped without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from funnel.access.permissions import SYSTEM
from funnel.accounts.users import UserInput, add_user
from funnel.capture.intake import add_source
from funnel.capture.routing import describe_reason
from funnel.capture.routing_rules import parse_rules_toml, replace_rules
from funnel.capture.scoring import reasons_text
from funnel.core.db import make_engine, session_scope
from funnel.customers.tags import tags_of
from funnel.inbox.notify import inbox
from funnel.integrations.outbox import EndpointInput, add_endpoint
from funnel.store.models import Customer
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, server  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")

RULES = """
[[rule]]
name = "Trade show and website leads"
channel = ["展会", "官网"]
team = "east"
method = "round_robin"
"""


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new database with a team of two reps, a routing rule and the team's group bot, for the server."""
    url = f"sqlite:///{tmp_path_factory.mktemp('done_when') / 'crm.db'}"
    env = {**os.environ, "CRM_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "funnel", "init-db"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return url


class Receiver:
    """A group bot's webhook: a local HTTP server that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length)))
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/bot/east"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    bot = Receiver()
    bot.thread.start()
    yield bot
    bot.httpd.shutdown()
    bot.httpd.server_close()


def test_a_form_lead_and_an_api_lead_are_scored_routed_in_the_owners_inbox_and_posted_to_the_bot(
    server: str,  # noqa: F811
    database_url: str,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        reps = {
            name: add_user(session, UserInput(username=name, display_name=shown, team="east"), password=None,
                           actor=SYSTEM).id
            for name, shown in (("wangfang", "王芳"), ("lilei", "李雷"))
        }  # fmt: skip
        replace_rules(session, actor=SYSTEM, rule_set=parse_rules_toml(RULES))
        add_endpoint(
            session, actor=SYSTEM, endpoint=EndpointInput(kind="slack", url=receiver.url, team="east")
        )
        slug = add_source(
            session, channel="展会", campaign="Done when expo", tags=["展会线索"], actor=SYSTEM
        ).source.slug
        token = add_source(session, channel="官网", actor=SYSTEM).token

    # Nobody has opened the app: the first visitor of the server is a prospect on a phone.
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        phone: Any = browser.new_context(
            viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True
        )
        page = phone.new_page()
        page.goto(f"{server}/f/{slug}")
        page.get_by_role("heading", name="留下您的咨询").wait_for(timeout=30_000)
        page.get_by_label("姓名 *").fill("表单访客")
        page.get_by_label("公司").fill("完成标准测试有限公司")
        page.get_by_label("手机").fill("13912340001")
        page.get_by_label("留言").fill("想了解报价")
        page.get_by_label("我同意").check()
        page.get_by_role("button", name="提交").click()
        page.get_by_role("heading", name="感谢您的留言！").wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "thanks.png"), full_page=True)
        browser.close()
    answer = httpx.post(
        f"{server}/api/leads",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "API Prospect", "company": "Done When Ltd", "email": "buyer@donewhen.example",
              "external_id": "site-0001", "message": "Please call me", "tags": ["展会线索"]},
        timeout=30,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text

    with session_scope(engine) as session:
        leads = list(session.scalars(select(Customer).order_by(Customer.id)))
        assert [c.name for c in leads] == ["表单访客", "API Prospect"]
        for customer in leads:
            assert customer.score is not None and customer.score_reasons, customer.name
            assert "left details themselves" in reasons_text(customer.score_reasons, "en")
            assert customer.owner_id is not None and customer.owner_id in reps.values()
            reason = describe_reason(customer.assignment_reason, "en")
            assert "Trade show and website leads" in reason, reason
            told = [item.text for item in inbox(session, customer.owner_id, lang="en")]
            assert any(customer.customer_no in text and reason in text for text in told), told
            print(f"{customer.customer_no} {customer.name}: score {customer.score}, owner {customer.owner_id},"
                  f" {reason}")  # fmt: skip
        assert {c.owner_id for c in leads} == set(reps.values())  # round robin: one each
        numbers = [c.customer_no for c in leads]
        tags = tags_of(session, [c.id for c in leads], "en")

    sent = subprocess.run(
        [sys.executable, "-m", "funnel", "notify", "--once"],
        cwd=ROOT, env={**os.environ, "CRM_DATABASE_URL": database_url}, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    texts = [body["text"] for body in receiver.received]
    assert all(any(number in text for text in texts) for number in numbers), (sent.stdout, texts)
    engine.dispose()
    # The form's lead carries its source's tag; the API's the tag its sender named.
    assert list(tags.values()) == [["展会线索"], ["展会线索"]], tags
