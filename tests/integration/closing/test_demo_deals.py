"""The demo's deals fill the closing tables consistently: a plan covers its contract exactly, receipts
never exceed it, and the balances and overdue queries run over the demo."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, func, select

from funnel.access.permissions import SYSTEM
from funnel.closing.payments import contract_balances, overdue_instalments
from funnel.core.db import session_scope
from funnel.demo.generate import generate_demo
from funnel.store.models import Contract, PaymentInstalment


def test_demo_plans_cover_their_contracts_and_receipts_stay_within(engine: Engine) -> None:
    generate_demo(engine, leads=400, seed=42, anchor=date(2026, 6, 30), actor=SYSTEM)
    with session_scope(engine) as session:
        planned = session.execute(
            select(Contract.amount, func.sum(PaymentInstalment.amount))
            .join(PaymentInstalment, PaymentInstalment.contract_id == Contract.id)
            .group_by(Contract.id, Contract.amount)
        ).all()
        assert planned and all(float(amount) == float(total) for amount, total in planned)
        balances = contract_balances(session, actor=SYSTEM)
        assert len(balances) > 0 and (balances["outstanding"] >= 0).all()
        overdue = overdue_instalments(session, today=date(2026, 6, 30))
        assert all(item.amount > 0 for item in overdue)
