"""The app server's one-time garbage collector settings (funnel/core/runtime.py)."""

from __future__ import annotations

import gc

import pytest

from funnel.core import runtime


@pytest.fixture
def fresh_gc(monkeypatch: pytest.MonkeyPatch):
    thresholds = gc.get_threshold()
    monkeypatch.setattr(runtime, "_applied", False)
    yield
    gc.set_threshold(*thresholds)


def test_applied_once_per_process(fresh_gc):
    assert runtime.tune_gc_once() is True
    assert gc.get_threshold()[0] == runtime.YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0  # what the process held at its first run is out of the collector's way
    gc.set_threshold(700, 10, 10)
    assert runtime.tune_gc_once() is False  # a later run changes nothing
    assert gc.get_threshold() == (700, 10, 10)
