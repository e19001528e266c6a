"""The sign-in cookie: two small Starlette routes served beside the app (see app.py's `st.App`).

Why routes: Streamlit 1.67 talks to the browser over a websocket and has no API to set a cookie, and
only an HTTP response can set an HttpOnly one. `st.App(..., routes=[...])` serves these two on the
same server and origin, so the cookie is first-party, HttpOnly and SameSite=Lax, and the page's own
JavaScript never sees the token:

- POST /api/sign-in {"code": ...}: after the sign-in form (a Streamlit form, with its lock-out and
  messages) has started a session, the page posts the session's one-time handoff code here
  (funnel.accounts.sessions.claim_handoff); the answer sets the cookie holding the session token.
- POST /api/sign-out: revokes the session the cookie names and deletes the cookie.

A fetch from the page was chosen over a redirect through a route so the code never appears in a URL
(history, logs) and the signed-in page carries on without a reload. Both routes refuse cross-site
requests (a foreign Origin), so another site cannot sign a browser in or out.
"""

from __future__ import annotations

import json
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from funnel.accounts.sessions import claim_handoff, revoke_session
from funnel.core.db import make_engine, session_scope
from funnel.core.settings import get_settings

COOKIE = "loudou_session"
SIGN_IN_PATH = "/api/sign-in"
SIGN_OUT_PATH = "/api/sign-out"


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def _same_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def _claim(code: str) -> str | None:
    with session_scope(_engine(get_settings().database_url)) as session:
        return claim_handoff(session, code)


def _revoke(token: str) -> None:
    with session_scope(_engine(get_settings().database_url)) as session:
        revoke_session(session, token=token)


async def sign_in(request: Request) -> Response:
    if not _same_origin(request):
        return JSONResponse({"ok": False, "error": "cross-site"}, status_code=403)
    try:
        code = (await request.json()).get("code")
    except (json.JSONDecodeError, AttributeError):
        code = None
    token = await run_in_threadpool(_claim, code) if isinstance(code, str) and code else None
    if token is None:
        return JSONResponse({"ok": False, "error": "unknown or used code"}, status_code=400)
    response = JSONResponse({"ok": True})
    # No max-age: the cookie lives as long as the browser session; the server ends it sooner when idle.
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/"
    )
    return response


async def sign_out(request: Request) -> Response:
    if not _same_origin(request):
        return JSONResponse({"ok": False, "error": "cross-site"}, status_code=403)
    if token := request.cookies.get(COOKIE):
        await run_in_threadpool(_revoke, token)
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


ROUTES: list[BaseRoute] = [
    Route(SIGN_IN_PATH, sign_in, methods=["POST"]),
    Route(SIGN_OUT_PATH, sign_out, methods=["POST"]),
]
