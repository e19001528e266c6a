"""Who may do what, and which customers each user sees. Enforced by the use cases, not by the pages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from funnel.core.errors import FieldError, PermissionDenied
from funnel.store.models import Customer, CustomerShare, User

ROLES = ("rep", "manager", "leader", "delivery", "admin")
# Principals that are not people: the system itself (CLI, jobs, import, demo) and a prospect on a public
# form or survey. They are rows of the role table like any role, never a missing actor.
SYSTEM_ROLE, PUBLIC_ROLE = "system", "public"
PRINCIPAL_ROLES = (*ROLES, SYSTEM_ROLE, PUBLIC_ROLE)

# What a manager may do; an administrator may do all of it and run the system (kept as one set so the
# two cannot drift apart).
_MANAGER = frozenset(
    {
        "customer.read",
        "customer.create",
        "customer.import",
        "customer.edit",
        "customer.assign",
        "customer.delete",
        "analytics.read",
        "forecast.read",
        "audit.read",
        "channel.manage",
        "lists.manage",
        "routing.manage",
        "task.work",
        "customer.archive",
        "order.read",
        "contract.approve",
        "payment.record",
        "objection.playbook",
    }
)
_ADMIN = _MANAGER | {"users.manage", "settings.manage", "demo.load", "customer.restore"}

# The table of allowed actions per principal; everything not listed is refused.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "rep": frozenset(
        {
            "customer.read",
            "customer.create",
            "customer.import",
            "customer.edit",
            "analytics.read",
            "task.work",
        }
    ),
    "manager": _MANAGER,
    "leader": frozenset({"customer.read", "analytics.read", "forecast.read", "audit.read", "order.read"}),
    "delivery": frozenset({"customer.read", "order.read", "payment.record"}),
    "admin": _ADMIN,
    SYSTEM_ROLE: _ADMIN | {"order.read", "payment.record", "funnel.repair"},
    # A prospect: leaves a lead on a channel's public form and answers a survey, nothing else.
    PUBLIC_ROLE: frozenset({"customer.create", "survey.answer"}),
}
# Everyone who signs in reads their own inbox (notifications of routing, reassignment, the timers).
for _role in ROLES:
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {"inbox.read"}
ACTIONS = tuple(sorted(set().union(*ROLE_PERMISSIONS.values())))


@dataclass(frozen=True)
class Actor:
    """Who does something: a signed-in user, or the SYSTEM or PUBLIC principal (user_id None)."""

    user_id: int | None
    username: str
    role: str
    team: str | None = None
    display_name: str = ""

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(
            user_id=user.id,
            username=user.username,
            role=user.role,
            team=user.team,
            display_name=user.display_name or user.username,
        )

    @property
    def is_person(self) -> bool:
        return self.role in ROLES


SYSTEM = Actor(user_id=None, username="system", role=SYSTEM_ROLE, display_name="System")
PUBLIC = Actor(user_id=None, username="public", role=PUBLIC_ROLE, display_name="Public form")


def allowed(actor: Actor, action: str) -> bool:
    return action in ROLE_PERMISSIONS.get(actor.role, frozenset())


def require(actor: Actor, action: str) -> None:
    if not allowed(actor, action):
        raise PermissionDenied(action)


@dataclass(frozen=True)
class Scope:
    """The customers a user sees: by owner (None = any), unowned ones of a team, shared, or by status."""

    owner_ids: tuple[int, ...] | None = None
    # A team's intake: the unowned customers whose `team` is this one (None: no unowned customer).
    unowned_of_team: str | None = None
    shared_with: int | None = None
    statuses: tuple[str, ...] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.owner_ids is not None:
            parts: list[ColumnElement[bool]] = [Customer.owner_id.in_(self.owner_ids)]
            if self.unowned_of_team is not None:
                parts.append(and_(Customer.owner_id.is_(None), Customer.team == self.unowned_of_team))
            if self.shared_with is not None:
                # An uncorrelated IN, not EXISTS: the shares are read once through their key and the OR
                # stays indexable (SQLite's OR-by-union over the owner index and the row ids).
                shared = select(CustomerShare.customer_id).where(CustomerShare.user_id == self.shared_with)
                parts.append(Customer.id.in_(shared))
            conds.append(or_(*parts))
        if self.statuses is not None:
            conds.append(Customer.status.in_(self.statuses))
        return conds


EVERYTHING = Scope()
# No customer at all: what a prospect on a public form may read.
NOTHING = Scope(owner_ids=())


def managed_team(actor: Actor) -> str | None:
    """The team a manager is limited to; None for everyone else (a manager without a team sees all)."""
    if actor.role == "manager" and actor.team:
        return actor.team
    return None


def customer_scope(session: Session, actor: Actor) -> Scope:
    """Which customers `actor` may see: a rep their own and shared ones, a manager their team, ..."""
    if actor.role in ("admin", "leader", SYSTEM_ROLE):
        return EVERYTHING
    if actor.role not in ROLES:
        return NOTHING
    if actor.role == "manager":
        team_name = managed_team(actor)
        if team_name is None:
            return EVERYTHING
        team = tuple(session.scalars(select(User.id).where(User.team == team_name)))
        return Scope(owner_ids=team, unowned_of_team=team_name)
    if actor.role == "delivery":
        return Scope(statuses=("won",))
    assert actor.user_id is not None  # every role in ROLES is a person with an account
    return Scope(owner_ids=(actor.user_id,), shared_with=actor.user_id)


def can_see(session: Session, actor: Actor, customer: Customer) -> bool:
    scope = customer_scope(session, actor)
    if scope is EVERYTHING:
        return True
    stmt = select(Customer.id).where(Customer.id == customer.id, *scope.conditions())
    return session.scalar(stmt) is not None


def require_customer(session: Session, actor: Actor, customer: Customer, action: str) -> None:
    """Refuse `action` on `customer` unless the role allows it and the customer is in the actor's scope."""
    require(actor, action)
    if not can_see(session, actor, customer):
        raise PermissionDenied(action, customer.customer_no)


def assignee_error(actor: Actor, user: User | None, *, field: str) -> FieldError | None:
    """Why `actor` may not give a customer to `user` (to own or to share it), on `field`; None if they may.

    The one rule behind assigning, sharing and the users offered for both: the user is active, their role
    works customers (may edit them), and a team's manager keeps the team's customers within the team.
    """
    if user is None or not user.is_active or "customer.edit" not in ROLE_PERMISSIONS.get(user.role, ()):
        return FieldError(field, "error.assignee_invalid")
    team = managed_team(actor)
    if team is not None and user.team != team:
        return FieldError(field, "error.assignee_other_team", {"team": team})
    return None
