"""The import end to end: files on disk, the CLI, re-imports, owners, odd data, dry runs, permissions."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select

from funnel.access.permissions import SYSTEM
from funnel.accounts.users import Actor, update_user
from funnel.capture.importer import import_file, import_rows
from funnel.cli.main import main
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.store.models import AuditLog, Contact, Customer, Opportunity, StageEvent, User

CHINESE_HEADER = ["外部编号", "姓名", "公司", "手机", "渠道", "阶段", "负责人", "金额", "创建时间"]
CHINESE_ROWS = [
    ["c-1", "张三", "华为", "13800138000", "官网", "初步沟通", "王五", "1000", "2024-03-01 09:30:00"],
    ["c-2", "李四", "腾讯", "13800138001", "展会", "需求确认", "王五", "", "2024-03-02"],
    ["c-3", "赵六", "", "13800138002", "官网", "赢单", "", "5000", "2024/3/3"],
]


def _write_csv(path: Path, header: list[str], rows: list[list[object]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        csv.writer(out).writerows([header, *rows])
    return path


def _write_xlsx(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    book = Workbook()
    for row in [header, *rows]:
        book.active.append(row)
    book.save(path)
    return path


def _count(engine: Engine, model: type, *where: object) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _counts(engine: Engine) -> dict[str, int]:
    models = {"customers": Customer, "contacts": Contact, "events": StageEvent, "deals": Opportunity}
    models |= {"audit": AuditLog, "users": User}
    return {name: _count(engine, model) for name, model in models.items()}


@pytest.mark.parametrize("kind", ["utf-8", "utf-8-sig", "gbk", "xlsx"])
def test_utf8_bom_gbk_and_excel_files_import_the_same_leads(engine, tmp_path, kind):
    if kind == "xlsx":
        path = _write_xlsx(tmp_path / "leads.xlsx", CHINESE_HEADER, CHINESE_ROWS)
    else:
        path = _write_csv(tmp_path / "leads.csv", CHINESE_HEADER, CHINESE_ROWS, encoding=kind)

    report = import_file(engine, path, actor=SYSTEM)

    assert (report.created, report.rejected, report.new_owners) == (3, [], ["王五"])
    with session_scope(engine) as s:
        customers = {c.external_id: c for c in s.scalars(select(Customer))}
        assert {k: (c.name, c.stage, c.status, c.channel) for k, c in customers.items()} == {
            "c-1": ("张三", "contact", "open", "官网"),
            "c-2": ("李四", "qualify", "open", "展会"),
            "c-3": ("赵六", "won", "won", "官网"),
        }
        assert customers["c-1"].created_at == datetime(2024, 3, 1, 9, 30)
        assert customers["c-3"].created_at == datetime(2024, 3, 3)
        assert sorted(s.scalars(select(Opportunity.amount))) == [Decimal("1000"), Decimal("5000")]


def test_excel_dates_and_numeric_cells_import_as_dates_and_text(engine, tmp_path):
    row = ["A", 13800138000, datetime(2018, 2, 1), datetime(2018, 2, 26, 19, 58, 54), 99.5]
    path = _write_xlsx(tmp_path / "x.xlsx", ["name", "phone", "created_at", "won_at", "amount"], [row])

    assert import_file(engine, path, actor=SYSTEM).created == 1
    with session_scope(engine) as s:
        customer = s.scalars(select(Customer)).one()
        assert (customer.status, customer.closed_at) == ("won", datetime(2018, 2, 26, 19, 58, 54))
        assert s.scalars(select(Contact.phone)).one() == "13800138000"


def test_traditional_chinese_headers_and_stage_names_import(engine, tmp_path):
    header = ["外部編號", "姓名", "手機", "來源", "階段", "地區", "行業", "標籤", "等級"]
    header += ["郵箱", "狀態", "輸單原因"]
    row = ["t-1", "陳大文", "13912345678", "轉介", "方案呈現", "香港", "零售", "VIP", "a"]
    row += ["chan@example.com", "輸單", "價格"]
    path = _write_csv(tmp_path / "trad.csv", header, [row])

    assert import_file(engine, path, actor=SYSTEM).created == 1
    with session_scope(engine) as s:
        c = s.scalars(select(Customer)).one()
    expected = ("proposal", "lost", "價格", "香港", "零售", "VIP", "A", "轉介")
    assert (c.stage, c.status, c.lost_reason, c.region, c.industry, c.tags, c.grade, c.channel) == expected


def test_rejected_rows_are_printed_with_spreadsheet_row_numbers_and_exit_1(engine, tmp_path, capsys):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "name,phone,email,amount,created_at,extra\n"  # row 1
        "Good One,13800138000,,,,x\n"  # row 2
        "Bad Phone,123,,,,\n"  # row 3
        "\n"  # row 4: blank, still counted
        ",13800138001,,,,\n"  # row 5: no name
        "Bad Amount,,a@example.com,lots,,\n"  # row 6
        "Bad Date,,b@example.com,,26/02/2018,\n"  # row 7
        "Good Two,,c@example.com,12,2024-01-01,\n",  # row 8
        encoding="utf-8",
    )

    code = main(["import", str(path)])

    out = capsys.readouterr().out
    rejected = [line for line in out.splitlines() if " rejected: " in line]
    assert code == 1
    assert [line.split(" rejected")[0] for line in rejected] == ["row 3", "row 5", "row 6", "row 7"]
    assert 'row 3 rejected: phone: "123" is not a valid phone number' in out
    assert "row 5 rejected: name: This field is required." in out
    assert 'row 6 rejected: amount: Amount "lots" is not a non-negative number.' in out
    assert "row 7 rejected: created_at:" in out
    assert "ignored columns (not recognised): extra" in out
    assert out.strip().splitlines()[-1] == (
        "imported 2 rows: 2 created, 0 updated, 0 unchanged; 4 rejected; 0 warnings"
    )
    assert _count(engine, Customer) == 2


def test_a_clean_file_exits_0(engine, tmp_path, capsys):
    path = _write_csv(tmp_path / "ok.csv", ["name", "phone"], [["A", "13800138000"]])

    assert main(["import", str(path)]) == 0
    assert (
        capsys.readouterr().out.strip().endswith("1 created, 0 updated, 0 unchanged; 0 rejected; 0 warnings")
    )


@pytest.mark.parametrize(
    ("name", "content", "args", "message"),
    [
        ("nope.csv", None, [], "File not found"),
        ("leads.pdf", b"name\nA\n", [], "is not a CSV or .xlsx file"),
        ("empty.csv", b"", [], "has no data rows"),
        ("header.csv", b"name,phone\n", [], "has no data rows"),
        ("binary.csv", b"\x00\x01\xff\xfe\x00\x00", [], "could not be decoded"),
        ("broken.xlsx", b"PK not really", [], "could not be read as a spreadsheet"),
        ("noname.csv", b"phone,email\n13800138000,\n", [], "No column holds the lead's name"),
        ("ok.csv", b"name,phone\nA,13800138000\n", ["--map", "nothing"], "--map needs SOURCE=TARGET"),
        ("ok.csv", b"name,phone\nA,13800138000\n", ["--map", "phone=nickname"], "not an import field"),
        ("ok.csv", b"name,phone\nA,13800138000\n", ["--map", "origin=channel"], 'column "origin"'),
        ("ok.csv", b"name,phone\nA,13800138000\n", ["--stage-map", "MQL=nowhere"], "not a stage"),
    ],
)
def test_bad_files_and_options_give_one_line_and_exit_2(
    engine, tmp_path, capsys, name, content, args, message
):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    code = main(["import", str(path), *args])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert _count(engine, Customer) == 0


REIMPORT_HEADER = [
    "external_id",
    "name",
    "phone",
    "email",
    "stage",
    "contact_at",
    "amount",
    "owner",
    "created_at",
]
REIMPORT_ROWS = [
    ["x-1", "Alpha", "13800138000", "", "contact", "2024-01-03", "100", "Li Lei", "2024-01-01"],
    ["x-2", "Beta", "", "beta@example.com", "proposal", "2024-01-04", "250.50", "", "2024-01-02"],
    ["x-3", "Gamma", "13800138002", "", "", "", "", "", "2024-01-02"],
]


def test_importing_the_same_file_twice_doubles_nothing(engine, tmp_path):
    path = _write_csv(tmp_path / "again.csv", REIMPORT_HEADER, REIMPORT_ROWS)
    first = import_file(engine, path, actor=SYSTEM)
    after_first = _counts(engine)

    second = import_file(engine, path, actor=SYSTEM)

    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    assert (second.created, second.updated, second.unchanged, second.rejected) == (0, 0, 3, [])
    assert second.new_owners == []
    assert _counts(engine) == after_first
    assert after_first["customers"] == 3 and after_first["contacts"] == 3 and after_first["deals"] == 2


def test_tags_written_another_way_are_no_update_but_different_tags_are(engine, tmp_path):
    # The stored display copy reads 'hot, expo'; a file saying 'hot;expo' or 'expo、HOT' changes nothing.
    header = ["external_id", "name", "phone", "tags"]
    first = import_file(
        engine,
        _write_csv(tmp_path / "t1.csv", header, [["t-1", "Delta", "13800138009", "hot;expo"]]),
        actor=SYSTEM,
    )
    same = import_file(
        engine,
        _write_csv(tmp_path / "t2.csv", header, [["t-1", "Delta", "13800138009", "expo、HOT"]]),
        actor=SYSTEM,
    )
    other = import_file(
        engine,
        _write_csv(tmp_path / "t3.csv", header, [["t-1", "Delta", "13800138009", "hot;vip"]]),
        actor=SYSTEM,
    )
    assert [(r.created, r.updated, r.unchanged) for r in (first, same, other)] == [
        (1, 0, 0),
        (0, 0, 1),
        (0, 1, 0),
    ]
    with session_scope(engine) as s:
        assert s.scalars(select(Customer.tags).where(Customer.external_id == "t-1")).one() == "hot, vip"


def test_a_known_external_id_updates_fields_history_and_amount_once(engine, tmp_path):
    import_file(engine, _write_csv(tmp_path / "v1.csv", REIMPORT_HEADER, REIMPORT_ROWS), actor=SYSTEM)
    header = ["external_id", "name", "company", "stage", "proposal_at", "amount", "email"]
    changed = [["x-1", "Alpha Ltd", "Alpha Co", "proposal", "2024-02-01", "900", "alpha@example.com"]]
    path = _write_csv(tmp_path / "v2.csv", header, changed)

    reports = [import_file(engine, path, actor=SYSTEM), import_file(engine, path, actor=SYSTEM)]

    assert [(r.created, r.updated, r.unchanged) for r in reports] == [(0, 1, 0), (0, 0, 1)]
    with session_scope(engine) as s:
        c = s.scalars(select(Customer).where(Customer.external_id == "x-1")).one()
        events = s.execute(
            select(StageEvent.to_stage, StageEvent.at).where(StageEvent.customer_id == c.id)
        ).all()
        deals = s.scalars(select(Opportunity.amount).where(Opportunity.customer_id == c.id)).all()
        contacts = s.scalars(select(Contact).where(Contact.customer_id == c.id)).all()
        updates = s.scalars(select(AuditLog).where(AuditLog.action == "import_update")).all()
        assert (c.name, c.company, c.stage, c.status) == ("Alpha Ltd", "Alpha Co", "proposal", "open")
        assert (
            c.owner is not None and c.owner.display_name == "Li Lei"
        )  # not cleared by a file without owners
        assert sorted(events) == [
            ("contact", datetime(2024, 1, 3)),
            ("lead", datetime(2024, 1, 1)),
            ("proposal", datetime(2024, 2, 1)),
        ]
        assert deals == [Decimal("900")]
        assert [(x.phone, x.email) for x in contacts] == [("13800138000", "alpha@example.com")]
        assert len(updates) == 1 and updates[0].changes["amount"] == [100.0, 900.0]


def test_every_create_and_update_writes_an_audit_row(engine, tmp_path):
    import_file(engine, _write_csv(tmp_path / "a.csv", REIMPORT_HEADER, REIMPORT_ROWS), actor=SYSTEM)
    renamed = [["x-1", "A2"], ["x-2", "B2"]]
    import_file(engine, _write_csv(tmp_path / "b.csv", ["external_id", "name"], renamed), actor=SYSTEM)

    with session_scope(engine) as s:
        actions = s.execute(select(AuditLog.action, AuditLog.entity)).all()
    assert sorted(actions) == sorted(
        [("create", "customer")] * 3 + [("import_create", "user")] + [("import_update", "customer")] * 2
    )


def test_a_repeated_external_id_in_one_file_updates_the_earlier_row_with_a_warning(engine, tmp_path):
    rows = [["r-1", "First", "13800138000", ""], ["r-2", "Other", "13800138001", ""]]
    rows.append(["r-1", "Second", "", "won"])
    path = _write_csv(tmp_path / "dup.csv", ["external_id", "name", "phone", "status"], rows)

    report = import_file(engine, path, actor=SYSTEM)

    assert (report.created, report.updated) == (2, 1)
    assert [(row, w.code, w.params["row"]) for row, w in report.warnings] == [
        (4, "import.warn.repeated_external_id", "2")
    ]
    with session_scope(engine) as s:
        c = s.scalars(select(Customer).where(Customer.external_id == "r-1")).one()
        assert (c.name, c.status) == ("Second", "won")
    assert _count(engine, Contact) == 2


def test_rows_without_external_id_that_repeat_a_contact_are_rejected_naming_the_customer(engine, tmp_path):
    first = import_file(
        engine, _write_csv(tmp_path / "a.csv", ["name", "phone"], [["A", "13800138000"]]), actor=SYSTEM
    )
    rows = [["A again", "138 0013 8000", ""], ["B", "13800138009", "b@x.com"], ["B twin", "", "B@x.com"]]

    report = import_file(
        engine, _write_csv(tmp_path / "b.csv", ["name", "phone", "email"], rows), actor=SYSTEM
    )

    with session_scope(engine) as s:
        existing = s.scalars(select(Customer.customer_no).where(Customer.name == "A")).one()
        created_b = s.scalars(select(Customer.customer_no).where(Customer.name == "B")).one()
    assert first.created == 1 and report.created == 1
    assert [(row, e[0].code, e[0].params) for row, e in report.rejected] == [
        (2, "error.duplicate", {"customer_no": existing}),
        (4, "error.duplicate", {"customer_no": created_b}),
    ]


def test_a_row_without_external_id_is_a_duplicate_of_whoever_holds_its_handle_first(engine, tmp_path):
    # Only rows without an external id are checked (and only their handles looked up): a row with an id
    # sharing a stored customer's phone does not take that phone over in the check of a later row.
    import_file(engine, _write_csv(tmp_path / "a.csv", ["name", "phone"], [["Stored", "13800138100"]]),
                actor=SYSTEM)  # fmt: skip
    rows = [
        ["x-1", "With id", "13800138100", ""],  # shares the stored phone: stored, not checked
        ["x-2", "With id too", "", "new@x.com"],  # a new handle, first held by this row
        ["", "No id", "13800138100", ""],
        ["", "No id either", "", "NEW@x.com"],
    ]

    report = import_file(
        engine, _write_csv(tmp_path / "b.csv", ["external_id", "name", "phone", "email"], rows), actor=SYSTEM
    )

    with session_scope(engine) as s:
        number = dict(s.execute(select(Customer.name, Customer.customer_no)).all())
    assert report.created == 2
    assert [(row, e[0].code, e[0].params) for row, e in report.rejected] == [
        (4, "error.duplicate", {"customer_no": number["Stored"]}),
        (5, "error.duplicate", {"customer_no": number["With id too"]}),
    ]


def test_an_unknown_owner_becomes_an_inactive_rep_and_known_ones_are_matched(engine, tmp_path, capsys):
    with session_scope(engine) as s:
        s.add_all(
            [
                User(username="lilei", display_name="李雷", role="rep"),
                User(username="hanmeimei", display_name="Han Meimei", role="manager"),
            ]
        )
    rows = [["A", "13800138000", "lilei"], ["B", "13800138001", "李雷"], ["C", "13800138002", "han meimei"]]
    rows += [["D", "13800138003", "王五"], ["E", "13800138004", "王五"], ["F", "13800138005", "Zhang San"]]
    path = _write_csv(tmp_path / "owners.csv", ["name", "phone", "负责人"], rows)

    assert main(["import", str(path)]) == 0

    assert capsys.readouterr().out.strip().endswith("new inactive owners: 王五, Zhang San")
    with session_scope(engine) as s:
        owners = dict(
            s.execute(select(Customer.name, User.username).join(User, Customer.owner_id == User.id)).all()
        )
        new = s.scalars(select(User).where(User.is_active.is_(False)).order_by(User.id)).all()
        assert owners == {
            "A": "lilei",
            "B": "lilei",
            "C": "hanmeimei",
            "D": "owner",
            "E": "owner",
            "F": "zhang.san",
        }
        assert [(u.username, u.display_name, u.role, u.is_active) for u in new] == [
            ("owner", "王五", "rep", False),
            ("zhang.san", "Zhang San", "rep", False),
        ]
    # An administrator can activate an owner an import created, whatever its name (the username is valid).
    with session_scope(engine) as s:
        activated = update_user(s, "owner", actor=SYSTEM, is_active=True)
        assert (activated.display_name, activated.is_active) == ("王五", True)


def test_odd_but_real_data_is_kept_and_warned_about_with_row_numbers(engine, tmp_path, capsys):
    header = [
        "name",
        "phone",
        "created_at",
        "contact_at",
        "proposal_at",
        "won_at",
        "status",
        "amount",
        "lost_reason",
    ]
    rows = [
        ["Won early", "13800138000", "2024-03-10", "", "", "2024-03-01", "won", "500", ""],
        ["Out of order", "13800138001", "2024-01-01", "2024-02-01", "2024-01-15", "", "", "", ""],
        ["Lost free", "13800138002", "2024-01-01", "", "", "", "lost", "0", "price"],
    ]
    path = _write_csv(tmp_path / "odd.csv", header, rows)

    code = main(["import", str(path)])

    out = capsys.readouterr().out
    assert code == 0
    assert "row 2 warning: won_at: 2024-03-01 is before created_at 2024-03-10; kept as given." in out
    assert "row 3 warning: proposal_at: 2024-01-15 is before contact_at 2024-02-01; kept as given." in out
    assert "row 4 warning: amount: A lost deal with amount 0; kept as given." in out
    assert "3 created" in out and "3 warnings" in out
    with session_scope(engine) as s:
        won = s.scalars(select(Customer).where(Customer.name == "Won early")).one()
        assert (won.status, won.closed_at, won.created_at) == (
            "won",
            datetime(2024, 3, 1),
            datetime(2024, 3, 10),
        )


def test_a_missing_created_at_means_now(engine, tmp_path):
    before = utcnow()
    import_file(
        engine, _write_csv(tmp_path / "now.csv", ["name", "phone"], [["A", "13800138000"]]), actor=SYSTEM
    )

    with session_scope(engine) as s:
        created = s.scalars(select(Customer.created_at)).one()
    assert before - timedelta(seconds=1) <= created <= utcnow()


def test_a_dry_run_reports_everything_and_writes_nothing(engine, tmp_path, capsys):
    rows = [*REIMPORT_ROWS, ["x-4", "Bad", "123", "", "", "", "", "", ""]]
    path = _write_csv(tmp_path / "dry.csv", REIMPORT_HEADER, rows)

    code = main(["import", str(path), "--dry-run"])

    out = capsys.readouterr().out
    assert code == 1
    assert "row 5 rejected" in out
    assert out.strip().splitlines()[-1] == (
        "dry run, nothing was written: imported 3 rows: 3 created, 0 updated, 0 unchanged; 1 rejected; "
        "0 warnings; new inactive owners: Li Lei"
    )
    assert set(_counts(engine).values()) == {0}


def test_a_rep_imports_leads_as_their_own_and_cannot_update_others(engine, tmp_path):
    import_file(engine, _write_csv(tmp_path / "a.csv", REIMPORT_HEADER, REIMPORT_ROWS), actor=SYSTEM)
    with session_scope(engine) as s:
        rep = User(username="rep1", display_name="Rep One", role="rep")
        s.add(rep)
        s.flush()
        actor = Actor.of(rep)
    rows = [
        {"external_id": "x-1", "name": "Hijack"},
        {"name": "Mine", "phone": "13900000000", "owner": "Li Lei"},
    ]

    with session_scope(engine) as s:
        report = import_rows(s, rows, actor=actor)

    assert report.created == 1
    assert [(row, e[0].code) for row, e in report.rejected] == [(2, "import.error.hidden")]
    with session_scope(engine) as s:
        mine = s.scalars(select(Customer).where(Customer.name == "Mine")).one()
        assert mine.owner_id == actor.user_id
        assert s.scalars(select(Customer.name).where(Customer.external_id == "x-1")).one() == "Alpha"


def test_a_won_customer_stays_won_when_a_later_file_shows_it_open(engine, tmp_path):
    won = _write_csv(
        tmp_path / "won.csv", ["external_id", "name", "email", "status"], [["w-1", "Won Co", "w@x.cn", "won"]]
    )
    import_file(engine, won, actor=SYSTEM)
    stale = ["external_id", "name", "company", "stage"]
    report = import_file(
        engine,
        _write_csv(tmp_path / "stale.csv", stale, [["w-1", "Won Co", "New Co", "proposal"]]),
        actor=SYSTEM,
    )

    assert [(n, w.code) for n, w in report.warnings] == [(2, "import.warn.won_is_final")]
    with session_scope(engine) as s:
        customer = s.scalars(select(Customer).where(Customer.external_id == "w-1")).one()
        assert (customer.status, customer.stage, customer.company) == ("won", "won", "New Co")


def test_progress_is_reported_after_each_batch_with_the_rows_read_so_far(engine, tmp_path, monkeypatch):
    import funnel.capture.importer as importer
    from funnel.access.permissions import SYSTEM as system

    monkeypatch.setattr(importer, "_WRITE_BATCH", 2)
    path = tmp_path / "five.csv"
    path.write_text("name,phone\n" + "".join(f"L{i},1390000000{i}\n" for i in range(5)), encoding="utf-8")
    seen: list[tuple[int, int]] = []

    report = importer.import_file(
        engine, path, actor=system, progress=lambda r: seen.append((r.rows, r.created))
    )

    assert seen == [(2, 2), (4, 4), (5, 5)]
    assert report.created == 5
