"""Import parsing without a database: headers, dates, stage values, rows and file reading."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from funnel.accounts.users import username_for
from funnel.capture.import_parsing import (
    ImportFileError,
    map_headers,
    odd_data_warnings,
    parse_date,
    parse_row,
    read_rows,
    recognise_header,
    resolve_stage_map,
)
from funnel.core.errors import ValidationError
from funnel.pipeline.stages import get_pipeline

LOCALES = Path(__file__).resolve().parents[3] / "funnel" / "core" / "locales"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        # English, any case and spacing
        ("external_id", "external_id"), ("External ID", "external_id"), ("NAME", "name"),
        ("  contact_name ", "contact_name"), ("Phone Number", "phone"), ("E-mail", "email"),
        ("WeChat", "wechat"), ("Source", "channel"), ("Sales Rep", "owner"), ("Created At", "created_at"),
        ("Amount (USD)", "amount"), ("lost reason", "lost_reason"),
        # Simplified Chinese
        ("外部编号", "external_id"), ("姓名", "name"), ("公司", "company"), ("联系人", "contact_name"),
        ("手机", "phone"), ("邮箱", "email"), ("微信", "wechat"), ("渠道", "channel"), ("来源", "channel"),
        ("地区", "region"), ("区域", "region"), ("行业", "industry"), ("负责人", "owner"), ("销售", "owner"),
        ("标签", "tags"), ("等级", "grade"), ("意向等级", "grade"), ("阶段", "stage"), ("状态", "status"),
        ("输单原因", "lost_reason"), ("丢单原因", "lost_reason"), ("金额", "amount"), ("金额（元）", "amount"),
        ("创建时间", "created_at"),
        # Traditional Chinese
        ("外部編號", "external_id"), ("手機", "phone"), ("郵箱", "email"), ("來源", "channel"),
        ("地區", "region"), ("行業", "industry"), ("負責人", "owner"), ("標籤", "tags"), ("等級", "grade"),
        ("階段", "stage"), ("狀態", "status"), ("輸單原因", "lost_reason"), ("金額", "amount"),
        ("創建時間", "created_at"),
        # stage history columns, by key or by stage name in either language
        ("contact_at", "contact_at"), ("Won At", "won_at"), ("won_date", "won_at"), ("lost_at", "lost_at"),
        ("赢单时间", "won_at"), ("贏單時間", "won_at"), ("初步沟通时间", "contact_at"),
        ("需求確認日期", "qualify_at"), ("proposal date", "proposal_at"),
        ("first_contact_date", "contact_at"),  # "First contact" is the English name of `contact`
        # not recognised
        ("landing_page_id", None), ("备注", None), ("", None),
    ],
)  # fmt: skip
def test_headers_in_english_simplified_and_traditional_chinese_are_recognised(header, field):
    assert recognise_header(header) == field


def test_an_explicit_map_wins_and_accepts_a_field_synonym():
    mapping = map_headers(
        ["mql_id", "first_contact_date", "origin", "姓名"],
        {"mql_id": "external_id", "first_contact_date": "created_at", "origin": "渠道"},
    )

    assert mapping == {
        "mql_id": "external_id",
        "first_contact_date": "created_at",
        "origin": "channel",
        "姓名": "name",
    }


def test_a_map_source_matches_headers_case_and_space_insensitively():
    assert map_headers(["Lead ID", "name"], {"lead_id": "external_id"}) == {
        "Lead ID": "external_id",
        "name": "name",
    }


def test_two_columns_for_one_field_keep_the_first():
    assert map_headers(["姓名", "手机", "电话"]) == {"姓名": "name", "手机": "phone"}


@pytest.mark.parametrize(
    ("column_map", "code"),
    [({"missing": "name"}, "import.error.map_source"), ({"name": "nickname"}, "import.error.map_field")],
)
def test_a_bad_map_is_a_file_error(column_map, code):
    with pytest.raises(ImportFileError) as caught:
        map_headers(["name"], column_map)

    assert caught.value.code == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2018-02-26 19:58:54", datetime(2018, 2, 26, 19, 58, 54)),
        ("2018-02-26", datetime(2018, 2, 26)),
        ("2018-02-26T19:58:54", datetime(2018, 2, 26, 19, 58, 54)),
        ("2018-02-26 19:58", datetime(2018, 2, 26, 19, 58)),
        ("2018-02-26 19:58:54.123", datetime(2018, 2, 26, 19, 58, 54)),
        ("2018/2/6", datetime(2018, 2, 6)),
        ("2018.02.26 08:30", datetime(2018, 2, 26, 8, 30)),
        ("2018年2月26日", datetime(2018, 2, 26)),
        ("2018-02-26T19:58:54+08:00", datetime(2018, 2, 26, 11, 58, 54)),
        ("2018-02-26 19:58:54Z", datetime(2018, 2, 26, 19, 58, 54)),
        (" 2018-02-26 ", datetime(2018, 2, 26)),
        (datetime(2018, 2, 26, 19, 58, 54), datetime(2018, 2, 26, 19, 58, 54)),  # an Excel date cell
        (date(2018, 2, 26), datetime(2018, 2, 26)),
        ("", None),
        (None, None),
    ],
)
def test_dates_are_parsed_in_the_usual_formats(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["26/02/2018", "02/26/2018", "2018-02-30", "2018-13-01", "yesterday", 43157])
def test_ambiguous_or_impossible_dates_are_refused(raw):
    with pytest.raises(ValueError):
        parse_date(raw)


def _row(stage_map: dict[str, str] | None = None, **values: object):
    values = {"name": "Wang", "phone": "13800138000", **values}
    pipeline = get_pipeline()
    return parse_row(2, values, stage_map=resolve_stage_map(stage_map, pipeline), pipeline=pipeline)


@pytest.mark.parametrize(
    ("values", "stage", "status"),
    [
        ({"stage": "qualify"}, "qualify", "open"),
        ({"stage": "需求确认"}, "qualify", "open"),
        ({"stage": "需求確認"}, "qualify", "open"),
        ({"stage": "Needs qualified"}, "qualify", "open"),
        ({"stage": "赢单"}, "won", "won"),
        ({"stage": "proposal", "status": "closed lost", "lost_reason": "price"}, "proposal", "lost"),
        ({"stage": "contact", "status": "进行中"}, "contact", "open"),
        ({"stage": "MQL"}, "lead", "open"),
        ({"stage": "SQL"}, "qualify", "open"),
        ({"status": "Closed"}, "won", "won"),
        ({}, "lead", "open"),
    ],
)
def test_stage_values_are_keys_names_in_either_language_or_mapped(values, stage, status):
    row = _row({"MQL": "lead", "sql": "需求确认", "closed": "won"}, **values)

    assert (row.cleaned.stage, row.cleaned.status) == (stage, status)


def test_an_unknown_stage_value_is_a_row_error():
    with pytest.raises(ValidationError) as caught:
        _row(stage="somewhere")

    assert [(e.field, e.code) for e in caught.value.errors] == [("stage", "error.stage_unknown")]


def test_every_problem_of_a_row_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        _row(name="", phone="123", amount="lots", created_at="26/02/2018", won_at="soon", grade="Z")

    assert {(e.field, e.code) for e in caught.value.errors} == {
        ("name", "error.required"),
        ("phone", "error.phone_invalid"),
        ("amount", "error.amount_invalid"),
        ("created_at", "error.date_invalid"),
        ("won_at", "error.date_invalid"),
        ("grade", "error.grade_invalid"),
    }


def test_an_over_long_value_is_a_row_error_not_a_database_error():
    with pytest.raises(ValidationError) as caught:
        _row(company="x" * 201)

    assert [(e.field, e.code) for e in caught.value.errors] == [("company", "error.too_long")]


def test_a_row_with_an_external_id_needs_no_contact_but_one_without_does():
    assert _row(phone=None, external_id="mql-1").cleaned.phone is None
    with pytest.raises(ValidationError):
        _row(phone=None)


def test_stage_dates_become_the_history_and_excel_numbers_stay_text():
    dates = {"created_at": "2024-01-02", "contact_at": "2024-01-03", "won_at": "2024-02-01"}
    row = _row(phone=13800138000.0, amount=1200.5, **dates)

    assert row.cleaned.phone == "13800138000"
    assert row.cleaned.amount == Decimal("1200.5")
    assert list(row.cleaned.history) == [
        ("lead", datetime(2024, 1, 2)),
        ("contact", datetime(2024, 1, 3)),
        ("won", datetime(2024, 2, 1)),
    ]


@pytest.mark.parametrize(
    ("values", "codes"),
    [
        ({"created_at": "2024-01-05", "won_at": "2024-01-01"}, ["import.warn.before_created"]),
        (
            {"created_at": "2024-01-01", "contact_at": "2024-02-01", "proposal_at": "2024-01-15"},
            ["import.warn.date_order"],
        ),
        ({"status": "lost", "lost_reason": "price", "amount": "0"}, ["import.warn.zero_amount"]),
        ({"created_at": "2999-01-01"}, ["import.warn.future"]),
        ({"created_at": "2024-01-01", "contact_at": "2024-01-02", "won_at": "2024-03-01"}, []),
    ],
)
def test_odd_but_real_data_is_kept_with_a_warning(values, codes):
    assert [w.code for w in odd_data_warnings(_row(**values))] == codes


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        ("姓名,手机\n张三,13800138000\n".encode(), "a.csv"),
        ("姓名,手机\n张三,13800138000\n".encode("utf-8-sig"), "a.csv"),
        ("姓名,手机\n张三,13800138000\n".encode("gbk"), "a.csv"),
        ("姓名,手机\n张三,13800138000\n".encode("gb18030"), "a.CSV"),
        ("姓名,手机\n张三,13800138000\n".encode("utf-16"), "a.csv"),
        ("姓名;手机\n张三;13800138000\n".encode(), "a.csv"),
        ("姓名\t手机\n张三\t13800138000\n".encode(), "a.tsv"),
        ("姓名,手机\r\n张三,13800138000\r\n\r\n".encode(), "a.csv"),
        (_xlsx([["姓名", "手机"], ["张三", "13800138000"], [None, None]]), "a.xlsx"),
    ],
    ids=["utf8", "utf8-bom", "gbk", "gb18030", "utf16", "semicolon", "tab", "crlf", "xlsx"],
)
def test_files_in_every_supported_encoding_read_the_same(data, filename):
    assert read_rows(data, filename) == (["姓名", "手机"], [{"姓名": "张三", "手机": "13800138000"}])


def test_blank_rows_are_kept_so_row_numbers_match_the_spreadsheet():
    _headers, rows = read_rows(b"name,phone\na,1\n\nb,2\n", "a.csv")

    assert [row["name"] for row in rows] == ["a", None, "b"]


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"name\n", "a.pdf", "import.error.file_type"),
        (b"name\n", "a.xls", "import.error.file_type"),
        (b"", "a.csv", "import.error.empty"),
        (b"\n\n", "a.csv", "import.error.empty"),
        (b"name,phone\n", "a.csv", "import.error.empty"),
        (b"\x00\x01\x02\xff\xfe\x00", "a.csv", "import.error.encoding"),
        (b"\xff\xff\xff\xff", "a.csv", "import.error.encoding"),
        (b"not a zip", "a.xlsx", "import.error.unreadable"),
    ],
)
def test_bad_files_are_one_clear_error(data, filename, code):
    with pytest.raises(ImportFileError) as caught:
        read_rows(data, filename)

    assert caught.value.code == code


def test_a_missing_path_is_a_file_error(tmp_path):
    with pytest.raises(ImportFileError) as caught:
        read_rows(tmp_path / "nope.csv")

    assert caught.value.code == "import.error.missing"


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("Li Lei", set(), "li.lei"),
        ("王五", set(), "owner"),  # only [a-z0-9._-] usernames can sign in (and be activated)
        ("王五", {"owner"}, "owner2"),
        ("Li Lei", {"li.lei"}, "li.lei2"),
        ("!!", set(), "owner"),
    ],
)
def test_usernames_are_derived_from_owner_names(name, taken, expected):
    assert username_for(name, taken) == expected


def test_import_messages_exist_in_both_languages():
    english, chinese = (
        json.loads((LOCALES / lang / "import.json").read_text("utf-8")) for lang in ("en", "zh")
    )

    assert english.keys() == chinese.keys()


# The hardening issue: Big5, Shift-JIS and Windows-1252 files imported as GB18030 mojibake with exit 0.
FOREIGN = {
    "big5": "姓名,手機,公司\n陳大文,13912345678,香港零售有限公司\n李小龍,13912345679,台灣科技股份有限公司\n",
    "shift_jis": "名前,電話,会社\n山田太郎,13912345678,株式会社トヨタ\n佐藤花子,13912345679,ソニー株式会社\n",
    "cp1252": "name,phone,company\nJosé Müller,13912345678,Café Société\nFrançois Lefèvre,13912345679,Crème brûlée SA\n",
}


@pytest.mark.parametrize("encoding", sorted(FOREIGN))
def test_big5_shift_jis_and_windows_1252_files_read_as_written_not_as_gb18030(encoding):
    text = FOREIGN[encoding]
    lines = [line.split(",") for line in text.splitlines()]

    headers, rows = read_rows(text.encode(encoding), "a.csv")

    assert headers == lines[0]
    assert [list(row.values()) for row in rows] == lines[1:]


@pytest.mark.parametrize(
    "data",
    [
        b"name,phone\n" + bytes(range(0x80, 0xA8)) + b",13800138000\n",  # random high bytes
        "name,phone\nJosé,13800138000\n".encode("latin-1"),  # too short to tell cp1250 from cp1252
    ],
)
def test_a_file_whose_encoding_is_not_clear_is_refused_never_read_as_mojibake(data):
    with pytest.raises(ImportFileError) as caught:
        read_rows(data, "a.csv")

    assert caught.value.code in ("import.error.encoding_unsure", "import.error.encoding")


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    from funnel.core.settings import get_settings

    monkeypatch.setenv("CRM_MAX_IMPORT_MB", "1")
    get_settings.cache_clear()
    path = tmp_path / "big.csv"
    path.write_bytes(b"name,phone\n" + b"A,13800138000\n" * 80_000)

    with pytest.raises(ImportFileError) as caught:
        read_rows(path)

    assert caught.value.code == "import.error.too_large"
    get_settings.cache_clear()


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31 23:00-05:00", "1899-12-31", datetime(1, 1, 1)])
def test_extreme_dates_are_a_row_error_not_an_overflow(raw, monkeypatch):
    from funnel.core.settings import get_settings

    monkeypatch.setenv("CRM_TIMEZONE", "Asia/Shanghai")  # year 1 on a +08:00 clock is before year 1 UTC
    get_settings.cache_clear()
    with pytest.raises(ValidationError) as caught:
        _row(created_at=raw)

    assert [(e.field, e.code) for e in caught.value.errors] == [("created_at", "import.error.date_range")]
    get_settings.cache_clear()
