"""Proposals and other files on a customer: checked by content, limited in size, stored by content hash.

The type is read from the bytes (puremagic, plus a look inside a ZIP for Office's own parts, since
puremagic names every ZIP a possible .docx), never from the name: an executable renamed to .pdf is
refused, and a stored file's name carries the extension of what it really is.

Storage: the bytes live in the database (`document_blob`, one row per sha256), not under data/. The
CRM runs on PostgreSQL behind several app servers (docs/ARCHITECTURE.md, "Scale path"): a file on one
server's disk would be missing on the others, and the database is what is backed up and replicated. A
row also commits or rolls back with its metadata, so no orphan or missing file; the 20 MB limit keeps
rows at a size both databases handle well. Identical uploads share one blob.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

import pandas as pd
import puremagic
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.closing.common import customer_for
from funnel.core.clock import utcnow
from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, NotFound, ValidationError
from funnel.core.settings import get_settings
from funnel.store.models import Activity, Customer, Document, DocumentBlob, Opportunity, User

# What may be uploaded: the detected extension -> its MIME type.
ALLOWED = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
_OOXML_PARTS = (
    ("word/document.xml", ".docx"),
    ("xl/workbook.xml", ".xlsx"),
    ("ppt/presentation.xml", ".pptx"),
)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
NAME_MAX = 200


def sanitise_name(raw: str) -> str:
    """A file name without directories, control or reserved characters, leading dots; at most NAME_MAX."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if not name or set(name) <= {"_", " ", "."}:
        name = "file"
    if len(name) > NAME_MAX:
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: NAME_MAX - len(suffix)] + suffix
    return name


def detect_type(data: bytes, name: str = "") -> str | None:
    """The allowed extension the bytes really are (".pdf", ".docx", ...), or None when not allowed."""
    if data.startswith(_OLE):
        suffix = PurePosixPath(name).suffix.lower()
        return suffix if suffix in (".doc", ".xls", ".ppt") else None
    try:
        matches = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        return None
    found = {m.extension.lower() for m in matches}
    if found & {".docx", ".xlsx", ".pptx"}:
        return _ooxml(data)
    for extension in (".pdf", ".png", ".gif", ".webp"):
        if extension in found:
            return extension
    if found & {".jpg", ".jpeg", ".jfif", ".jpe"}:
        return ".jpg"
    return None


def _ooxml(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for part, extension in _OOXML_PARTS:
        if part in names:
            return extension
    return None


def _stored_name(name: str, extension: str) -> str:
    path = PurePosixPath(name)
    if path.suffix.lower() == extension or (extension == ".jpg" and path.suffix.lower() == ".jpeg"):
        return name
    return sanitise_name(f"{path.stem or 'file'}{extension}")


def upload_document(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    filename: str,
    data: bytes,
    kind: str = "proposal",
    opportunity_id: int | None = None,
) -> Document:
    """Attach a file to a customer the actor works; refused (on "file") when too large or not allowed."""
    take_write_lock(session)
    customer = customer_for(session, actor, customer_id, "customer.edit")
    limit_mb = get_settings().max_upload_mb
    if len(data) > limit_mb * 1024 * 1024:
        size = f"{len(data) / 1024 / 1024:.1f}"
        raise ValidationError(
            [FieldError("file", "closing.error.file_too_large", {"size": size, "max": str(limit_mb)})]
        )
    if not data:
        raise ValidationError([FieldError("file", "closing.error.file_empty")])
    name = sanitise_name(filename)
    extension = detect_type(data, name)
    if extension is None:
        raise ValidationError([FieldError("file", "closing.error.file_type", {"name": name})])
    if opportunity_id is not None:
        opportunity = session.get(Opportunity, opportunity_id)
        if opportunity is None or opportunity.customer_id != customer.id:
            raise ValidationError([FieldError("opportunity_id", "closing.error.opportunity_other")])
    name = _stored_name(name, extension)
    digest = hashlib.sha256(data).hexdigest()
    if session.get(DocumentBlob, digest) is None:
        session.add(DocumentBlob(content_hash=digest, data=data, size_bytes=len(data), created_at=utcnow()))
    previous = session.scalar(
        select(func.max(Document.version)).where(
            Document.customer_id == customer.id, Document.filename == name
        )
    )
    document = Document(
        customer_id=customer.id,
        opportunity_id=opportunity_id,
        kind=kind[:32],
        filename=name,
        content_hash=digest,
        size_bytes=len(data),
        mime_type=ALLOWED[extension],
        version=(previous or 0) + 1,
        uploaded_at=utcnow(),
        by_user_id=actor.user_id,
    )
    session.add(document)
    session.flush()
    audit.record(
        session,
        action=AuditAction.CREATE,
        entity=AuditEntity.DOCUMENT,
        entity_id=document.id,
        customer_id=customer.id,
        user_id=actor.user_id,
        changes={"filename": [None, name], "version": [None, document.version], "sha256": [None, digest]},
    )
    return document


def documents_table(session: Session, *, actor: Actor, customer_id: int) -> pd.DataFrame:
    """A customer's files with uploader, time, version and size, newest first."""
    customer_for(session, actor, customer_id, "customer.read")
    stmt = (
        select(
            Document.id,
            Document.filename,
            Document.version,
            Document.kind,
            Document.size_bytes,
            Document.mime_type,
            Document.uploaded_at,
            func.coalesce(User.display_name, User.username).label("uploader"),
            Document.sent_at,
            Document.feedback_due_at,
        )
        .outerjoin(User, User.id == Document.by_user_id)
        .where(Document.customer_id == customer_id)
        .order_by(Document.uploaded_at.desc(), Document.id.desc())
    )
    columns = ["id", "filename", "version", "kind", "size_bytes", "mime_type", "uploaded_at", "uploader",
               "sent_at", "feedback_due_at"]  # fmt: skip
    return pd.DataFrame(session.execute(stmt).all(), columns=columns)


@dataclass(frozen=True)
class Download:
    filename: str
    mime_type: str
    data: bytes


def download_document(session: Session, *, actor: Actor, document_id: int) -> Download:
    """The file's bytes, for someone who may see its customer (else NotFound / PermissionDenied)."""
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound("document", document_id)
    customer_for(session, actor, document.customer_id, "customer.read")
    blob = session.get(DocumentBlob, document.content_hash)
    if blob is None:
        raise NotFound("document", document_id)
    return Download(document.filename, document.mime_type or "application/octet-stream", blob.data)


def send_proposal(
    session: Session, *, actor: Actor, document_id: int, now: datetime | None = None
) -> Document:
    """Mark a proposal sent: its feedback is due CRM_PROPOSAL_FEEDBACK_DAYS later (方案反馈时间点)."""
    take_write_lock(session)
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound("document", document_id)
    customer_for(session, actor, document.customer_id, "customer.edit")
    now = now or utcnow()
    document.sent_at = now
    document.feedback_due_at = now + timedelta(days=get_settings().proposal_feedback_days)
    audit.record(
        session,
        action=AuditAction.UPDATE,
        entity=AuditEntity.DOCUMENT,
        entity_id=document.id,
        customer_id=document.customer_id,
        user_id=actor.user_id,
        changes={"feedback_due_at": [None, document.feedback_due_at.isoformat()]},
    )
    session.flush()
    return document


@dataclass(frozen=True)
class FeedbackDue:
    document_id: int
    customer_id: int
    owner_id: int | None
    due_at: datetime


def feedback_due(
    session: Session, *, now: datetime, since: datetime | None = None, customer_id: int | None = None
) -> list[FeedbackDue]:
    """Sent proposals of open customers whose feedback day has come with no activity since sending.

    `since` bounds the due times looked at (the timers' look-back); `customer_id` limits it to one customer.
    """
    later = (
        select(Activity.id)
        .where(Activity.customer_id == Document.customer_id, Activity.at > Document.sent_at)
        .exists()
    )
    stmt = (
        select(Document.id, Document.customer_id, Customer.owner_id, Document.feedback_due_at)
        .join(Customer, Customer.id == Document.customer_id)
        .where(
            Document.feedback_due_at.is_not(None),
            Document.feedback_due_at <= now,
            Customer.status == "open",
            ~later,
        )
        .order_by(Document.feedback_due_at, Document.id)
    )
    if since is not None:
        stmt = stmt.where(Document.feedback_due_at >= since)
    if customer_id is not None:
        stmt = stmt.where(Document.customer_id == customer_id)
    return [FeedbackDue(row[0], row[1], row[2], row[3] or now) for row in session.execute(stmt)]
