from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher

from funnel.accounts import passwords as auth
from funnel.accounts.passwords import check_password, hash_password, verify_password
from funnel.accounts.signin import session_expired
from funnel.core.errors import ValidationError


def test_production_hashing_uses_argon2id_with_its_recommended_costs():
    defaults = PasswordHasher()

    assert (defaults.time_cost, defaults.memory_cost) == (3, 65536)
    assert type(auth._hasher) is PasswordHasher


def test_a_hash_is_salted_verifies_the_password_and_nothing_else():
    first, second = hash_password("open sesame"), hash_password("open sesame")

    assert first != second
    assert first.startswith("$argon2id$")
    assert verify_password(first, "open sesame")
    assert not verify_password(first, "open sesame ")
    assert not verify_password(None, "open sesame")
    assert not verify_password("not-a-hash", "open sesame")


@pytest.mark.parametrize(("password", "ok"), [("1234567", False), ("12345678", True), ("", False)])
def test_passwords_need_eight_characters(password, ok):
    if ok:
        check_password(password)
    else:
        with pytest.raises(ValidationError):
            check_password(password)


@pytest.mark.parametrize(("idle_minutes", "expired"), [(0, False), (59, False), (60, False), (61, True)])
def test_a_session_expires_after_the_configured_idle_time(idle_minutes, expired):
    now = datetime(2026, 11, 25, 12, 0)

    assert session_expired(now - timedelta(minutes=idle_minutes), now=now) is expired
