"""Both languages carry the same message keys, so no screen falls back to English or to a raw key."""

import json
import string
from pathlib import Path

import pytest

from funnel.core.i18n import LOCALES_DIR, catalogue


def test_english_and_chinese_catalogues_have_the_same_keys() -> None:
    assert set(catalogue("en")) == set(catalogue("zh"))


@pytest.mark.parametrize("name", sorted(p.name for p in (LOCALES_DIR / "en").glob("*.json")))
def test_messages_use_the_same_placeholders_in_both_languages(name: str) -> None:
    en = json.loads(Path(LOCALES_DIR / "en" / name).read_text(encoding="utf-8"))
    zh = json.loads(Path(LOCALES_DIR / "zh" / name).read_text(encoding="utf-8"))

    def fields(text: str) -> set[str]:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field}

    assert {key: fields(text) for key, text in en.items()} == {key: fields(zh[key]) for key in en}
