"""The public satisfaction survey: GET/POST /survey/<token>, a small HTML page beside the app, no login.

Every stored or typed value is escaped. A cross-site POST cannot forge an answer (it would need the
secret token in the URL), and a POST whose Origin is another site is refused all the same.
"""

from __future__ import annotations

import html
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from funnel.access.permissions import PUBLIC
from funnel.closing.surveys import ANSWERED, EXPIRED, OPEN, RECORDED, SURVEY_PATH, answer_survey, survey_state
from funnel.core.db import make_engine, session_scope
from funnel.core.errors import FieldError, ValidationError
from funnel.core.i18n import t
from funnel.core.settings import get_settings

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:1rem auto;padding:0 1rem;line-height:1.5}"
    "fieldset{border:0;padding:0;margin:1rem 0}label{margin-right:.6rem;white-space:nowrap}"
    "textarea{width:100%;min-height:6rem}.error{color:#b00020}button{font-size:1rem;padding:.5rem 1.2rem}"
)


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in ("en", "zh"):
        return asked
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"


def _page(lang: str, title: str, body: str, status: int = 200) -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"""
    headers = {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    }
    return HTMLResponse(page, status_code=status, headers=headers)


def _message(lang: str, state: str) -> HTMLResponse:
    status = {ANSWERED: 409, EXPIRED: 410}.get(state, 404)
    return _page(lang, t("survey.title", lang), f"<p>{html.escape(t(f'survey.{state}', lang))}</p>", status)


def _form(lang: str, values: dict[str, str], errors: dict[str, FieldError]) -> HTMLResponse:
    def error(field: str) -> str:
        found = errors.get(field)
        return f'<p class="error">{html.escape(t(found.code, lang, **found.params))}</p>' if found else ""

    def checked(n: int) -> str:
        return " checked" if values.get("rating") == str(n) else ""

    stars = "".join(
        f'<label><input type="radio" name="rating" value="{n}"{checked(n)} required> {n}</label>'
        for n in range(1, 6)
    )
    scores = "".join(
        f'<option value="{n}"{" selected" if values.get("recommend") == str(n) else ""}>{n}</option>'
        for n in range(11)
    )
    comment = html.escape(values.get("comment", ""))
    body = f"""<p>{html.escape(t("survey.intro", lang))}</p>
<form method="post">
<fieldset><legend>{html.escape(t("survey.rating", lang))}</legend>{stars}{error("rating")}</fieldset>
<fieldset><legend>{html.escape(t("survey.recommend", lang))}</legend>
<select name="recommend" required><option value=""></option>{scores}</select>{error("recommend")}</fieldset>
<fieldset><legend>{html.escape(t("survey.comment", lang))}</legend>
<textarea name="comment" maxlength="2000">{comment}</textarea>{error("comment")}</fieldset>
<input type="hidden" name="lang" value="{lang}">
<button type="submit">{html.escape(t("survey.submit", lang))}</button></form>"""
    return _page(lang, t("survey.title", lang), body, 400 if errors else 200)


def _state(token: str) -> str:
    with session_scope(_engine(get_settings().database_url)) as session:
        return survey_state(session, token)


def _answer(token: str, values: dict[str, str]) -> str:
    with session_scope(_engine(get_settings().database_url)) as session:
        return answer_survey(
            session,
            actor=PUBLIC,
            token=token,
            rating=values.get("rating"),
            recommend=values.get("recommend"),
            comment=values.get("comment"),
        )


def _other_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is not None and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        return True
    return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


async def survey_page(request: Request) -> Response:
    token = request.path_params["token"]
    lang = _lang(request)
    if len(token) > 100:
        return _message(lang, "unknown")
    if request.method == "GET":
        state = await run_in_threadpool(_state, token)
        return _form(lang, {}, {}) if state == OPEN else _message(lang, state)
    form = await request.form()
    values = {key: str(form.get(key) or "")[:4000] for key in ("rating", "recommend", "comment", "lang")}
    lang = values["lang"] if values["lang"] in ("en", "zh") else lang
    if _other_site(request):
        return _page(
            lang, t("survey.title", lang), f"<p>{html.escape(t('survey.other_site', lang))}</p>", 403
        )
    try:
        state = await run_in_threadpool(_answer, token, values)
    except ValidationError as exc:
        return _form(lang, values, exc.by_field())
    if state == RECORDED:
        return _page(lang, t("survey.title", lang), f"<p>{html.escape(t('survey.thanks', lang))}</p>")
    return _message(lang, state)


ROUTES: list[BaseRoute] = [Route(SURVEY_PATH + "{token}", survey_page, methods=["GET", "POST"])]
