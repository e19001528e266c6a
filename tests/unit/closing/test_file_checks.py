"""File names are neutralised and types read from the bytes, table-driven."""

from __future__ import annotations

import io
import zipfile

import pytest

from funnel.closing.files import detect_type, sanitise_name


def office(*parts: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in ("[Content_Types].xml", *parts):
            archive.writestr(part, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
        ("/abs/path/方案 v2.pdf", "方案 v2.pdf"),
        (".hidden.pdf", "hidden.pdf"),
        ("a\x00b<c>.pdf", "a_b_c_.pdf"),
        ("..", "file"),
        ("", "file"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_names_lose_their_path_parts_and_unsafe_characters(raw: str, clean: str) -> None:
    assert sanitise_name(raw) == clean


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n", "p.pdf", ".pdf"),
        (b"\x89PNG\r\n\x1a\n" + bytes(30), "p.png", ".png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20), "p.jpg", ".jpg"),
        (office("word/document.xml"), "p.docx", ".docx"),
        (office("xl/workbook.xml"), "p.bin", ".xlsx"),
        (office("ppt/presentation.xml"), "p.pptx", ".pptx"),
        (office("other.txt"), "p.docx", None),  # a plain ZIP named .docx
        (b"MZ\x90\x00" + bytes(60), "proposal.pdf", None),  # a renamed executable
        (b"#!/bin/sh\nrm -rf /\n", "proposal.pdf", None),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(40), "old.xls", ".xls"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(40), "old.exe", None),
    ],
)
def test_types_come_from_the_content(data: bytes, name: str, kind: str | None) -> None:
    assert detect_type(data, name) == kind
