"""Passwords: argon2 hashes, the checks a password must pass, and the published demo password."""

from __future__ import annotations

import threading
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from funnel.core.errors import FieldError, ValidationError

_hasher = PasswordHasher()
# Each argon2 hash or verify holds its memory cost (64 MiB by default) while it runs: twenty sign-ins at
# once would take over a gigabyte. At most this many run at a time; the rest wait their turn (~60 ms each).
CONCURRENT_HASHES = 4
_hashing = threading.BoundedSemaphore(CONCURRENT_HASHES)


MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    with _hashing:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        with _hashing:
            return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a password no one has, made on first use: what a sign-in with an unknown name checks."""
    return hash_password("loudou: no such user")


def _verify_evenly(password_hash: str | None, password: str) -> bool:
    """verify_password, but with the argon2 work done even when there is no hash to check against.

    Without it a wrong username answers in microseconds and a wrong password in ~60 ms, and that
    difference tells an attacker which usernames exist.
    """
    if not password_hash:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(password_hash, password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            [FieldError("password", "error.password_short", {"n": str(MIN_PASSWORD_LENGTH)})]
        )


# Published (README, `demo` output, the sign-in page's hint): every demo account signs in with it, but
# only while the settings allow demo data. It lives here, beside the sign-in that refuses it, because
# accounts/ may not import demo/ (funnel.demo.catalog re-exports it).
DEMO_PASSWORD = "loudou-demo"


@lru_cache(maxsize=64)
def is_demo_password_hash(password_hash: str) -> bool:
    """Whether `password_hash` opens with DEMO_PASSWORD; one argon2 verify per hash, then remembered.

    The verdict cannot change (the hash names its salt and costs), and the sign-in page asks on every
    anonymous view: without the cache each view costs an argon2 verify, which is a cheap way to load the
    server for anyone who can reach the sign-in page.
    """
    return verify_password(password_hash, DEMO_PASSWORD)
