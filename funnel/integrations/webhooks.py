"""Group bots: the request each kind of incoming webhook expects (WeCom, DingTalk, Feishu/Lark, Slack).

Pure functions: a message's text and link in, the URL and JSON body to POST out. Signing follows each
vendor's documentation: DingTalk puts `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key=secret,
msg="timestamp\\nsecret")) in the query string; Feishu puts `timestamp` (s) and `sign` =
base64(HMAC-SHA256(key="timestamp\\nsecret", msg=b"")) in the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

WECOM, DINGTALK, FEISHU, SLACK = "wecom", "dingtalk", "feishu", "slack"
KINDS = (WECOM, DINGTALK, FEISHU, SLACK)
SIGNED = (DINGTALK, FEISHU)


@dataclass(frozen=True)
class BotRequest:
    url: str
    body: dict[str, Any]


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _epoch(now: datetime) -> float:
    """Seconds since the epoch of a naive-UTC (or aware) time."""
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    return aware.timestamp()


def _markdown_escape(text: str) -> str:
    # User text (a lead's name) must not become a link or formatting in the group chat.
    for char in "\\`*_[]()<>#":
        text = text.replace(char, "\\" + char)
    return text


def build_request(
    *, kind: str, url: str, secret: str | None, text: str, link: str | None, now: datetime
) -> BotRequest:
    """The POST a `kind` bot at `url` expects for `text` (and a link to the customer page)."""
    if kind == WECOM:
        content = _markdown_escape(text) + (f"\n[{link}]({link})" if link else "")
        return BotRequest(url, {"msgtype": "markdown", "markdown": {"content": content}})
    if kind == DINGTALK:
        body: dict[str, Any] = {"msgtype": "text", "text": {"content": text + (f"\n{link}" if link else "")}}
        if secret:
            stamp = int(_epoch(now) * 1000)
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={stamp}&sign={quote_plus(dingtalk_sign(secret, stamp))}"
        return BotRequest(url, body)
    if kind == FEISHU:
        body = {"msg_type": "text", "content": {"text": text + (f"\n{link}" if link else "")}}
        if secret:
            stamp = int(_epoch(now))
            body = {"timestamp": str(stamp), "sign": feishu_sign(secret, stamp), **body}
        return BotRequest(url, body)
    if kind == SLACK:
        # Slack's mrkdwn: &, < and > are escaped, and <url|label> is a link.
        safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return BotRequest(url, {"text": safe + (f"\n<{link}>" if link else "")})
    raise ValueError(f"unknown webhook kind {kind!r}")


def accepted(kind: str, status: int, body: Any) -> str | None:
    """None when the bot took the message, else why not (vendors answer 200 with an error code)."""
    if status < 200 or status >= 300:
        return f"HTTP {status}"
    if isinstance(body, dict):
        code = body.get("errcode", body.get("code", body.get("StatusCode", 0)))
        if code not in (0, None, "0"):
            message = body.get("errmsg") or body.get("msg") or body.get("StatusMessage") or ""
            return f"{kind} error {code}: {message}".strip()
    return None
