"""The sign-in cookie's routes beside the app: trade a handoff code for the cookie; sign out.

Driven through ASGI directly: Starlette's TestClient needs httpx2, which the project does not install.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette

from funnel.accounts.sessions import REVOKED, resolve_session, start_session
from funnel.core.db import session_scope
from pages._shared.session_routes import COOKIE, ROUTES, SIGN_IN_PATH, SIGN_OUT_PATH

HOST = "crm.example"


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]


@dataclass
class Browser:
    """Just enough of a browser: posts to the routes on one origin and keeps the cookies they set."""

    app: Starlette = field(default_factory=lambda: Starlette(routes=ROUTES))
    cookies: dict[str, str] = field(default_factory=dict)

    def post(self, path: str, *, json_body: object = None, headers: dict[str, str] | None = None) -> Answer:
        body = b"" if json_body is None else json.dumps(json_body).encode()
        sent = {"host": HOST, "content-type": "application/json", **(headers or {})}
        if self.cookies:
            sent["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        scope = {
            "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
            "raw_path": path.encode(), "root_path": "", "query_string": b"", "server": (HOST, 80),
            "client": ("127.0.0.1", 5000), "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
        }  # fmt: skip
        messages: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            messages.append(message)

        asyncio.run(self.app(scope, receive, send))
        start = next(m for m in messages if m["type"] == "http.response.start")
        answer = Answer(int(start["status"]), {})  # type: ignore[call-overload]
        for key, value in start["headers"]:  # type: ignore[attr-defined]
            answer.headers[key.decode().lower()] = value.decode()
            if key.decode().lower() == "set-cookie":
                for name, morsel in SimpleCookie(value.decode()).items():
                    if morsel.value and morsel["max-age"] != "0":
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
        return answer


@pytest.fixture
def client(app_engine: Engine) -> Browser:
    return Browser()


def handoff(engine: Engine, user_id: int) -> str:
    with session_scope(engine) as session:
        return start_session(session, user_id=user_id).handoff


def test_a_handoff_code_sets_an_httponly_lax_cookie_holding_the_session_token(
    client: Browser, app_engine: Engine, accounts: dict[str, int]
) -> None:
    response = client.post(SIGN_IN_PATH, json_body={"code": handoff(app_engine, accounts["rep"])})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie
    assert "Max-Age" not in cookie  # ends with the browser session; the server ends it when idle
    with session_scope(app_engine) as session:
        resolved = resolve_session(session, token=client.cookies[COOKIE])
    assert resolved.actor is not None and resolved.actor.username == "rep"


def test_a_code_works_once(client: Browser, app_engine: Engine, accounts: dict[str, int]) -> None:
    code = handoff(app_engine, accounts["rep"])
    assert client.post(SIGN_IN_PATH, json_body={"code": code}).status_code == 200
    again = client.post(SIGN_IN_PATH, json_body={"code": code})
    assert again.status_code == 400
    assert "set-cookie" not in again.headers


@pytest.mark.parametrize("body", [{"code": "made up"}, {}, [], None])
def test_a_bad_request_sets_no_cookie(client: Browser, accounts: dict[str, int], body: object) -> None:
    response = client.post(SIGN_IN_PATH, json_body=body)
    assert response.status_code == 400
    assert "set-cookie" not in response.headers


def test_another_site_cannot_sign_a_browser_in(
    client: Browser, app_engine: Engine, accounts: dict[str, int]
) -> None:
    code = handoff(app_engine, accounts["rep"])
    response = client.post(SIGN_IN_PATH, json_body={"code": code}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_signing_out_revokes_the_cookies_session_and_deletes_the_cookie(
    client: Browser, app_engine: Engine, accounts: dict[str, int]
) -> None:
    client.post(SIGN_IN_PATH, json_body={"code": handoff(app_engine, accounts["rep"])})
    token = client.cookies[COOKIE]
    response = client.post(SIGN_OUT_PATH, headers={"Origin": f"http://{HOST}"})
    assert response.status_code == 200
    assert f'{COOKIE}=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    with session_scope(app_engine) as session:
        assert resolve_session(session, token=token).reason == REVOKED
    assert COOKIE not in client.cookies
