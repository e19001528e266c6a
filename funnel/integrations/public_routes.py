"""The public intake's HTTP side: a channel's lead form and the lead API, Starlette routes beside Streamlit.

Why plain routes and not a Streamlit page: a prospect scanning a QR code at a trade show is on a phone,
often on a poor connection. A Streamlit page would download the app's JavaScript, open a websocket
and start a script session per visitor (a server-side session for every anonymous passer-by, and the
sign-in shell in the way). A server-rendered form is one small HTML response and one POST, works
without JavaScript, and carries its own CSRF token, honeypot and rate limit. app.py's
`st.App(..., routes=...)` serves these on the same server and port, so `streamlit run app.py` stays
the one way to start everything.

- GET/POST /f/<slug>, GET /f/<slug>/thanks: the form, in English or Chinese (`?lang=` or the browser's
  Accept-Language). CSRF: a signed token in a hidden field that must match a cookie (double submit);
  a honeypot field hidden by CSS; per-client rate limit; errors shown on their field, input kept.
- POST /api/leads: for a website backend, a 公众号 server or an ad platform; `Authorization: Bearer
  TOKEN` (the source's token), a JSON object with the fields of `PUBLIC_FIELDS`. Unknown fields are
  refused (422 naming them) so that a sender's mapping mistake is noticed instead of silently dropped.

The rate limits count in each server process (an in-memory sliding window of one minute): behind a
load balancer with N servers a client may get up to N times the limit.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from funnel.capture.intake import (
    PUBLIC_FIELDS,
    IntakeResult,
    PublicLead,
    SourceOff,
    TokenRefused,
    check_token,
    create_public_lead,
    is_duplicate,
    source_for_form,
)
from funnel.core.db import DatabaseUnavailable, make_engine, session_scope, upgrade
from funnel.core.errors import FORM, FieldError, NotFound, UserError, ValidationError
from funnel.core.i18n import LANGUAGES, t
from funnel.core.settings import DATA_DIR, get_settings
from funnel.integrations.handlers import install_handlers

log = logging.getLogger(__name__)

FORM_PATH = "/f/{slug}"
THANKS_PATH = "/f/{slug}/thanks"
API_LEADS_PATH = "/api/leads"
CSRF_COOKIE = "loudou_form"
CSRF_FIELD = "csrf"
HONEYPOT = "website"  # a field people never see (hidden by CSS); bots fill every field they find
CONSENT = "consent"
CSRF_MAX_AGE = 2 * 3600  # seconds a form stays valid; an older one is shown again, input kept
FORM_FIELDS = ("name", "company", "phone", "email", "wechat", "message")
WINDOW_SECONDS = 60.0
SECRET_FILE = "intake_secret"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# --- plumbing: engine, secret, client, language, rate limit -------------------------------------------


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    # A visitor may arrive before anyone opened the app: bring the schema up to date first.
    engine = make_engine(url)
    upgrade(engine)
    return engine


def engine() -> Engine:
    # A lead taken here is scored, routed and its owner told even if no one has opened the app (whose
    # pages install the handlers) since the server started.
    install_handlers()
    return _engine(get_settings().database_url)


@lru_cache(maxsize=4)
def _secret_for(configured: str, folder: Path) -> bytes:
    if configured:
        return configured.encode("utf-8")
    path = folder / SECRET_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    generated = secrets.token_hex(32).encode("ascii")
    try:  # created exclusively: of several processes starting at once, the first one's secret wins
        with path.open("xb") as handle:
            handle.write(generated)
        path.chmod(0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    return generated


def csrf_secret() -> bytes:
    """CRM_INTAKE_SECRET, or a random secret generated once and kept in data/intake_secret."""
    return _secret_for(get_settings().intake_secret, DATA_DIR)


def client_address(request: Request) -> str:
    """The client's address; X-Forwarded-For's last hop (what our proxy saw) only when trusted."""
    if get_settings().trust_forwarded_for:
        forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]
    return request.client.host if request.client else "unknown"


def language(request: Request, chosen: str | None = None) -> str:
    """`?lang=` (or the form's hidden field), else the browser's Accept-Language, else the default."""
    for candidate in (chosen, request.query_params.get("lang")):
        if candidate in LANGUAGES:
            return candidate
    ranked = []
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()[:2]))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    configured = get_settings().language
    return configured if configured in LANGUAGES else "en"


class RateLimiter:
    """At most `limit` hits per key within the last minute (a sliding window kept in this process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def hit(self, key: str, limit: int) -> float:
        """Count a hit; 0 when allowed, else the seconds until the next one would be."""
        now = self._clock()
        with self._lock:
            if len(self._hits) > 10_000:  # forget clients that went quiet, so memory stays bounded
                self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < WINDOW_SECONDS}
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= limit:
                return max(1.0, WINDOW_SECONDS - (now - hits[0]))
            hits.append(now)
            return 0.0


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than CRM_INTAKE_MAX_BODY_KB (answered 413)."""
    limit = get_settings().intake_max_body_kb * 1024
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# --- CSRF: a signed token in the form, its nonce in a cookie -----------------------------------------


def _sign(slug: str, nonce: str, issued: int) -> str:
    return hmac.new(csrf_secret(), f"{slug}.{nonce}.{issued}".encode(), hashlib.sha256).hexdigest()


def issue_csrf(slug: str) -> tuple[str, str]:
    """(the hidden field's token, the cookie's nonce) for one rendering of a source's form."""
    nonce, issued = secrets.token_urlsafe(16), int(time.time())
    return f"{nonce}.{issued}.{_sign(slug, nonce, issued)}", nonce


def csrf_ok(slug: str, token: str, cookie: str | None) -> bool:
    """The token was signed here for this form, is recent, and its nonce is the browser's cookie."""
    nonce, _, rest = token.partition(".")
    issued_text, _, signature = rest.partition(".")
    if not (nonce and cookie and issued_text.isdigit() and signature):
        return False
    issued = int(issued_text)
    fresh = 0 <= time.time() - issued <= CSRF_MAX_AGE
    signed = hmac.compare_digest(signature, _sign(slug, nonce, issued))
    return fresh and signed and hmac.compare_digest(nonce, cookie)


# --- HTML ---------------------------------------------------------------------------------------------

STYLE = """
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"PingFang SC",
"Microsoft YaHei",sans-serif;background:#f5f6f8;color:#1f2430}main{max-width:34rem;margin:0 auto;
padding:1.25rem}h1{font-size:1.4rem;margin:.5rem 0}label{display:block;margin:.9rem 0 .25rem;
font-weight:600}input[type=text],input[type=email],input[type=tel],textarea{width:100%;padding:.7rem;
font-size:1rem;border:1px solid #c5cad3;border-radius:.5rem;background:#fff}textarea{min-height:6rem}
.consent{display:flex;gap:.6rem;align-items:flex-start;font-weight:400}.consent input{margin-top:.3rem}
button{width:100%;margin-top:1.2rem;padding:.85rem;font-size:1.05rem;border:0;border-radius:.5rem;
background:#d9480f;color:#fff}.error{color:#b00020;font-size:.9rem;margin:.2rem 0}.notice{padding:.7rem;
border-radius:.5rem;background:#fff3cd}.hp{position:absolute;left:-10000px;width:1px;height:1px;
overflow:hidden}.lang{text-align:right;font-size:.9rem}.lang a{color:#1f2430;margin-left:.6rem}
.muted{color:#5c6370;font-size:.9rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(lang: str, title: str, body: str, *, switch: str | None = None) -> str:
    links = ""
    if switch is not None:
        links = (
            '<p class="lang">'
            + "".join(
                f'<a href="{_e(switch)}?{urlencode({"lang": code})}" hreflang="{code}">{_e(name)}</a>'
                for code, name in LANGUAGES.items()
                if code != lang
            )
            + "</p>"
        )
    return (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body><main>{links}{body}</main></body></html>"
    )


def _html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status, headers=SECURITY_HEADERS)


def _messages(errors: list[FieldError], lang: str, fields: tuple[str, ...]) -> dict[str, list[str]]:
    """Each error's message in `lang`, under its field (FORM when the form has no such field)."""
    shown: dict[str, list[str]] = {}
    for error in errors:
        where = error.field if error.field in fields else FORM
        shown.setdefault(where, []).append(t(error.code, lang, **error.params))
    return shown


def render_form(
    slug: str,
    lang: str,
    *,
    values: Mapping[str, str] | None = None,
    errors: Sequence[FieldError] = (),
    status: int = 200,
) -> Response:
    """The form (again, with the input kept and each error on its field), with a fresh CSRF token."""
    values = values or {}
    shown = _messages(list(errors), lang, (*FORM_FIELDS, CONSENT))
    token, nonce = issue_csrf(slug)

    def problems(field: str) -> str:
        return "".join(f'<p class="error" id="{field}-error">{_e(text)}</p>' for text in shown.get(field, []))

    kinds = {"phone": "tel", "email": "email"}
    rows = []
    for field in FORM_FIELDS:
        label = t("intake.form.message" if field == "message" else f"field.{field}", lang)
        if field == "name":
            label += " *"
        value = values.get(field, "")
        described = f' aria-describedby="{field}-error" aria-invalid="true"' if field in shown else ""
        if field == "message":
            control = f'<textarea id="{field}" name="{field}"{described}>{_e(value)}</textarea>'
        else:
            kind = kinds.get(field, "text")
            extra = ' inputmode="tel" autocomplete="tel"' if field == "phone" else ""
            extra += ' autocomplete="email"' if field == "email" else ""
            extra += ' autocomplete="name" required' if field == "name" else ""
            extra += ' autocomplete="organization"' if field == "company" else ""
            control = (
                f'<input type="{kind}" id="{field}" name="{field}" value="{_e(value)}"{extra}{described}>'
            )
        rows.append(f'<label for="{field}">{_e(label)}</label>{control}{problems(field)}')
    checked = " checked" if values.get(CONSENT) else ""
    body = (
        f"<h1>{_e(t('intake.form.title', lang))}</h1>"
        f'<p class="muted">{_e(t("intake.form.intro", lang))}</p>'
        + "".join(f'<p class="error notice">{_e(text)}</p>' for text in shown.get(FORM, []))
        + f'<form method="post" action="/f/{_e(slug)}" novalidate>'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{_e(token)}">'
        f'<input type="hidden" name="lang" value="{_e(lang)}">'
        f'<div class="hp" aria-hidden="true"><label for="{HONEYPOT}">Website</label>'
        f'<input type="text" id="{HONEYPOT}" name="{HONEYPOT}" tabindex="-1" autocomplete="off"></div>'
        + "".join(rows)
        + f'<label class="consent"><input type="checkbox" name="{CONSENT}" value="yes"{checked}>'
        f"<span>{_e(t('intake.form.consent', lang))}</span></label>{problems(CONSENT)}"
        f'<p class="muted">{_e(t("intake.form.contact_hint", lang))}</p>'
        f'<button type="submit">{_e(t("intake.form.submit", lang))}</button></form>'
    )
    response = _html(_page(lang, t("intake.form.title", lang), body, switch=f"/f/{slug}"), status)
    response.set_cookie(
        CSRF_COOKIE, nonce, max_age=CSRF_MAX_AGE, path=f"/f/{slug}", httponly=True, samesite="lax",
        secure=get_settings().public_base_url.startswith("https://"),
    )  # fmt: skip
    return response


def _notice_page(lang: str, title_key: str, text_key: str, status: int, **params: object) -> Response:
    body = f"<h1>{_e(t(title_key, lang))}</h1><p>{_e(t(text_key, lang, **params))}</p>"
    return _html(_page(lang, t(title_key, lang), body), status)


def _unavailable(lang: str) -> Response:
    return _notice_page(lang, "intake.unavailable.title", "intake.unavailable.text", 404)


def _outage(lang: str) -> Response:
    return _notice_page(lang, "intake.outage.title", "intake.outage.text", 503)


# --- the form -----------------------------------------------------------------------------------------


def _form_source(slug: str) -> None:
    with session_scope(engine()) as session:
        source_for_form(session, slug)


def _store(slug: str, lead: PublicLead) -> IntakeResult:
    with session_scope(engine()) as session:
        source = source_for_form(session, slug)
        return create_public_lead(session, source, lead, note_on_duplicate=True)


async def _guarded(lang: str, call: Callable[[], Any]) -> Any:
    """Run a database call off the event loop; an unknown or switched-off form and outages become pages."""
    try:
        return await run_in_threadpool(call)
    except (NotFound, SourceOff):
        return _unavailable(lang)
    except (DatabaseUnavailable, SQLAlchemyError):
        log.exception("the public form could not reach the database")
        return _outage(lang)


async def show_form(request: Request) -> Response:
    slug = request.path_params["slug"]
    lang = language(request)
    answer = await _guarded(lang, lambda: _form_source(slug))
    return answer if isinstance(answer, Response) else render_form(slug, lang)


def build_routes(
    form_limiter: RateLimiter | None = None, api_limiter: RateLimiter | None = None
) -> list[BaseRoute]:
    """The public routes, each set with its own rate limiters (tests build fresh ones)."""
    form_limits = form_limiter or RateLimiter()
    api_limits = api_limiter or RateLimiter()

    async def submit_form(request: Request) -> Response:
        slug = request.path_params["slug"]
        body = await _read_body(request)
        if body is None:
            return _notice_page(language(request), "intake.too_large.title", "intake.too_large.text", 413)
        posted = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        lang = language(request, posted.get("lang"))
        values = {name: posted.get(name, "") for name in (*FORM_FIELDS, CONSENT)}
        wait = form_limits.hit(client_address(request), get_settings().intake_form_per_minute)
        if wait:
            refused = [FieldError(FORM, "intake.rate_limited", {"seconds": str(round(wait))})]
            response = render_form(slug, lang, values=values, errors=refused, status=429)
            response.headers["Retry-After"] = str(round(wait))
            return response
        if not csrf_ok(slug, posted.get(CSRF_FIELD, ""), request.cookies.get(CSRF_COOKIE)):
            return render_form(
                slug, lang, values=values, errors=[FieldError(FORM, "intake.csrf")], status=403
            )
        thanks = RedirectResponse(f"/f/{slug}/thanks?{urlencode({'lang': lang})}", status_code=303)
        if posted.get(HONEYPOT):
            return thanks  # a bot: it learns nothing, and nothing is stored
        if not values[CONSENT]:
            consent = [FieldError(CONSENT, "intake.consent_required")]
            return render_form(slug, lang, values=values, errors=consent, status=422)
        lead = PublicLead(**{name: values[name] or None for name in FORM_FIELDS})
        try:
            answer = await _guarded(lang, lambda: _store(slug, lead))
        except ValidationError as exc:
            return render_form(slug, lang, values=values, errors=exc.errors, status=422)
        return answer if isinstance(answer, Response) else thanks

    async def api_leads(request: Request) -> Response:
        lang = language(request)
        call = await read_api_call(request, api_limits, lang)
        if isinstance(call, Response):
            return call
        payload, token = call
        try:
            result = await run_in_threadpool(_take_api_lead, token, payload)
        except TokenRefused as exc:
            return _json_errors(exc.errors, lang, 401, headers={"WWW-Authenticate": 'Bearer realm="leads"'})
        except SourceOff as exc:
            return _json_errors(exc.errors, lang, 403)
        except UserError as exc:
            if is_duplicate(exc):
                return _json_errors([_duplicate(e) for e in exc.errors], lang, 409)
            return _json_errors(exc.errors, lang, 422)
        except (DatabaseUnavailable, SQLAlchemyError):
            log.exception("the lead API could not reach the database")
            return _json_errors([FieldError(FORM, "intake.outage.text")], lang, 503)
        return JSONResponse({"customer_no": result.customer_no}, status_code=201 if result.created else 200)

    return [
        Route(FORM_PATH, show_form, methods=["GET"]),
        Route(FORM_PATH, submit_form, methods=["POST"]),
        Route(THANKS_PATH, thank_you, methods=["GET"]),
        Route(API_LEADS_PATH, api_leads, methods=["POST"]),
    ]


async def thank_you(request: Request) -> Response:
    return _notice_page(language(request), "intake.thanks.title", "intake.thanks.text", 200)


# --- the API ------------------------------------------------------------------------------------------


async def read_api_call(
    request: Request, limiter: RateLimiter, lang: str
) -> tuple[dict[str, object], str] | Response:
    """The JSON object and bearer token of an API call (leads, activities), or the answer refusing it:
    429 over the client's rate, 413 over the body limit, 400 when the body is not a JSON object."""
    wait = limiter.hit(client_address(request), get_settings().intake_api_per_minute)
    if wait:
        error = FieldError(FORM, "intake.rate_limited", {"seconds": str(round(wait))})
        return _json_errors([error], lang, 429, headers={"Retry-After": str(round(wait))})
    body = await _read_body(request)
    if body is None:
        limit = str(get_settings().intake_max_body_kb)
        return _json_errors([FieldError(FORM, "intake.api.too_large", {"kb": limit})], lang, 413)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    if not isinstance(payload, dict):
        return _json_errors([FieldError(FORM, "intake.api.not_an_object")], lang, 400)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return payload, token.strip() if scheme.lower() == "bearer" else ""


def payload_lead(payload: Mapping[str, object]) -> PublicLead:
    """A PublicLead from a JSON object; ValidationError naming each unknown or non-text field."""
    errors = [
        FieldError(name, "intake.api.unknown_field", {"field": name})
        for name in payload
        if name not in PUBLIC_FIELDS
    ]
    values: dict[str, str | None] = {}
    for name in PUBLIC_FIELDS:
        value = payload.get(name)
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and name in ("phone", "external_id")
        ):
            value = str(value)  # a number where text is meant: a phone or an id sent as a JSON number
        if name == "tags" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ", ".join(value)  # tags may come as a JSON list of names
        if value is not None and not isinstance(value, str):
            errors.append(FieldError(name, "intake.api.not_text", {"field": name}))
            continue
        values[name] = value
    if errors:
        raise ValidationError(errors)
    return PublicLead(**values)


def _take_api_lead(token: str, payload: Mapping[str, object]) -> IntakeResult:
    with session_scope(engine()) as session:
        source = check_token(session, token)
        return create_public_lead(session, source, payload_lead(payload))


def _duplicate(error: FieldError) -> FieldError:
    # The lead form's duplicate message speaks to a rep ("ask your manager"); a sender gets its own.
    if error.code in ("error.duplicate", "error.duplicate_hidden"):
        return FieldError(error.field, "intake.api.duplicate", {"field": error.field})
    return error


def _json_errors(
    errors: list[FieldError], lang: str, status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {
        "errors": [{"field": e.field, "code": e.code, "message": t(e.code, lang, **e.params)} for e in errors]
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


ROUTES = build_routes()
