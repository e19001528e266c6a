"""Uploads: refused executables and oversize files, neutralised names, versions, content-hash storage,
downloads only for those who may see the customer, and proposal feedback due for the timers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.closing import files
from funnel.core.clock import utcnow
from funnel.core.errors import PermissionDenied, ValidationError
from funnel.core.settings import get_settings
from funnel.store.models import Activity, DocumentBlob, User
from tests.integration.closing.helpers import customer

PDF = b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\n"


def test_a_renamed_executable_is_refused(session: Session, role_users: dict[str, User]) -> None:
    deal = customer(session, role_users["rep"])
    with pytest.raises(ValidationError) as refused:
        files.upload_document(
            session, actor=Actor.of(role_users["rep"]), customer_id=deal.id, filename="方案.pdf",
            data=b"MZ\x90\x00" + bytes(200),
        )  # fmt: skip
    assert refused.value.by_field()["file"].code == "closing.error.file_type"


def test_an_oversized_file_is_refused(
    session: Session, role_users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    deal = customer(session, role_users["rep"])
    with pytest.raises(ValidationError) as refused:
        files.upload_document(
            session, actor=Actor.of(role_users["rep"]), customer_id=deal.id, filename="big.pdf",
            data=PDF + bytes(1024 * 1024),
        )  # fmt: skip
    assert refused.value.by_field()["file"].params == {"size": "1.0", "max": "1"}


def test_names_versions_and_one_blob_per_content(session: Session, role_users: dict[str, User]) -> None:
    rep = Actor.of(role_users["rep"])
    deal = customer(session, role_users["rep"])
    first = files.upload_document(
        session, actor=rep, customer_id=deal.id, filename="../../x/方案.pdf", data=PDF
    )
    second = files.upload_document(
        session, actor=rep, customer_id=deal.id, filename="C:\\tmp\\方案.pdf", data=PDF
    )
    renamed = files.upload_document(session, actor=rep, customer_id=deal.id, filename="notes.exe", data=PDF)
    assert (first.filename, first.version, second.version) == ("方案.pdf", 1, 2)
    assert renamed.filename == "notes.pdf" and renamed.mime_type == "application/pdf"
    assert session.scalar(select(func.count()).select_from(DocumentBlob)) == 1
    table = files.documents_table(session, actor=rep, customer_id=deal.id)
    assert table["uploader"].tolist() == ["REP"] * 3
    assert files.download_document(session, actor=rep, document_id=first.id).data == PDF


def test_a_file_of_another_customer_is_not_downloadable(
    session: Session, role_users: dict[str, User]
) -> None:
    theirs = customer(session, role_users["rep2"])
    document = files.upload_document(
        session, actor=Actor.of(role_users["rep2"]), customer_id=theirs.id, filename="p.pdf", data=PDF
    )
    with pytest.raises(PermissionDenied):
        files.download_document(session, actor=Actor.of(role_users["rep"]), document_id=document.id)
    with pytest.raises(PermissionDenied):  # delivery sees won customers only
        files.download_document(session, actor=Actor.of(role_users["delivery"]), document_id=document.id)
    assert files.download_document(session, actor=Actor.of(role_users["manager"]), document_id=document.id)


def test_a_sent_proposal_is_due_for_feedback_until_there_is_activity(
    session: Session, role_users: dict[str, User]
) -> None:
    rep = Actor.of(role_users["rep"])
    deal = customer(session, role_users["rep"])
    document = files.upload_document(session, actor=rep, customer_id=deal.id, filename="p.pdf", data=PDF)
    sent = utcnow() - timedelta(days=6)
    files.send_proposal(session, actor=rep, document_id=document.id, now=sent)
    assert document.feedback_due_at == sent + timedelta(days=5)
    assert [d.document_id for d in files.feedback_due(session, now=utcnow())] == [document.id]
    assert files.feedback_due(session, now=sent + timedelta(days=4)) == []
    session.add(Activity(customer_id=deal.id, kind="call", at=utcnow() - timedelta(days=1)))
    session.flush()
    assert files.feedback_due(session, now=utcnow()) == []
