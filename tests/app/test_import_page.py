"""Import page: a messy GBK file mapped, corrected, dry-run, imported and its rejects downloaded; bad files
get a clear message; the Olist MQLs through the page keep all 8,000 rows and every channel, routed fairly.

The page runs the engine of `python -m funnel import` (funnel.capture.importer.import_file).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.accounts.users import UserInput, add_user
from funnel.capture.import_parsing import recognise_header
from funnel.capture.routing_rules import parse_rules_toml, replace_rules
from funnel.core.db import session_scope
from funnel.store.models import Customer, User
from tests.app.helpers import open_page

IMPORT = "pages/import_leads.py"
AppAs = Callable[[str], AppTest]

# Chinese and odd headers; 跟进人 reads as the owner until corrected, 联络微信 is matched to nothing.
MESSY = """客户名称, Company Name ,手机号码,E-mail,来源,创建日期,阶段,跟进人,联络微信
张三,上海星辰科技,138 0013 8000,ZS@Example.cn,展会,2024-03-01,初步沟通,老王,zhangsan_wx
李四,杭州云帆,13900139000,,官网,2024-13-45,MQL,老王,
王五,苏州远山,12345,,公众号,2024-03-03,MQL,老王,
张三丰,上海星辰科技,+86 13800138000,,展会,2024-03-04,MQL,老王,
赵六,南京青木,13700137000,zl@example.cn,直播,2024/3/5,需求确认,老王,zhaoliu_wx
"""


def upload(app: AppTest, name: str, data: bytes) -> AppTest:
    return app.file_uploader(key="import_upload").set_value((name, data, "text/csv")).run()


def editor_key(app: AppTest, prefix: str) -> str:
    (key,) = [e.key for e in app.data_editor if e.key and e.key.startswith(prefix)]
    return key


def edit(app: AppTest, prefix: str, rows: dict[int, dict[str, str]]) -> AppTest:
    """Change cells of a data editor as a user would (AppTest takes the editor's edit state)."""
    app.session_state[editor_key(app, prefix)] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    return app.run()


def table(app: AppTest, prefix: str) -> pd.DataFrame:
    (frame,) = [e.value for e in app.data_editor if e.key and e.key.startswith(prefix)]
    return frame


def shown_table(app: AppTest, kind: str) -> pd.DataFrame:
    """The read-only table the page drew: the "preview" or the "rejected" rows (st.dataframe keeps no key)."""
    frames = [e.value for e in app.dataframe if e.editing_mode == "read_only"]
    found = [f for f in frames if "problems" in f.columns and ("name" in f.columns) == (kind == "preview")]
    assert found, f"no {kind} table"
    return found[0]


def customers(engine: Engine) -> list[Customer]:
    with session_scope(engine) as session:
        rows = list(session.scalars(select(Customer).order_by(Customer.id)))
        session.expunge_all()
        return rows


def test_a_messy_gbk_file_is_matched_corrected_dry_run_imported_and_its_rejects_download(
    app_as: AppAs, app_engine: Engine
) -> None:
    app = open_page(app_as("manager"), IMPORT)
    assert not app.exception
    upload(app, "线索.csv", MESSY.encode("gbk"))
    assert not app.exception and not app.error
    matched = dict(zip(table(app, "import_columns").column, table(app, "import_columns").field, strict=True))
    assert matched == {
        "客户名称": "name",
        "Company Name": "company",
        "手机号码": "phone",
        "E-mail": "email",
        "来源": "channel",
        "创建日期": "created_at",
        "阶段": "stage",
        "跟进人": "owner",
        "联络微信": "ignore",
    }
    # Correct the matching: 跟进人 is not to be imported, 联络微信 is the WeChat ID.
    edit(app, "import_columns", {7: {"field": "ignore"}, 8: {"field": "wechat"}})
    stages = table(app, "import_stages")
    assert dict(zip(stages.value, stages.stage, strict=True)) == {
        "初步沟通": "contact",
        "MQL": "",
        "需求确认": "qualify",
    }
    preview = shown_table(app, "preview")
    assert "owner" not in preview.columns
    assert preview.loc[0, "phone"] == "13800138000" and preview.loc[0, "email"] == "zs@example.cn"
    assert preview.loc[0, "wechat"] == "zhangsan_wx"
    assert "MQL" in preview.loc[2, "problems"]  # MQL is no stage until it is mapped
    edit(app, "import_stages", {1: {"stage": "lead"}})
    preview = shown_table(app, "preview")
    assert preview.loc[0, "stage"] == "First contact" and preview.loc[2, "problems"].startswith("phone")
    assert "created_at" in preview.loc[1, "problems"]

    app.button(key="import_dry_run").click().run()
    assert not app.exception and not app.error
    assert "dry run, nothing was written" in app.info[0].value
    assert customers(app_engine) == []
    rejected = shown_table(app, "rejected")
    assert rejected["row"].tolist() == [3, 4, 5]

    app.button(key="import_run").click().run()
    assert not app.exception and not app.error
    stored = customers(app_engine)
    assert [(c.name, c.stage) for c in stored] == [("张三", "contact"), ("赵六", "qualify")]
    with session_scope(app_engine) as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.display_name == "老王")) == 0
    counts = {m.label: m.value for m in app.metric}
    assert counts["Created"] == "2" and counts["Rejected"] == "3"
    rejected = shown_table(app, "rejected")
    reasons = dict(zip(rejected["row"], rejected["problems"], strict=True))
    assert reasons[3].startswith("created_at") and reasons[4].startswith("phone")
    assert "duplicate" in reasons[5].casefold() or "already" in reasons[5].casefold()

    # The rejected rows file: the file's own columns, then the row and the reasons; fixed, it imports.
    (download,) = app.get("download_button")
    assert download.proto.label.startswith("Download the rejected rows")
    data = app.session_state["import_result"][2]  # the bytes the download button serves
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert list(back.columns)[:9] == ["客户名称", "Company Name", "手机号码", "E-mail", "来源", "创建日期",
                                      "阶段", "跟进人", "联络微信"]  # fmt: skip
    assert back["客户名称"].tolist() == ["李四", "王五", "张三丰"]
    assert back.iloc[:, -2].tolist() == ["3", "4", "5"]
    assert all(recognise_header(header) is None for header in back.columns[-2:])
    back.loc[0, "创建日期"] = "2024-03-02"
    back.loc[1, "手机号码"] = "13600136000"
    fixed = back.iloc[:2].drop(columns=["联络微信"]).to_csv(index=False).encode("utf-8")
    app.selectbox(key="import_name_from").set_value("联络微信").run()  # a column the next file lacks
    upload(app, "fixed.csv", fixed)
    assert not app.exception and app.selectbox(key="import_name_from").value == ""
    edit(app, "import_columns", {7: {"field": "ignore"}})
    edit(app, "import_stages", {0: {"stage": "lead"}})
    app.button(key="import_run").click().run()
    assert not app.exception and not app.error
    assert [c.name for c in customers(app_engine)] == ["张三", "赵六", "李四", "王五"]


@pytest.mark.parametrize(
    ("name", "data", "english", "chinese"),
    [
        ("leads.pdf", b"%PDF-1.4", "is not a CSV or .xlsx file", "不是 CSV 或 .xlsx 文件"),
        ("leads.csv", "姓名,电话\n".encode(), "has no data rows", "没有数据行"),
        ("leads.csv", b"", "has no data rows", "没有数据行"),
        ("leads.csv", bytes(range(256)) * 40, "could not be decoded", "无法识别文件编码"),
        ("leads.xlsx", b"PK\x03\x04 not really a workbook", "could not be read as a spreadsheet", "无法"),
    ],
)
def test_a_file_that_cannot_be_imported_gets_a_clear_message_in_either_language(
    app_as: AppAs, name: str, data: bytes, english: str, chinese: str
) -> None:
    app = open_page(app_as("manager"), IMPORT)
    upload(app, name, data)
    assert not app.exception
    assert english in app.error[0].value
    app.radio(key="lang").set_value("zh").run()
    assert not app.exception
    assert chinese in app.error[0].value


def test_an_excel_file_without_rows_gets_a_clear_message(app_as: AppAs) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["姓名", "手机"])
    buffer = io.BytesIO()
    book.save(buffer)
    app = open_page(app_as("admin"), IMPORT)
    upload(app, "empty.xlsx", buffer.getvalue())
    assert not app.exception
    assert "has no data rows" in app.error[0].value


def test_reps_do_not_see_the_import_page(app_as: AppAs) -> None:
    for role in ("rep", "leader", "delivery"):
        app = app_as(role)
        app.run()
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app.switch_page(IMPORT)


OLIST_RULES = """
[[rule]]
name = "search"
channel = ["organic_search", "paid_search"]
team = "search"
method = "round_robin"

[[rule]]
name = "everything else"
team = "field"
method = "round_robin"
"""


@pytest.mark.slow  # 8,000 rows imported and routed through the page
def test_the_olist_leads_through_the_page_keep_every_row_and_channel_and_round_robin_within_one(
    app_as: AppAs, app_engine: Engine, datasets: Path
) -> None:
    path = datasets / "olist_marketing_funnel" / "olist_marketing_qualified_leads_dataset.csv"
    mqls = pd.read_csv(path)
    with session_scope(app_engine) as session:
        for team in ("search", "field"):
            for i in range(1, 4):
                add_user(session, UserInput(username=f"{team}{i}", team=team), password=None, actor=SYSTEM)
        replace_rules(session, actor=SYSTEM, rule_set=parse_rules_toml(OLIST_RULES))
    app = open_page(app_as("manager"), IMPORT)
    upload(app, path.name, path.read_bytes())
    assert not app.exception and not app.error
    assert "No column is read as the lead's name" in app.warning[0].value
    app.selectbox(key="import_name_from").set_value("mql_id").run()
    fields = table(app, "import_columns")
    assert fields.column.tolist() == [*mqls.columns, "name (mql_id)"]
    edit(app, "import_columns", {0: {"field": "external_id"}, 1: {"field": "created_at"}})
    preview = shown_table(app, "preview")
    assert preview.loc[0, "name"] == mqls.loc[0, "mql_id"] and preview.loc[0, "problems"] == ""
    app.button(key="import_run").click().run(timeout=600)
    assert not app.exception and not app.error

    with session_scope(app_engine) as session:
        stored = Counter(session.scalars(select(Customer.channel)))
        owners = Counter(session.scalars(select(Customer.owner_id)))
        teams = {
            team: [u.id for u in session.scalars(select(User).where(User.team == team).order_by(User.id))]
            for team in ("search", "field")
        }
    assert sum(stored.values()) == len(mqls) == 8000
    expected = Counter(mqls["origin"].fillna("<none>"))
    assert {(k or "<none>"): v for k, v in stored.items()} == expected
    assert owners[None] == 0
    spreads = {}
    for team, ids in teams.items():
        counts = [owners[uid] for uid in ids]
        spreads[team] = max(counts) - min(counts)
        print(f"olist round robin, team {team}: leads per rep {counts}, spread {spreads[team]}")
    assert all(spread <= 1 for spread in spreads.values()), spreads


def test_an_excel_file_imports_with_its_dates_and_numbers_and_its_rejects_download_as_text(
    app_as: AppAs, app_engine: Engine
) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "手机", "创建时间", "金额"])
    sheet.append(["陈一", 13500135000, datetime(2024, 5, 6, 9, 30), 12000])
    sheet.append(["陈二", 135001350, datetime(2024, 5, 7), "十二万"])
    buffer = io.BytesIO()
    book.save(buffer)
    app = open_page(app_as("admin"), IMPORT)
    app.file_uploader(key="import_upload").set_value(
        ("leads.xlsx", buffer.getvalue(), "application/vnd.ms-excel")
    )
    app.run()
    assert not app.exception and not app.error
    preview = shown_table(app, "preview")
    assert preview.loc[0, "phone"] == "13500135000" and preview.loc[0, "amount"] == "12000.00"
    app.button(key="import_run").click().run()
    assert not app.exception and not app.error
    assert [c.name for c in customers(app_engine)] == ["陈一"]
    back = pd.read_csv(io.BytesIO(app.session_state["import_result"][2]), encoding="utf-8-sig", dtype=str)
    assert back.loc[0, "手机"] == "135001350" and back.loc[0, "创建时间"] == "2024-05-07 00:00:00"
    reasons = back.iloc[0, -1]
    assert "phone" in reasons and "amount" in reasons


def test_a_database_failure_mid_import_says_how_far_it_got_and_shows_no_traceback(
    app_as: AppAs, app_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    import funnel.capture.importer as importer

    rows = "\n".join(f"Lead {i},139{i:08d}" for i in range(1500))
    original, calls = importer.store_leads, []

    def fail_second_batch(*args: object, **kwargs: object) -> list[int]:
        calls.append(len(args[1]))  # type: ignore[arg-type]
        if len([n for n in calls if n]) == 2:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importer, "store_leads", fail_second_batch)
    app = open_page(app_as("manager"), IMPORT)
    upload(app, "big.csv", f"name,phone\n{rows}\n".encode())
    app.button(key="import_run").click().run()
    assert not app.exception
    (error,) = app.error
    assert error.value.startswith("The database failed during the import")
    assert "1000 rows read, 1000 leads created" in error.value
    assert len(customers(app_engine)) == 1000
