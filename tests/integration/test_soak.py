"""A busy sales team at once: 20 threads of lead saves, stage moves, stale-checked edits and imports.

Marked slow (CRM_SOAK_SECONDS, default 60 s per backend, bounds it); CI runs it with the rest. It ends
with no traceback, no "database is locked" a user would see, no duplicate customer, and a report equal
to a recount of the stage history.
"""

from __future__ import annotations

import os
import random
import threading
import time
import traceback
from collections import Counter

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.users import UserInput, add_user
from funnel.analytics.report import build_report
from funnel.capture.importer import import_file
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.db import session_scope
from funnel.core.errors import UserError
from funnel.customers.edit import update_customer
from funnel.customers.recount import funnel_differences
from funnel.customers.stages import move_stage
from funnel.pipeline.rules import furthest_stage
from funnel.pipeline.stages import get_pipeline
from funnel.store.models import Contact, Customer, StageEvent

pytestmark = pytest.mark.slow
SECONDS = float(os.environ.get("CRM_SOAK_SECONDS", "60"))
THREADS = 20
PEOPLE = 300  # a small pool, so that threads often try to save the same person at once


def _person(n: int) -> dict[str, str]:
    return {"name": f"客户{n}", "phone": f"139{n:08d}"}


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.tracebacks: list[str] = []
        self.locked = 0

    def add(self, counter: str, key: str) -> None:
        with self.lock:
            getattr(self, counter)[key] += 1


def _work(engine: Engine, rep: Actor, seed: int, until: float, tally: Tally) -> None:
    rng = random.Random(seed)
    stages = [*get_pipeline().keys, "won", "lost"]
    while time.monotonic() < until:
        operation = rng.choice(("create", "create", "move", "edit", "import"))
        try:
            if operation == "import":
                rows = "\n".join(
                    f"{p['name']},{p['phone']}" for p in map(_person, rng.sample(range(PEOPLE), 5))
                )
                import_file(engine, f"name,phone\n{rows}\n".encode(), filename="batch.csv", actor=SYSTEM)
            else:
                with session_scope(engine) as session:
                    if operation == "create":
                        create_lead(session, LeadInput(**_person(rng.randrange(PEOPLE))), actor=rep)
                    else:
                        ids = session.scalars(select(Customer.id).order_by(func.random()).limit(50)).all()
                        if not ids:
                            continue
                        customer = session.get(Customer, rng.choice(ids))
                        assert customer is not None
                        version = customer.version
                        session.commit()  # the form was loaded; the save comes a moment later
                        time.sleep(rng.uniform(0, 0.02))
                        if operation == "move":
                            to = rng.choice(stages)
                            reason = "价格" if to == "lost" else None
                            move_stage(session, customer_id=customer.id, to_stage=to, actor=SYSTEM,
                                       expected_version=version, lost_reason=reason,
                                       reopen_reason="came_back")  # fmt: skip
                        else:
                            update_customer(session, actor=SYSTEM, customer_id=customer.id,
                                            changes={"company": f"公司{rng.randrange(99)}"},
                                            expected_version=version)  # fmt: skip
            tally.add("done", operation)
        except UserError as exc:  # what a user is told: a duplicate, a stale edit, won is final, ...
            tally.add("refused", f"{operation}: {exc.errors[0].code}")
        except OperationalError as exc:
            if "locked" in str(exc):
                with tally.lock:
                    tally.locked += 1
            else:
                tally.tracebacks.append(traceback.format_exc())
        except Exception:
            tally.tracebacks.append(traceback.format_exc())


def test_a_busy_team_leaves_no_traceback_no_duplicate_and_a_true_report(engine: Engine) -> None:
    with session_scope(engine) as session:
        rep = Actor.of(add_user(session, UserInput(username="rep", role="rep"), password=None, actor=SYSTEM))
    tally = Tally()
    until = time.monotonic() + SECONDS
    threads = [threading.Thread(target=_work, args=(engine, rep, n, until, tally)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    assert not any(thread.is_alive() for thread in threads)

    print(f"\n{engine.dialect.name}: done {dict(tally.done)}; refused {dict(tally.refused)}")
    assert tally.tracebacks == [], "\n".join(tally.tracebacks[:2])
    assert tally.locked == 0
    assert sum(tally.done.values()) > THREADS  # the threads really worked
    with session_scope(engine) as session:
        phones = session.execute(
            select(Contact.phone, func.count(func.distinct(Contact.customer_id)))
            .group_by(Contact.phone)
            .having(func.count(func.distinct(Contact.customer_id)) > 1)
        ).all()
        assert phones == []  # no person stored twice
        assert funnel_differences(session, actor=SYSTEM) == []
        report = build_report(session, actor=SYSTEM).overall
        # The report against a recount straight from the stage history.
        pipeline = get_pipeline()
        history: dict[int, list[str]] = {}
        for customer_id, to_stage in session.execute(select(StageEvent.customer_id, StageEvent.to_stage)):
            history.setdefault(customer_id, []).append(to_stage)
        statuses = {cid: status for cid, status in session.execute(select(Customer.id, Customer.status))}
        stages = {cid: stage for cid, stage in session.execute(select(Customer.id, Customer.stage))}
        ranks = Counter(
            pipeline.rank(
                furthest_stage(pipeline, history.get(cid, []), status=statuses[cid], stage=stages[cid])
            )
            for cid in statuses
        )
        recount = {
            key: sum(n for rank, n in ranks.items() if rank >= i)
            for i, key in enumerate(pipeline.funnel_keys)
        }
        assert report.reached == recount
        assert report.total == len(statuses)
