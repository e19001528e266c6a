"""The dashboard's downloads are real files: a PNG, an SVG document, a workbook Excel opens, a CSV."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import openpyxl
import pandas as pd
import pytest

from funnel.analytics.charts import chart_png, chart_svg, funnel_chart, table_csv, table_xlsx
from tests.unit.analytics.test_charts import seed_table

COLUMNS = ["stage", "stage_name", "reached", "current", "step_conversion", "overall_conversion", "drop_off"]


@pytest.fixture(scope="module")
def chart():  # type: ignore[no-untyped-def]
    return funnel_chart(seed_table("zh"), "zh", loss_stage="contact")


def test_the_chart_downloads_as_a_png_image(chart) -> None:  # type: ignore[no-untyped-def]
    png = chart_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")  # the IHDR chunk: width, height
    assert width >= 720  # the export width, at scale 2


def test_the_chart_downloads_as_an_svg_document_with_the_bars(chart) -> None:  # type: ignore[no-untyped-def]
    svg = chart_svg(chart)
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "1,000" in svg and "#E45756".lower() in svg.lower()  # a label, and the loss point's red


def test_the_table_downloads_as_a_workbook_excel_reads() -> None:
    table = seed_table("zh")[COLUMNS]
    book = openpyxl.load_workbook(io.BytesIO(table_xlsx(table)))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == tuple(COLUMNS)
    assert [row[2] for row in rows[1:]] == [1000, 200, 100, 20, 10, 0]
    assert rows[1][1] == "线索获取"
    assert rows[2][4] == pytest.approx(0.2)


def test_the_table_downloads_as_csv_excel_reads_in_chinese() -> None:
    table = seed_table("zh")[COLUMNS]
    data = table_csv(table)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert back["reached"].tolist() == [1000, 200, 100, 20, 10, 0]
    assert back["stage_name"][0] == "线索获取"


def test_a_cell_that_would_be_a_formula_is_neutralised() -> None:
    table = pd.DataFrame({"stage_name": ['=HYPERLINK("http://x")'], "reached": [1]})
    book = openpyxl.load_workbook(io.BytesIO(table_xlsx(table)))
    assert not str(book.active["A2"].value).startswith("=")
    assert not table_csv(table).decode("utf-8-sig").splitlines()[1].startswith("=")
