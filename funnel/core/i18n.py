"""`t(key)` over the message catalogues in funnel/locales/<lang>/*.json (English, Simplified Chinese).

Each area of the product keeps its own catalogue file (core.json, app.json, import.json, ...), merged
per language; a test checks that both languages hold the same keys.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from funnel.core.settings import get_settings

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> dict[str, str]:
    """Every message of one language, keyed by message key."""
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.json")):
        data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        duplicated = merged.keys() & data.keys()
        if duplicated:
            raise ValueError(f"{path.name} repeats message keys {sorted(duplicated)}")
        merged.update(data)
    return merged


def rule_params() -> dict[str, str]:
    """Settings any message may state without its caller passing them: the sign-in rules."""
    settings = get_settings()
    return {
        "max_failed_logins": str(settings.max_failed_logins),
        "lockout_minutes": str(settings.lockout_minutes),
    }


def t(key: str, lang: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The message `key` in `lang`, falling back to English, then to the key itself.

    A message may name a rule_params() setting ({lockout_minutes}) whether or not its caller passes it,
    so that what it says follows the configuration.
    """
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    template = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    rules = rule_params()
    if not params and not any(f"{{{name}}}" in template for name in rules):
        return template
    return template.format(**{**rules, **params})
