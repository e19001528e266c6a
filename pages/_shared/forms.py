"""The page kit's one guarded write (and read): errors under their field, input kept, rerun after commit.

Every page that writes calls `save`. It runs the write in one transaction; a `UserError` (bad input, a
refused permission, a record gone, a stale edit) shows each message under the field it names ("form":
above the whole form), a database failure is logged and shown as one clear message, and in both cases
nothing reruns, so the widgets keep what was typed. Only after the commit does it clear the cached
areas the write changed, remember the success notice and rerun.

The trap it closes: funnel.core.db.session_scope rolls back on any BaseException, and st.rerun(),
st.stop() and st.switch_page() raise one. Called inside the transaction they would silently drop the
save; `save` lets the transaction commit first and then lets them through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from funnel.core.db import session_scope
from funnel.core.errors import FORM, FieldError, StaleEdit, UserError
from pages._shared.common import CUSTOMERS, clear_area, get_engine, tr

log = logging.getLogger(__name__)
T = TypeVar("T")
Slots = dict[str, DeltaGenerator]  # field name -> the placeholder under that field ("form": the form's)
NOTICE_KEY = "form_notice"
DATABASE_ERROR = "error.database"


def show_errors(slots: Slots, errors: Iterable[FieldError]) -> None:
    """Each error under the field it names; one the form has no field for goes to the form's slot."""
    messages: dict[str, list[str]] = {}
    for error in errors:
        field = error.field if error.field in slots else FORM
        messages.setdefault(field, []).append(tr(error.code, **error.params))
    for field, texts in messages.items():
        slots[field].error("  \n".join(texts), icon=":material/error:")


def run_write(write: Callable[[Session], T]) -> T:
    """`write` in one transaction, committed before any st.rerun/st.stop/st.switch_page it raised."""
    control: ScriptControlException | None = None
    with session_scope(get_engine()) as session:
        try:
            result = write(session)
        except ScriptControlException as exc:  # control flow, not an error: commit, then obey it
            control = exc
    if control is not None:
        raise control
    return result


def save(
    slots: Slots,
    write: Callable[[Session], T],
    *,
    notice: str | Callable[[T], str] | None = None,
    areas: Iterable[str] = (CUSTOMERS,),
    then: Callable[[T], object] | None = None,
    failed: str = DATABASE_ERROR,
    stale_record: str | None = None,
) -> T | None:
    """Run one write; on success clear `areas`, keep `notice` for the next run, call `then`, rerun.

    Returns None after showing what went wrong (the input stays); `failed` is the message key for a
    database failure, and `stale_record` names the record when a concurrent save is detected by the
    row version rather than by the use case.
    """
    try:
        result = run_write(write)
    except UserError as exc:
        show_errors(slots, exc.errors)
        return None
    except StaleDataError:
        if stale_record is None:
            log.exception("a save met a concurrent change")
            slots[FORM].error(tr(failed), icon=":material/error:")
        else:
            show_errors(slots, StaleEdit(stale_record).errors)
        return None
    except SQLAlchemyError:
        log.exception("a save failed")
        slots[FORM].error(tr(failed), icon=":material/error:")
        return None
    clear_area(*areas)
    if notice is not None:
        st.session_state[NOTICE_KEY] = notice(result) if callable(notice) else notice
    if then is not None:
        then(result)  # may itself switch page, which is a rerun too
    st.rerun()
    return result  # not reached: st.rerun() raises


def show_notice() -> None:
    """The success message a save left for this run, if any (also as a toast: seen when scrolled away)."""
    if notice := st.session_state.pop(NOTICE_KEY, None):
        st.success(notice, icon=":material/check_circle:")
        st.toast(notice, icon=":material/check_circle:")


@contextmanager
def guarded_read() -> Iterator[None]:
    """Around a page's reads: a UserError or a database failure becomes a message and stops the page."""
    try:
        yield
    except UserError as exc:
        for error in exc.errors:
            st.warning(tr(error.code, **error.params), icon=":material/block:")
        st.stop()
    except SQLAlchemyError:
        log.exception("reading for a page failed")
        st.error(tr(DATABASE_ERROR), icon=":material/error:")
        st.stop()
