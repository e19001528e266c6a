from __future__ import annotations

import pytest

from funnel.core.validation import normalize_email, normalize_phone, normalize_wechat


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("010-12345678", "01012345678"),
        ("0755 8888 6666", "075588886666"),
        ("+1 415 555 0100", "+14155550100"),
    ],
)
def test_valid_phone_numbers_are_normalised(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["12345", "12800138000", "1380013800", "138001380001", "abc", "+86 1380013800", "+0 123", ""],
    ids=["short", "bad-mobile-prefix", "10-digit", "12-digit", "letters", "+86-short", "plus-zero", "empty"],
)
def test_invalid_phone_numbers_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("Li.Lei@Example.COM", True),
        ("a@b.cn", True),
        ("no-at-sign", False),
        ("a@b", False),
        ("a b@c.cn", False),
    ],
)
def test_email_addresses(raw, ok):
    if ok:
        assert normalize_email(raw) == raw.strip().lower()
    else:
        with pytest.raises(ValueError):
            normalize_email(raw)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("wxid_abc123", True), ("Li-Lei_88", True), ("13800138000", True), ("abc", False), ("1abcdef", False)],
)
def test_wechat_ids_or_bound_phone_numbers(raw, ok):
    if ok:
        assert normalize_wechat(raw)
    else:
        with pytest.raises(ValueError):
            normalize_wechat(raw)
