"""Process-wide settings of a long-running app server, applied once per process.

The garbage collector: a Streamlit server holds a large, long-lived heap (Streamlit, pandas, SQLAlchemy,
the cached results), and the cyclic collector's full passes walk all of it. On the dashboard at 100,000
customers such a pass landed in one redraw in three and took about 0.15 s of its 0.3-0.6 s. Freezing
what the process holds after its first run moves it out of the collector's sight (it stays alive; it
is the imported code and its tables), and a larger first-generation threshold makes the young passes,
which a redraw's short-lived rows trigger, rarer. Memory is still freed by reference counting as
before; only cycles wait a little longer.
"""

from __future__ import annotations

import gc
import threading

YOUNG_THRESHOLD = 20_000  # Python's default is 700 allocations
_applied = False
_lock = threading.Lock()


def tune_gc_once() -> bool:
    """Apply the settings above the first time a process calls this; whether this call applied them."""
    global _applied
    with _lock:
        if _applied:
            return False
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
        _applied = True
        return True
