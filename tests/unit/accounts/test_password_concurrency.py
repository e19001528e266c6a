"""Argon2's memory is bounded: however many sign-ins arrive at once, at most CONCURRENT_HASHES hash or
verify at a time (each holds 64 MiB while it runs)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher

from funnel.accounts import passwords


class _Counting(PasswordHasher):
    """The real hasher, counting how many of its calls run at the same moment."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8192)
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def _enter(self) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)

    def _leave(self) -> None:
        with self.lock:
            self.running -= 1

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self._enter()
        try:
            return super().verify(hash, password)
        finally:
            self._leave()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self._enter()
        try:
            return super().hash(password, salt=salt)
        finally:
            self._leave()


def test_twenty_simultaneous_checks_run_at_most_the_bound_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = _Counting()
    monkeypatch.setattr(passwords, "_hasher", counting)
    stored = passwords.hash_password("correct horse")
    start = threading.Barrier(20)

    def sign_in(i: int) -> bool:
        start.wait()
        return passwords.verify_password(stored, "correct horse" if i % 2 else "wrong one")

    with ThreadPoolExecutor(max_workers=20) as pool:
        verdicts = list(pool.map(sign_in, range(20)))

    assert verdicts == [i % 2 == 1 for i in range(20)]
    assert 1 <= counting.peak <= passwords.CONCURRENT_HASHES
    assert counting.running == 0
