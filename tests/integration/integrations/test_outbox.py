"""The group-bot outbox against a real local HTTP server: retries with back-off, nothing lost, no double send."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, select, update

from funnel.access.permissions import SYSTEM
from funnel.accounts.users import UserInput, add_user
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.db import session_scope
from funnel.core.errors import ValidationError
from funnel.inbox.notify import notify
from funnel.integrations.outbox import (
    FAILED,
    MAX_ATTEMPTS,
    PENDING,
    SENT,
    EndpointInput,
    add_endpoint,
    backoff,
    deliver_due,
    endpoint_statuses,
    failing_endpoints,
    retry_failed,
    send_test,
)
from funnel.integrations.webhooks import dingtalk_sign, feishu_sign
from funnel.store.models import Outbox, WebhookEndpoint

T0 = datetime(2030, 5, 1, 8, 0, 0)  # after every message the tests queue (at the wall clock)


class Bot:
    """A local webhook that answers `failures` times with HTTP 500, then accepts; it records every body."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.requests: list[tuple[str, dict[str, Any]]] = []
        bot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                bot.requests.append((self.path, body))
                if bot.failures > 0:
                    bot.failures -= 1
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"down")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode": 0, "errmsg": "ok"}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bot() -> Iterator[Bot]:
    server = Bot(failures=2)
    yield server
    server.close()


def setup(
    engine: Engine, url: str, *, kind: str = "wecom", secret: str | None = None, team: bool = False
) -> int:
    """A rep in team east, a group bot for them (or their team), and one notification about a lead."""
    with session_scope(engine) as session:
        rep = add_user(session, UserInput(username="wang", display_name="王芳", team="east"), password=None,
                       actor=SYSTEM)  # fmt: skip
        endpoint = EndpointInput(kind=kind, url=url, secret=secret, lang="en",
                                 username=None if team else "wang", team="east" if team else None)  # fmt: skip
        add_endpoint(session, actor=SYSTEM, endpoint=endpoint)
        customer = create_lead(session, LeadInput(name="Acme", email="a@example.com"), actor=SYSTEM)
        notify(session, user_id=rep.id, kind="test", params={"text": "hello *bold*"}, customer_id=customer.id)
        return customer.id


def outbox(engine: Engine) -> list[Outbox]:
    with session_scope(engine) as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def test_a_failing_endpoint_is_retried_with_back_off_and_then_delivers_once(
    engine: Engine, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_PUBLIC_BASE_URL", "https://crm.example.com/")
    from funnel.core.settings import get_settings

    get_settings.cache_clear()
    customer_id = setup(engine, bot.url)
    [message] = outbox(engine)
    assert message.payload == "王芳: Test notification: hello *bold*"
    assert message.link == f"https://crm.example.com/customer?id={customer_id}"

    first = deliver_due(engine, T0)
    assert first.as_json() == {"sent": 0, "failed": 0, "pending": 1}
    [message] = outbox(engine)
    assert (message.attempts, message.next_attempt_at, message.last_error) == (1, T0 + backoff(1), "HTTP 500")

    assert deliver_due(engine, T0 + timedelta(seconds=10)).sent == 0  # not due yet: nothing is sent
    assert len(bot.requests) == 1

    second = deliver_due(engine, T0 + timedelta(seconds=31))
    assert second.as_json() == {"sent": 0, "failed": 0, "pending": 1}
    [message] = outbox(engine)
    assert message.next_attempt_at == T0 + timedelta(seconds=31) + backoff(2)
    assert backoff(2) == timedelta(seconds=60)

    third = deliver_due(engine, T0 + timedelta(seconds=200))
    assert third.as_json() == {"sent": 1, "failed": 0, "pending": 0}
    [message] = outbox(engine)
    assert (message.status, message.attempts, message.last_error) == (SENT, 3, None)
    assert deliver_due(engine, T0 + timedelta(hours=5)).sent == 0  # sent once, never again
    assert len(bot.requests) == 3
    _path, body = bot.requests[-1]
    assert body == {
        "msgtype": "markdown",
        "markdown": {
            "content": "王芳: Test notification: hello \\*bold\\*\n"
            f"[https://crm.example.com/customer?id={customer_id}](https://crm.example.com/customer?id={customer_id})"
        },
    }
    with session_scope(engine) as session:
        [status] = endpoint_statuses(session, actor=SYSTEM)
    assert status.last_ok_at == T0 + timedelta(seconds=200)
    assert status.last_error == "HTTP 500"  # the last failure stays visible, older than the success
    assert failing_endpoints([status]) == []
    get_settings.cache_clear()


def test_after_the_last_attempt_a_message_is_kept_as_failed_and_can_be_retried(engine: Engine) -> None:
    server = Bot(failures=MAX_ATTEMPTS + 1)
    try:
        setup(engine, server.url, team=True)  # a team's bot hears its members' notifications
        now = T0
        for _ in range(MAX_ATTEMPTS):
            report = deliver_due(engine, now)
            now += timedelta(hours=2)
        assert report.as_json() == {"sent": 0, "failed": 1, "pending": 0}
        [message] = outbox(engine)
        assert (message.status, message.attempts) == (FAILED, MAX_ATTEMPTS)
        assert deliver_due(engine, now + timedelta(days=1)).as_json() == {
            "sent": 0,
            "failed": 0,
            "pending": 0,
        }
        with session_scope(engine) as session:
            [status] = endpoint_statuses(session, actor=SYSTEM)
            assert (status.failed, status.owner) == (1, "team east")
            assert failing_endpoints([status]) == [status]
            assert retry_failed(session, actor=SYSTEM, endpoint_id=status.id, now=now) == 1
        [message] = outbox(engine)
        assert (message.status, message.attempts) == (PENDING, 0)
        server.failures = 0
        assert deliver_due(engine, now).sent == 1
    finally:
        server.close()


def test_two_senders_at_once_send_each_message_once(engine: Engine) -> None:
    server = Bot()
    try:
        with session_scope(engine) as session:
            rep = add_user(session, UserInput(username="wang", team="east"), password=None, actor=SYSTEM)
            add_endpoint(
                session, actor=SYSTEM, endpoint=EndpointInput(kind="slack", url=server.url, username="wang")
            )
            for i in range(40):
                notify(session, user_id=rep.id, kind="test", params={"text": str(i)})
        reports = []

        def send() -> None:
            reports.append(deliver_due(engine, T0, limit=15))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        while (left := deliver_due(engine, T0)).sent:
            reports.append(left)
        texts = [body["text"] for _, body in server.requests]
        assert {text.rsplit(":", 1)[-1] for text in texts} == {str(i) for i in range(40)}
        assert len(texts) == len(set(texts)) == 40
        assert sum(r.sent for r in reports) == 40
    finally:
        server.close()


def test_an_inactive_endpoint_keeps_its_messages_waiting(engine: Engine, bot: Bot) -> None:
    setup(engine, bot.url)
    with session_scope(engine) as session:
        session.execute(update(WebhookEndpoint).values(active=False))
    assert deliver_due(engine, T0).as_json() == {"sent": 0, "failed": 0, "pending": 1}
    assert bot.requests == []


def test_dingtalk_signs_in_the_query_and_feishu_in_the_body(engine: Engine) -> None:
    server = Bot()
    try:
        with session_scope(engine) as session:
            add_user(session, UserInput(username="wang", team="east"), password=None, actor=SYSTEM)
            for kind in ("dingtalk", "feishu"):
                endpoint = EndpointInput(kind=kind, url=server.url, secret="SEC123", username="wang")
                add_endpoint(session, actor=SYSTEM, endpoint=endpoint)
        for kind in ("dingtalk", "feishu"):
            with session_scope(engine) as session:
                endpoint_id = session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.kind == kind))
            assert send_test(engine, actor=SYSTEM, endpoint_id=endpoint_id, text="ping") is None  # type: ignore[arg-type]
        (ding_path, ding_body), (_, feishu_body) = server.requests
        query = parse_qs(urlsplit(ding_path).query)
        stamp = int(query["timestamp"][0])
        assert query["sign"][0] == dingtalk_sign("SEC123", stamp)
        assert ding_body == {"msgtype": "text", "text": {"content": "ping"}}
        assert feishu_body["sign"] == feishu_sign("SEC123", int(feishu_body["timestamp"]))
        assert feishu_body["msg_type"] == "text" and feishu_body["content"] == {"text": "ping"}
    finally:
        server.close()


def test_a_refused_connection_is_an_error_not_a_crash(engine: Engine) -> None:
    setup(engine, "http://127.0.0.1:9/nothing-listens-here")
    report = deliver_due(engine, T0, client=httpx.Client(timeout=2))
    assert report.pending == 1
    [message] = outbox(engine)
    assert message.last_error and message.last_error.startswith("ConnectError")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "teams"}, "kind"),
        ({"url": "ftp://x"}, "url"),
        ({"kind": "dingtalk", "secret": ""}, "secret"),
        ({"username": "wang", "team": "east"}, "user"),
        ({"username": "ghost"}, "user"),
    ],
)
def test_a_bad_endpoint_is_refused_naming_the_field(
    engine: Engine, values: dict[str, str], field: str
) -> None:
    with session_scope(engine) as session:
        add_user(session, UserInput(username="wang"), password=None, actor=SYSTEM)
        base = {"kind": "wecom", "url": "https://qyapi.weixin.qq.com/x", "username": "wang", **values}
        with pytest.raises(ValidationError) as caught:
            add_endpoint(session, actor=SYSTEM, endpoint=EndpointInput(**base))
        assert [e.field for e in caught.value.errors] == [field]
