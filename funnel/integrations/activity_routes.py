"""POST /api/activities: a phone system or a WeCom bot reports a call or a chat, beside the lead API.

Authenticated like the lead API (`Authorization: Bearer TOKEN`, a channel's token, checked by
`funnel.capture.intake.check_token`), rate-limited per client, the body at most CRM_INTAKE_MAX_BODY_KB.
The body is one JSON object (`funnel.working.call_sync.sync_activity` reads it):

    {"external_id": "pbx-123", "time": "2026-12-04T09:30:00", "phone": "138 1234 5678",
     "direction": "out", "duration": 125, "kind": "call", "note": "asked for a demo"}

`phone` or `wechat` finds the customer (by a contact's normalised phone or WeChat). Answers:
201 `{"activity_id": ..., "customer_no": ...}` for a new activity; 200 with the same for a replay of
the same `external_id` (nothing is created twice); 202 `{"matched": false, "unmatched": [...]}` when
no customer has that number (nothing is stored: the sender keeps it and may send it again once the
customer exists); 401 bad token, 403 channel switched off, 413 too large, 422 naming each bad field,
429 rate-limited, 503 database down. The activity is recorded by the SYSTEM principal, with
`source = "api"`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from funnel.access.permissions import SYSTEM
from funnel.capture.intake import SourceOff, TokenRefused, check_token
from funnel.core.db import DatabaseUnavailable, session_scope
from funnel.core.errors import FORM, FieldError, UserError
from funnel.core.i18n import t
from funnel.integrations.public_routes import (
    RateLimiter,
    _json_errors,
    engine,
    language,
    read_api_call,
)
from funnel.store.models import Activity, Customer
from funnel.working.call_sync import sync_activity

log = logging.getLogger(__name__)

API_ACTIVITIES_PATH = "/api/activities"


@dataclass(frozen=True)
class ActivityAnswer:
    """What the route answers: the HTTP status and its JSON body."""

    status: int
    body: dict[str, object]


def take_activity(token: str, payload: dict[str, object], lang: str) -> ActivityAnswer:
    """Authenticate the channel's token and sync one activity, in one unit of work."""
    with session_scope(engine()) as session:
        check_token(session, token)
        result = sync_activity(session, payload, actor=SYSTEM)
        ids = [*result.activity_ids, *result.already_ids]
        if ids:
            customer_no = session.scalar(
                select(Customer.customer_no).join(Activity).where(Activity.id == ids[0])
            )
            body: dict[str, object] = {"matched": True, "activity_id": ids[0], "customer_no": customer_no}
            return ActivityAnswer(201 if result.created else 200, body)
        unmatched = [
            {"number": u.number, "code": u.reason, "message": t(u.reason, lang, **u.params)}
            for u in result.unmatched
        ]
        return ActivityAnswer(202, {"matched": False, "unmatched": unmatched})


def build_routes(limiter: RateLimiter | None = None) -> list[BaseRoute]:
    """The activity API's route, with its own rate limiter (tests build a fresh one)."""
    limits = limiter or RateLimiter()

    async def api_activities(request: Request) -> Response:
        lang = language(request)
        call = await read_api_call(request, limits, lang)
        if isinstance(call, Response):
            return call
        payload, token = call
        try:
            answer = await run_in_threadpool(take_activity, token, payload, lang)
        except TokenRefused as exc:
            realm = {"WWW-Authenticate": 'Bearer realm="activities"'}
            return _json_errors(exc.errors, lang, 401, headers=realm)
        except SourceOff as exc:
            return _json_errors(exc.errors, lang, 403)
        except UserError as exc:
            return _json_errors(exc.errors, lang, 422)
        except (DatabaseUnavailable, SQLAlchemyError):
            log.exception("the activity API could not reach the database")
            return _json_errors([FieldError(FORM, "intake.outage.text")], lang, 503)
        return JSONResponse(answer.body, status_code=answer.status)

    return [Route(API_ACTIVITIES_PATH, api_activities, methods=["POST"])]


ROUTES = build_routes()
