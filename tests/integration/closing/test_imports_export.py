"""The data factory in and out: `import --kind opportunities|contracts|payments` with bad rows and
re-import, `export merged` (CSV / JSON, --as), and the report JSON's `entities`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from funnel.cli.main import main
from funnel.core.db import session_factory
from funnel.store.models import Contract, Customer, Notification, Opportunity, Payment, User
from tests.integration.closing.helpers import customer


@pytest.fixture
def two_customers(session: Session, role_users: dict[str, User]) -> tuple[str, str]:
    first = customer(session, role_users["rep"], external_id="CRM-A")
    second = customer(session, role_users["rep2"])
    session.commit()
    return first.customer_no, second.customer_no


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def count(engine: Engine, model: type) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_three_imports_report_bad_rows_and_update_on_reimport(
    engine: Engine, two_customers: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two_customers
    opportunities = write(
        tmp_path,
        "opps.csv",
        "客户编号,外部编号,商机名称,金额,预计成交日期,赢率\n"
        f"{first},O1,ERP,120000,2026-12-31,60%\n"
        f'{second},O2,CRM,"80,000",2027-01-15,\n'
        "NOPE,O3,x,10,,\n"
        f"{first},O4,y,abc,2026-13-01,\n",
    )
    code, out = run(capsys, "import", "--kind", "opportunities", opportunities)
    assert code == 1
    assert "row 4 rejected" in out and "NOPE" in out and "row 5 rejected" in out
    assert "opportunities: 2 created, 0 updated, 2 rejected" in out
    contracts = write(
        tmp_path,
        "contracts.csv",
        "customer_external_id,external_id,contract_no,amount,signed_at,status\n"
        "CRM-A,C1,HT-1,100000,2026-11-02,signed\n"
        "CRM-A,C2,HT-2,5000,,draft\n"
        "CRM-A,C3,HT-3,5000,,signed\n"
        "CRM-A,C4,HT-4,5000,2026-11-02,maybe\n",
    )
    code, out = run(capsys, "import", "--kind", "contracts", contracts)
    assert code == 1 and "contracts: 2 created, 0 updated, 2 rejected" in out
    payments = write(
        tmp_path,
        "payments.csv",
        "客户编号,外部编号,合同外部编号,回款金额,回款日期\n"
        f"{first},P1,C1,30000,2026-11-20\n"
        f"{first},P2,C2,100,2026-11-20\n"
        f"{first},P3,C1,999999,2026-11-20\n"
        f"{first},P4,C1,10,\n",
        encoding="gb18030",
    )
    code, out = run(capsys, "import", "--kind", "payments", payments)
    assert code == 1 and "payments: 1 created, 0 updated, 3 rejected" in out
    with session_factory(engine)() as session:
        won = session.scalars(select(Customer).where(Customer.external_id == "CRM-A")).one()
        assert won.status == "won"  # the signed contract went through the signing path
        assert session.scalar(select(func.count()).select_from(Notification)) == 0  # history: nobody told
    # The same files again (one row corrected) update instead of doubling.
    write(tmp_path, "opps.csv", f"客户编号,外部编号,金额\n{first},O1,150000\n")
    code, out = run(capsys, "import", "--kind", "opportunities", str(tmp_path / "opps.csv"))
    assert code == 0 and "0 created, 1 updated" in out
    code, out = run(capsys, "import", "--kind", "payments", payments)
    assert "0 created, 1 updated" in out
    assert (count(engine, Opportunity), count(engine, Contract), count(engine, Payment)) == (2, 2, 1)


def test_export_merged_and_report_entities_for_the_same_customers(
    engine: Engine, two_customers: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two_customers
    run(
        capsys,
        "import",
        "--kind",
        "opportunities",
        write(tmp_path, "o.csv", f"customer_no,external_id,amount\n{first},O1,120000\n{second},O2,80000\n"),
    )
    run(
        capsys,
        "import",
        "--kind",
        "contracts",
        write(tmp_path, "c.csv", f"customer_no,external_id,amount,signed_at\n{first},C1,100000,2026-11-02\n"),
    )
    run(
        capsys,
        "import",
        "--kind",
        "payments",
        write(
            tmp_path,
            "p.csv",
            f"customer_no,external_id,contract_external_id,amount,paid_at\n{first},P1,C1,30000,2026-11-20\n",
        ),
    )
    code, out = run(capsys, "export", "merged")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "customer_no", "external_id", "name", "channel", "owner", "stage", "status", "opportunities",
        "opportunity_amount", "contracts", "contract_amount", "paid_amount", "outstanding",
    ]  # fmt: skip
    by_no = {row["customer_no"]: row for row in rows}
    assert by_no[first]["contract_amount"] == "100000.0" and by_no[first]["outstanding"] == "70000.0"
    assert by_no[first]["owner"] == "rep" and by_no[second]["contracts"] == "0"
    code, out = run(capsys, "export", "merged", "--format", "json", "--as", "rep2")
    assert [row["customer_no"] for row in json.loads(out)] == [second]
    code, out = run(capsys, "report", "--format", "json")
    assert json.loads(out)["entities"] == {
        "customers": 2, "with_opportunity": 2, "with_contract": 1, "with_payment": 1,
        "opportunity_amount": 200000.0, "contract_amount": 100000.0, "paid_amount": 30000.0,
    }  # fmt: skip
    code, out = run(capsys, "report", "--format", "json", "--as", "rep2")
    assert json.loads(out)["entities"]["customers"] == 1
    assert json.loads(out)["entities"]["with_contract"] == 0


def test_import_without_kind_is_still_the_lead_import(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out = run(capsys, "import", write(tmp_path, "leads.csv", "name,email\nAda,ada@example.com\n"))
    assert code == 0 and count(engine, Customer) == 1
