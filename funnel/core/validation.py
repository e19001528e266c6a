"""Field checks shared by the lead form, the importer and the public pages."""

from __future__ import annotations

import re

_MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_MAINLAND_LANDLINE = re.compile(r"^0\d{9,11}$")
_INTERNATIONAL = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WECHAT = re.compile(r"^[A-Za-z][-_A-Za-z0-9]{5,19}$")
_SEPARATORS = re.compile(r"[\s\-().]")


def normalize_phone(raw: str) -> str:
    """A phone number in canonical form: 11-digit mainland mobile, 0-prefixed landline or +E.164.

    Raises ValueError when the number is none of those.
    """
    text = _SEPARATORS.sub("", raw.strip())
    if text.startswith("+") and not text.startswith("+86"):
        if _INTERNATIONAL.match(text):
            return text
        raise ValueError(raw)
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if len(text) == 13 and text.startswith("86"):
        text = text[2:]
    if text.startswith("1"):
        if _MAINLAND_MOBILE.match(text):
            return text
        raise ValueError(raw)
    if _MAINLAND_LANDLINE.match(text):
        return text
    raise ValueError(raw)


def normalize_email(raw: str) -> str:
    text = raw.strip().lower()
    if not _EMAIL.match(text):
        raise ValueError(raw)
    return text


def normalize_wechat(raw: str) -> str:
    """A WeChat ID (6-20 characters, starting with a letter) or a phone number bound to WeChat."""
    text = raw.strip()
    if _WECHAT.match(text):
        return text
    return normalize_phone(text)


def clean(text: object) -> str | None:
    """Trimmed text, or None for empty / missing values."""
    if text is None:
        return None
    value = str(text).strip()
    return value or None
