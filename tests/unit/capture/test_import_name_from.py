"""Import options for files the matching cannot read alone: the name from another column, a column ignored."""

from __future__ import annotations

import pytest

from funnel.capture.import_parsing import (
    IGNORE,
    ImportFileError,
    map_headers,
    name_column,
    open_rows,
    read_rows,
)

OLIST_LIKE = b"mql_id,first_contact_date,origin\nabc123,2018-02-01,social\n,2018-02-02,\n"


def test_a_column_mapped_to_ignore_is_left_out_even_when_its_header_names_a_field() -> None:
    headers = ["姓名", "手机", "跟进人"]
    assert map_headers(headers) == {"姓名": "name", "手机": "phone", "跟进人": "owner"}
    assert map_headers(headers, {"跟进人": IGNORE}) == {"姓名": "name", "手机": "phone"}
    assert map_headers(headers, {"跟进人": "Ignore", "手机": "wechat"}) == {"姓名": "name", "手机": "wechat"}


def test_names_from_adds_a_last_column_that_copies_the_named_one_and_is_read_as_the_name() -> None:
    headers, rows = read_rows(OLIST_LIKE, "olist.csv", name_from="mql_id")
    assert headers == ["mql_id", "first_contact_date", "origin", name_column("mql_id")]
    assert [row[name_column("mql_id")] for row in rows] == ["abc123", ""]
    assert map_headers(headers, {"mql_id": "external_id"})[name_column("mql_id")] == "name"
    # Without the option the file reads as it is.
    assert read_rows(OLIST_LIKE, "olist.csv")[0] == ["mql_id", "first_contact_date", "origin"]


def test_names_from_finds_the_column_regardless_of_case_and_spaces() -> None:
    with open_rows(OLIST_LIKE, "olist.csv", name_from="MQL ID") as (headers, rows):
        assert headers[-1] == name_column("mql_id") and next(rows)[headers[-1]] == "abc123"


def test_names_from_a_column_the_file_lacks_names_the_column_and_the_ones_it_has() -> None:
    with pytest.raises(ImportFileError) as caught, open_rows(OLIST_LIKE, "olist.csv", name_from="lead"):
        pass
    assert caught.value.code == "import.error.name_from"
    assert "lead" in str(caught.value) and "mql_id, first_contact_date, origin" in str(caught.value)


def test_a_ragged_row_keeps_its_extra_cell_out_of_the_name_column() -> None:
    _headers, rows = read_rows(b"a,b\nx,y,z\n", "ragged.csv", name_from="a")
    assert rows == [{"a": "x", "b": "y", name_column("a"): "x"}]
