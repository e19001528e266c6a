"""`t(key)` over the message catalogues in funnel/locales/ (English and Simplified Chinese)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> dict[str, str]:
    """Every message of one language, keyed by message key."""
    path = LOCALES_DIR / f"{lang}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def t(key: str, lang: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The message `key` in `lang`, falling back to English, then to the key itself."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    template = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    return template.format(**params) if params else template
