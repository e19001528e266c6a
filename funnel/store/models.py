"""Every ORM model of the CRM. All timestamps are naive UTC."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from funnel.core.clock import utcnow

Money = Numeric(14, 2)


# Every constraint gets a predictable name, so a migration can drop or alter it by name on both backends
# (SQLite keeps unnamed constraints nameless; PostgreSQL would invent `<table>_<column>_key`).
# Indexes keep the `ix_<table>_<column>` names they had before the convention.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# A person who signs in: a rep, a manager, leadership, delivery/finance or an admin.
class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="rep")
    region: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Routing: an away rep gets no new leads; a rep's own cap of open leads (None: the team default).
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    max_open_leads: Mapped[int | None] = mapped_column(Integer)
    # The UI language the user last chose (None: the browser's, else the team's default).
    language: Mapped[str | None] = mapped_column(String(8))


# One lead / account, from first touch to won or lost; every other table joins back to it.
class Customer(Base):
    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_status_stage", "status", "stage"),
        # The creation period, and within it the first contacts (the speed-to-lead tile counts and orders
        # them) read off the index alone.
        Index("ix_customer_created_contacted", "created_at", "first_contacted_at"),
        # Cover the funnel roll-up (counts per status, stage and furthest stage) and the loss point's lost
        # reasons, overall and split by channel (the dashboard's split), without reading the rows.
        Index("ix_customer_funnel", "status", "stage", "furthest_stage", "channel"),
        Index("ix_customer_lost_reasons", "status", "stage", "lost_reason", "channel"),
        # The first-contact timer and My day: open leads nobody has contacted yet, by creation time.
        Index("ix_customer_first_contact_due", "status", "first_contacted_at", "created_at"),
        # The daily A list: open customers by grade and owner.
        Index("ix_customer_grade_owner", "status", "grade", "owner_id"),
        # The leads list sorted by score or learned win probability: a page read off the index.
        Index("ix_customer_score", "score"),
        Index("ix_customer_win_probability", "win_probability"),
        # The board's counts per stage under the usual filters (owner, grade, team) read off the index alone.
        Index("ix_customer_board", "status", "stage", "owner_id", "grade", "team"),
        # "Active in the period" (the activity basis of the filter bar) as an index range (store.last_active).
        Index("ix_customer_last_active", "last_active_at"),
        # The dashboard's won figures off the index alone: the won customers of a period (by the day won)
        # with their days from creation and what they are worth, and the won amount per channel.
        Index(
            "ix_customer_won",
            "status",
            "won_at",
            "created_at",
            "channel",
            "signed_amount",
            "opportunity_amount",
        ),
        # The lost tile: customers lost in a period, an index range.
        Index("ix_customer_lost_at", "status", "lost_at"),
        # The qualification panel: open customers per budget band and the competitor mentions.
        Index("ix_customer_qualification", "status", "budget_range", "competitors"),
        # A customer's usual filter and split columns by its id: a report over opportunities, contracts,
        # payments or objections joins them from this narrow index, not from the wide rows (a million
        # customers are 1.8 GB of rows on PostgreSQL; the objections by channel took 0.7 s, now 0.23 s).
        Index("ix_customer_join", "id", "status", "stage", "channel", "created_at", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_no: Mapped[str] = mapped_column(String(32), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(64), index=True)
    region: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[str | None] = mapped_column(String(64), index=True)
    campaign: Mapped[str | None] = mapped_column(String(64), index=True)
    tags: Mapped[str | None] = mapped_column(String(500))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    # The team whose intake the customer belongs to: its owner's team, or for an unowned lead the team
    # of whoever entered it (or the import's column); a team's manager sees the team's unowned leads.
    team: Mapped[str | None] = mapped_column(String(64), index=True)
    score: Mapped[int | None] = mapped_column(Integer)
    # Why the rule score is what it is: [{"points": 20, "kind": ..., "arg": ..., "en": ..., "zh": ...}].
    score_reasons: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)
    # How the lead came in: "form" (a prospect's own form or the API), "rep", "import" (or the demo).
    intake: Mapped[str | None] = mapped_column(String(16))
    # The learned model's chance of winning (0..1) and its largest contributions, once trained.
    win_probability: Mapped[float | None] = mapped_column(Float)
    win_reasons: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)
    grade: Mapped[str | None] = mapped_column(String(1))
    stage: Mapped[str] = mapped_column(String(32), default="lead")
    status: Mapped[str] = mapped_column(String(8), default="open")
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    # The note beside a lost reason (required for "other"); lost_reason holds the list's code.
    lost_note: Mapped[str | None] = mapped_column(String(500))
    budget_range: Mapped[str | None] = mapped_column(String(64))
    purchase_timeline: Mapped[str | None] = mapped_column(String(64))
    use_case: Mapped[str | None] = mapped_column(Text)
    competitors: Mapped[str | None] = mapped_column(String(500))
    # Qualification: budget_range holds a `budget_band` list code, purchase_timeline a month 'YYYY-MM'.
    budget_amount: Mapped[Decimal | None] = mapped_column(Money)
    decision_process: Mapped[str | None] = mapped_column(Text)
    graded_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    first_contacted_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set when a customer with signed business is archived instead of deleted: it stays in the analytics
    # of its period (funnel.closing.archive).
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The stored funnel state, kept by the one write path with each stage event (funnel.pipeline.rules):
    # the furthest pipeline stage ever reached (`won` once won) and when it was won or lost.
    furthest_stage: Mapped[str] = mapped_column(String(32), default="lead")
    won_at: Mapped[datetime | None] = mapped_column(DateTime)
    lost_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When the customer's latest activity or stage change happened (the latest `at` of its activity and
    # stage_event rows), kept with every such row by funnel.store.last_active; None with neither.
    last_active_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The sums of its opportunities' amounts and of its signed contracts' (None with none), kept with every
    # such row by funnel.store.deal_amounts: what the board and the leads list show as its deal, and what
    # the reports count it worth (signed business, else its opportunities).
    opportunity_amount: Mapped[Decimal | None] = mapped_column(Money)
    signed_amount: Mapped[Decimal | None] = mapped_column(Money)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Why the lead has its owner (funnel.capture.routing): a message key and its parameters.
    assignment_reason: Mapped[dict[str, object] | None] = mapped_column(JSON)

    owner: Mapped[User | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(back_populates="customer")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it as a class dict)


# A person at the customer; one of them may be the primary decision maker.
class Contact(Base):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(255), index=True)
    wechat: Mapped[str | None] = mapped_column(String(64))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    is_decision_maker: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # decision_maker | influencer | user | gatekeeper | other (funnel/working/contacts.py CONTACT_ROLES)
    role: Mapped[str] = mapped_column(String(16), default="other", server_default="other")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    customer: Mapped[Customer] = relationship(back_populates="contacts")
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it as a class dict)


# One value of a managed list (channel, campaign, tag, region, industry, lost reason, competitor, ...):
# a stable code, stored on the rows that use it, and its name in each language of the UI.
class ListItem(Base):
    __tablename__ = "list_item"
    __table_args__ = (UniqueConstraint("list_name", "code", name="uq_list_item_list_name_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_name: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(100))
    name_zh: Mapped[str] = mapped_column(String(100))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # False for a value a user typed where the settings allow free values (a rep's own tag).
    managed: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A tag on a customer: a `tag` list item.
class CustomerTag(Base):
    __tablename__ = "customer_tag"
    __table_args__ = (Index("ix_customer_tag_tag_id", "tag_id", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("list_item.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A rule of the lead score: a condition from a fixed vocabulary (funnel.capture.scoring.KINDS) and its points.
class ScoreRule(Base):
    __tablename__ = "score_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    arg: Mapped[str | None] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(Integer)
    label_en: Mapped[str] = mapped_column(String(100))
    label_zh: Mapped[str] = mapped_column(String(100))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# A trained win-probability model, stored portably (coefficients and feature names as JSON, no pickle).
class ScoreModel(Base):
    __tablename__ = "score_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed: Mapped[int] = mapped_column(Integer)
    auc_learned: Mapped[float | None] = mapped_column(Float)
    auc_rule: Mapped[float | None] = mapped_column(Float)
    model: Mapped[dict[str, object]] = mapped_column(JSON)


# A customer shared with a user other than its owner (a rep sees their own and shared customers).
class CustomerShare(Base):
    __tablename__ = "customer_share"
    # A rep's scope reads the customers shared with them by user (the key leads with the customer).
    __table_args__ = (Index("ix_customer_share_user", "user_id", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# Every stage change, including the outcome (won / lost); the source of truth for "reached".
class StageEvent(Base):
    __tablename__ = "stage_event"
    # Covers the furthest-stage subquery of the roll-ups (benchmarks/README.md: 4.2 s -> 1.6 s at 1M on PG)
    # and, with `at`, the last move into a stage (the dashboard's customers stuck at a loss point).
    __table_args__ = (Index("ix_stage_event_customer_stage_at", "customer_id", "to_stage", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


# A call, chat, e-mail, meeting or note, with the structured fields a follow-up needs.
class Activity(Base):
    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    summary: Mapped[str | None] = mapped_column(Text)
    needs: Mapped[str | None] = mapped_column(Text)
    budget: Mapped[str | None] = mapped_column(String(64))
    concerns: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str | None] = mapped_column(Text)
    next_step_at: Mapped[datetime | None] = mapped_column(DateTime)
    direction: Mapped[str | None] = mapped_column(String(8))  # a call's: in / out
    duration_s: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(16))  # manual, call_log, api
    # number+time+direction of a synced call (or the sender's external id): the same call twice is one row.
    sync_key: Mapped[str | None] = mapped_column(String(200), unique=True)


# A follow-up plan or reminder; `rule` names the time rule that made it, for idempotence.
class Task(Base):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_rule_key", "rule", "rule_key"),
        # The timers' and My day's reads: open tasks (done_at IS NULL) by due time, overall and per owner.
        Index("ix_task_open_due", "done_at", "due_at"),
        Index("ix_task_owner_open_due", "owner_id", "done_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="follow_up")
    title: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    rule: Mapped[str | None] = mapped_column(String(32))
    rule_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A timer rule that has fired for one subject (a customer or a task) in one period (a day, or "" for
# once ever): the unique key makes every rule fire once, also when two runs of the timers overlap.
class TimerFire(Base):
    __tablename__ = "timer_fire"
    __table_args__ = (
        UniqueConstraint("rule", "period", "subject_id", name="uq_timer_fire_rule_period_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(32), default="")
    subject_id: Mapped[int] = mapped_column(Integer)
    fired_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A message in a user's inbox: its kind and parameters, rendered in the reader's language.
class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))
    params: Mapped[dict[str, object] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


# A customer's objection, in a category, recorded at the stage where it was raised.
class Objection(Base):
    __tablename__ = "objection"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    response: Mapped[str | None] = mapped_column(Text)


# A manager's prepared answer to one objection category (the playbook), shown when a rep picks it.
class PlaybookEntry(Base):
    __tablename__ = "playbook_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32), unique=True)
    answer: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


# A proposal or other file attached to a customer, stored by content hash.
class Document(Base):
    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="proposal")
    filename: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    mime_type: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity.id", ondelete="SET NULL"))
    # Uploads under the same (sanitised) name on one customer are versions 1, 2, ... of one file.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # A sent proposal's answer is due by then (the timers' 方案反馈时间点); None: not sent.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    feedback_due_at: Mapped[datetime | None] = mapped_column(DateTime)


# The bytes of an uploaded file, once per content hash (in the database: see funnel.closing.files).
class DocumentBlob(Base):
    __tablename__ = "document_blob"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A deal being worked: the amount expected and when.
class Opportunity(Base):
    __tablename__ = "opportunity"
    __table_args__ = (Index("ix_opportunity_customer_amount", "customer_id", "amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    expected_close: Mapped[date | None] = mapped_column(Date)
    quoted_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Catalogue codes of the products or services, comma-separated (list `product`).
    products: Mapped[str | None] = mapped_column(String(500))
    # The rep's own win probability in percent, overriding the stage's default; None: the stage's.
    probability: Mapped[int | None] = mapped_column(Integer)
    next_step: Mapped[str | None] = mapped_column(String(500))
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


# A price offered to the customer (报价), with what was conceded (适度让利); idle quotes are reminded.
class Quote(Base):
    __tablename__ = "quote"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money)
    quoted_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    concessions: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


# A signed contract / order.
class Contract(Base):
    __tablename__ = "contract"
    __table_args__ = (Index("ix_contract_customer_amount", "customer_id", "amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity.id", ondelete="SET NULL"))
    contract_no: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    # None until signed: draft -> pending (waiting for approval) -> signed, or rejected.
    signed_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="signed")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The delivery project manager named on the order, told when it is signed.
    project_manager_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    rejected_reason: Mapped[str | None] = mapped_column(String(500))


# One instalment of a contract's payment plan: how much is due by when.
class PaymentInstalment(Base):
    __tablename__ = "payment_instalment"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# Money received against a contract (回款).
class Payment(Base):
    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money)
    received_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


# A satisfaction survey sent after a win, answered once through a secret link before it expires.
class Survey(Base):
    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    # The sha256 (hex) of the link's secret token, never the token itself.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    # 0-10: how likely the customer would recommend us (NPS).
    recommend: Mapped[int | None] = mapped_column(Integer)


# A meeting or demo with the customer: when, who took part, the online link, minutes and their feedback.
class Meeting(Base):
    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="meeting")
    at: Mapped[datetime] = mapped_column(DateTime)
    # Contact ids of the customer's people and user ids of colleagues who took part.
    contact_ids: Mapped[list[int] | None] = mapped_column(JSON)
    user_ids: Mapped[list[int] | None] = mapped_column(JSON)
    link: Mapped[str | None] = mapped_column(String(500))
    minutes: Mapped[str | None] = mapped_column(Text)
    feedback: Mapped[str | None] = mapped_column(Text)
    # Files attached to the meeting (document ids of the same customer).
    document_ids: Mapped[list[int] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


# A deleted customer and everything attached to it, kept as data for 30 days so an admin can undo it.
class DeletedCustomer(Base):
    __tablename__ = "deleted_customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    customer_no: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    rows: Mapped[dict[str, list[dict[str, object]]]] = mapped_column(JSON)
    deleted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    restored_at: Mapped[datetime | None] = mapped_column(DateTime)


# The week's forecast as it stood when first taken (one per ISO week), for forecast-vs-actual.
class ForecastSnapshot(Base):
    __tablename__ = "forecast_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8), unique=True)  # ISO week, "2026-W49"
    as_of: Mapped[date] = mapped_column(Date)
    weighted: Mapped[Decimal] = mapped_column(Money)  # the weighted forecast for that week itself
    pipeline: Mapped[Decimal] = mapped_column(Money)
    payload: Mapped[dict[str, object]] = mapped_column(JSON)  # the whole `forecast --format json` document
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A rep's or manager's forecast category for a deal (commit, best_case, pipeline, omitted; None clears it),
# kept as a history so the forecast as of a past day uses the call made by then.
class ForecastOverride(Base):
    __tablename__ = "forecast_override"
    __table_args__ = (Index("ix_forecast_override_customer_set", "customer_id", "set_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    category: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500))
    set_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    set_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# Who changed what, when: one row per change, with each field's old and new value.
class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    changes: Mapped[dict[str, list[object]] | None] = mapped_column(JSON)


# A signed-in browser: the sha256 of its cookie token (never the token), last use, and revocation.
class UserSession(Base):
    __tablename__ = "user_session"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_user_session"),
        UniqueConstraint("token_hash", name="uq_user_session_token_hash"),
        UniqueConstraint("handoff_hash", name="uq_user_session_handoff_hash"),
        Index("ix_user_session_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE", name="fk_user_session_user_id")
    )
    token_hash: Mapped[str | None] = mapped_column(String(64))
    handoff_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


# A channel's public intake: the slug of its form's URL and the sha256 of its API token (never the
# token itself); off (`active` false) refuses the form and the API, a revoked token only the API.
class IntakeSource(Base):
    __tablename__ = "intake_source"
    __table_args__ = (
        UniqueConstraint("slug", name="uq_intake_source_slug"),
        UniqueConstraint("token_hash", name="uq_intake_source_token_hash"),
        Index("ix_intake_source_channel", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))  # a code of the managed list `channel`
    campaign: Mapped[str | None] = mapped_column(String(64))
    # Tag codes (comma-separated) every lead from this source gets, e.g. "展会线索, 高意向".
    tags: Mapped[str | None] = mapped_column(String(500))
    slug: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


# A lead that arrived through an intake source, with the sender's external id: replays are per source.
class IntakeLead(Base):
    __tablename__ = "intake_lead"
    __table_args__ = (Index("ix_intake_lead_source_id", "source_id"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("intake_source.id"))
    external_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# One routing rule: leads matching its conditions go to a rep or a team (round robin or least loaded).
class RoutingRule(Base):
    __tablename__ = "routing_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    # {region: [...], industry: [...], channel: [...], campaign: [...], tags: [...], score_min, score_max}
    conditions: Mapped[dict[str, object]] = mapped_column(JSON)
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    target_team: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16), default="round_robin")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# The routing settings (one row): the fallback owner or queue (a team's unowned intake), the default cap.
class RoutingConfig(Base):
    __tablename__ = "routing_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    fallback_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    fallback_team: Mapped[str | None] = mapped_column(String(64))
    max_open_leads: Mapped[int | None] = mapped_column(Integer)


# A team's round-robin cursor: the member who got its last lead (updated with each routed lead).
class RoutingCursor(Base):
    __tablename__ = "routing_cursor"

    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_user_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A group bot (WeCom, DingTalk, Feishu/Lark, Slack) that hears a user's or a team's notifications.
class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    team: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str | None] = mapped_column(String(200))
    lang: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A message waiting for (or sent to) a group bot; `python -m funnel notify` delivers the due ones.
class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notification.id", ondelete="SET NULL"))
    payload: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))
    lang: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
