"""The weekly forecast: the funnel's state as of any day, P(win | stage) from recent history, and the
open pipeline weighted by it and placed in the weeks ahead.

- **As of a day**: every customer created before the end of that day (the team's zone) takes the state
  its stage history gives at that instant — the stage of its last event, `won` / `lost` if that event
  was an outcome, and the furthest stage its events reached. Nothing written later is read.
- **P(win | stage)**: among the customers whose closing event (won or lost) falls in the `window_days`
  before the as-of instant and who had reached the stage, the share won. With fewer than
  `MIN_CLOSED_FOR_HISTORY` such customers the pipeline file's default probability is used instead.
- **Weighted pipeline**: each open customer's open amount (the sum of its opportunities created by
  then) times P(win | its stage), bucketed by the ISO week of its expected close date (the earliest of
  its opportunities'); a deal without a date is placed by the median days from entering its stage to
  winning, in the same history, less the days it has already spent there. A date already past is
  `slipped`: counted in the totals, not in any week.

Everything per customer is aggregated in SQL; pandas sees one row per open deal and per closed customer
of the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor, require
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.forecast_overrides import current_calls
from funnel.analytics.rollups import readers_filter
from funnel.core.clock import day_start_utc, team_today, team_zone, utcnow
from funnel.pipeline.stages import LOST, WON, Pipeline, get_pipeline
from funnel.store.models import Contract, Customer, ForecastSnapshot, Opportunity, StageEvent, User

DEFAULT_WINDOW_DAYS = 365
DEFAULT_WEEKS = 12
# Below this many closed customers having reached a stage, its share won says more about chance than
# about the stage: the pipeline file's probability is used (and the source says "default").
MIN_CLOSED_FOR_HISTORY = 20
# Below this many won customers from a stage, a dateless deal is placed by the median of all stages.
MIN_WON_FOR_MEDIAN = 5
FALLBACK_DAYS_TO_CLOSE = 30  # when the window holds no won customer at all


@dataclass(frozen=True)
class ForecastWeek:
    week: str  # ISO week, "2026-W49"
    start: date  # its Monday
    deals: int
    amount: float
    weighted: float


@dataclass(frozen=True)
class Forecast:
    as_of: date
    window_days: int
    closed_in_window: int
    p_win: dict[str, float]
    p_win_source: dict[str, str]
    open: int
    pipeline: float
    weighted: float
    slipped: int
    weeks: list[ForecastWeek]
    # One row per open deal: customer_id, customer_no, name, owner, stage, amount, p_win, weighted,
    # expected_close, placed_by ("date" | "median"), slipped.
    deals: pd.DataFrame = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The `forecast --format json` document."""
        return {
            "as_of": self.as_of.isoformat(),
            "window_days": self.window_days,
            "closed_in_window": self.closed_in_window,
            "p_win": {stage: round(p, 4) for stage, p in self.p_win.items()},
            "p_win_source": dict(self.p_win_source),
            "open": self.open,
            "pipeline": round(self.pipeline, 2),
            "weighted": round(self.weighted, 2),
            "slipped": self.slipped,
            "weeks": [
                {
                    "week": w.week,
                    "start": w.start.isoformat(),
                    "deals": w.deals,
                    "amount": round(w.amount, 2),
                    "weighted": round(w.weighted, 2),
                }
                for w in self.weeks
            ],
        }


CATEGORIES = ("commit", "best_case", "pipeline")


def category_of(p_win: float, *, commit_percent: int, best_case_percent: int) -> str:
    """The forecast category of a deal by its P(win): commit, best case, or (the rest) pipeline."""
    if p_win * 100 >= commit_percent:
        return "commit"
    return "best_case" if p_win * 100 >= best_case_percent else "pipeline"


def deal_categories(deals: pd.DataFrame, *, commit_percent: int, best_case_percent: int) -> pd.Series:
    """Each deal's category: the rep's call where one was made (column `call`), else by its P(win)."""
    by_stage = deals["p_win"].map(
        lambda p: category_of(p, commit_percent=commit_percent, best_case_percent=best_case_percent)
    )
    if "call" not in deals.columns:
        return by_stage
    return deals["call"].where(deals["call"].notna(), by_stage)


def category_totals(deals: pd.DataFrame, *, commit_percent: int, best_case_percent: int) -> pd.DataFrame:
    """Deals, amount and weighted amount per category (commit, best case, pipeline, and the deals a rep
    called `omitted`), deals with an amount. A call moves a deal between categories; it does not change
    its weighted amount, which stays the method the backtest measures."""
    valued = deals[deals["amount"] > 0]
    categories = deal_categories(valued, commit_percent=commit_percent, best_case_percent=best_case_percent)
    grouped = valued.groupby(categories).agg(
        deals=("customer_id", "count"), amount=("amount", "sum"), weighted=("weighted", "sum")
    )
    order = [*CATEGORIES, "omitted"]
    return grouped.reindex(order, fill_value=0).rename_axis("category").reset_index()


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _frame(rows: Any, columns: list[str]) -> pd.DataFrame:
    """A DataFrame from result rows, made from plain tuples (pandas probes each SQLAlchemy Row's attributes
    one by one, which took 3.6 s for 300,000 rows against 0.8 s from tuples)."""
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)


def _rank_case(pipeline: Pipeline) -> ColumnElement[int]:
    """A stage event's funnel rank (won = the number of stages); lost and unknown stages -1."""
    return case(
        {key: rank for rank, key in enumerate(pipeline.funnel_keys)}, value=StageEvent.to_stage, else_=-1
    )


def customer_states(
    session: Session, *, cutoff: datetime, filters: CustomerFilter, pipeline: Pipeline
) -> pd.DataFrame:
    """Every customer's state at `cutoff` (naive UTC) from its stage history, one row per customer.

    Columns: customer_id, stage (its last event's to_stage), entered_at (that event's time), furthest
    (rank of the furthest stage reached, -1 if none).
    """
    numbered = (
        select(
            StageEvent.customer_id.label("customer_id"),
            StageEvent.to_stage.label("stage"),
            StageEvent.at.label("entered_at"),
            func.row_number()
            .over(partition_by=StageEvent.customer_id, order_by=(StageEvent.at.desc(), StageEvent.id.desc()))
            .label("newest"),
            func.max(_rank_case(pipeline)).over(partition_by=StageEvent.customer_id).label("furthest"),
        )
        .join(Customer, Customer.id == StageEvent.customer_id)
        .where(StageEvent.at < cutoff, Customer.created_at < cutoff)
    )
    if filters.values.get("owner"):
        numbered = numbered.outerjoin(User, User.id == Customer.owner_id)
    conditions = filters.conditions()
    if conditions:
        numbered = numbered.where(and_(*conditions))
    sub = numbered.subquery()
    query = select(sub.c.customer_id, sub.c.stage, sub.c.entered_at, sub.c.furthest).where(sub.c.newest == 1)
    frame = _frame(session.execute(query), ["customer_id", "stage", "entered_at", "furthest"])
    frame["furthest"] = frame["furthest"].astype("int64")
    return frame


def win_probabilities(closed: pd.DataFrame, pipeline: Pipeline) -> tuple[dict[str, float], dict[str, str]]:
    """P(win | stage) over the closed customers (columns stage = won|lost, furthest), with its source."""
    p_win: dict[str, float] = {}
    source: dict[str, str] = {}
    won = closed["stage"] == WON
    for rank, key in enumerate(pipeline.keys):
        reached = closed["furthest"] >= rank
        n = int(reached.sum())
        if n >= MIN_CLOSED_FOR_HISTORY:
            p_win[key], source[key] = int((reached & won).sum()) / n, "history"
        else:
            p_win[key], source[key] = pipeline.win_probability(key), "default"
    return p_win, source


def days_to_close(session: Session, won_ids: list[int], pipeline: Pipeline) -> dict[str, float]:
    """Median days from entering each stage (first event at or beyond it) to winning, over `won_ids`."""
    if not won_ids:
        return {}
    rank = _rank_case(pipeline).label("rank")
    rows: list[tuple[int, int, datetime]] = []
    for start in range(0, len(won_ids), 5000):  # bounded IN lists
        chunk = won_ids[start : start + 5000]
        query = select(StageEvent.customer_id, rank, StageEvent.at).where(StageEvent.customer_id.in_(chunk))
        rows.extend((int(c), int(r), at) for c, r, at in session.execute(query))
    events = _frame(rows, ["customer_id", "rank", "at"])
    won_rank = len(pipeline.keys)
    won_at = events[events["rank"] == won_rank].groupby("customer_id")["at"].max()
    medians: dict[str, float] = {}
    for rank_i, key in enumerate(pipeline.keys):
        entered = events[events["rank"] >= rank_i].groupby("customer_id")["at"].min()
        days = ((won_at - entered.reindex(won_at.index)).dt.total_seconds() / 86400).dropna()
        if len(days) >= MIN_WON_FOR_MEDIAN:
            medians[key] = float(days.median())
    overall = (
        won_at - events.groupby("customer_id")["at"].min().reindex(won_at.index)
    ).dt.total_seconds() / 86400
    medians["*"] = float(overall.median()) if len(overall.dropna()) else float(FALLBACK_DAYS_TO_CLOSE)
    return medians


def open_amounts(session: Session, customer_ids: list[int], *, cutoff: datetime) -> pd.DataFrame:
    """customer_id, amount (sum of opportunities created before `cutoff`), expected_close (earliest)."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(customer_ids), 5000):
        chunk = customer_ids[start : start + 5000]
        query = (
            select(
                Opportunity.customer_id, func.sum(Opportunity.amount), func.min(Opportunity.expected_close)
            )
            .where(Opportunity.customer_id.in_(chunk), Opportunity.created_at < cutoff)
            .group_by(Opportunity.customer_id)
        )
        rows.extend(session.execute(query).all())
    frame = _frame(rows, ["customer_id", "amount", "expected_close"])
    frame["amount"] = frame["amount"].astype("float64")
    return frame


def _customer_labels(session: Session, customer_ids: list[int]) -> pd.DataFrame:
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(customer_ids), 5000):
        chunk = customer_ids[start : start + 5000]
        query = (
            select(Customer.id, Customer.customer_no, Customer.name, User.display_name)
            .outerjoin(User, User.id == Customer.owner_id)
            .where(Customer.id.in_(chunk))
        )
        rows.extend(session.execute(query).all())
    return _frame(rows, ["customer_id", "customer_no", "name", "owner"])


def build_forecast(
    session: Session,
    *,
    actor: Actor,
    as_of: date | None = None,
    weeks: int = DEFAULT_WEEKS,
    window_days: int = DEFAULT_WINDOW_DAYS,
    filters: CustomerFilter | None = None,
    pipeline: Pipeline | None = None,
    detail: bool = True,
) -> Forecast:
    """The forecast as of the end of `as_of` (default: today in the team's zone) for what `actor` may see.

    `detail=False` leaves out the deals' names, owners and forecast calls (the backtest needs only the
    figures)."""
    require(actor, "forecast.read")
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    pipeline = pipeline or get_pipeline()
    scoped = readers_filter(session, actor, filters)
    as_of = as_of or team_today()
    cutoff = day_start_utc(as_of + timedelta(days=1))
    states = customer_states(session, cutoff=cutoff, filters=scoped, pipeline=pipeline)

    window_start = cutoff - timedelta(days=window_days)
    outcome = states["stage"].isin([WON, LOST])
    closed = states[outcome & (states["entered_at"] >= window_start)]
    p_win, source = win_probabilities(closed, pipeline)

    open_ = states[~outcome].copy()
    # A stage no longer in the pipeline counts as its first stage.
    open_.loc[~open_["stage"].isin(pipeline.keys), "stage"] = pipeline.first
    open_ids = [int(i) for i in open_["customer_id"]]
    amounts = open_amounts(session, open_ids, cutoff=cutoff)
    deals = open_.merge(amounts, on="customer_id", how="left")
    deals["amount"] = deals["amount"].fillna(0.0).astype("float64")
    deals["p_win"] = deals["stage"].map(p_win).astype("float64")
    deals["weighted"] = deals["amount"] * deals["p_win"]

    won_ids = [int(i) for i in closed.loc[closed["stage"] == WON, "customer_id"]]
    medians = days_to_close(session, won_ids, pipeline) if deals["expected_close"].isna().any() else {}
    deals = _place(deals, as_of=as_of, cutoff=cutoff, medians=medians)

    first_week = week_start(as_of)
    starts = [first_week + timedelta(weeks=i) for i in range(weeks)]
    upcoming = deals[~deals["slipped"] & (deals["amount"] > 0)]
    buckets: list[ForecastWeek] = []
    for start in starts:
        in_week = upcoming[
            (upcoming["close_on"] >= start) & (upcoming["close_on"] < start + timedelta(days=7))
        ]
        buckets.append(
            ForecastWeek(
                week=iso_week(start),
                start=start,
                deals=len(in_week),
                amount=float(in_week["amount"].sum()),
                weighted=float(in_week["weighted"].sum()),
            )
        )
    if detail:
        labels = _customer_labels(session, [int(i) for i in deals["customer_id"]]) if len(deals) else None
        if labels is not None:
            deals = deals.merge(labels, on="customer_id", how="left")
        deals = _with_calls(session, deals, cutoff=cutoff)
    return Forecast(
        as_of=as_of,
        window_days=window_days,
        closed_in_window=len(closed),
        p_win=p_win,
        p_win_source=source,
        open=len(deals),
        pipeline=float(deals["amount"].sum()),
        weighted=float(deals["weighted"].sum()),
        slipped=int(deals["slipped"].sum()),
        weeks=buckets,
        deals=deals,
    )


def _with_calls(session: Session, deals: pd.DataFrame, *, cutoff: datetime) -> pd.DataFrame:
    """The reps' forecast calls made by `cutoff`: columns call, call_note, call_by (None where none)."""
    deals = deals.copy()
    ids_list = [int(i) for i in deals["customer_id"]]
    calls = current_calls(session, ids_list, cutoff=cutoff) if ids_list else {}
    ids = deals["customer_id"].astype(int)
    deals["call"] = ids.map(lambda i: calls[i].category if i in calls else None).astype("object")
    deals["call_note"] = ids.map(lambda i: calls[i].note if i in calls else None).astype("object")
    deals["call_by"] = ids.map(lambda i: calls[i].by if i in calls else None).astype("object")
    return deals


def _place(deals: pd.DataFrame, *, as_of: date, cutoff: datetime, medians: dict[str, float]) -> pd.DataFrame:
    """`close_on`, `placed_by` and `slipped` for each open deal."""
    deals = deals.copy()
    has_date = deals["expected_close"].notna()
    deals["placed_by"] = "date"
    deals.loc[~has_date, "placed_by"] = "median"
    fallback = medians.get("*", float(FALLBACK_DAYS_TO_CLOSE))
    typical = deals["stage"].map(lambda stage: medians.get(stage, fallback)).astype("float64")
    entered = pd.to_datetime(deals["entered_at"])
    spent = (pd.Timestamp(cutoff) - entered).dt.total_seconds() / 86400
    ahead = (typical - spent).clip(lower=0.0)
    deals["close_on"] = [
        pd.Timestamp(expected).date() if dated else as_of + timedelta(days=float(days))
        for expected, dated, days in zip(deals["expected_close"], has_date, ahead, strict=True)
    ]
    deals["slipped"] = has_date & (deals["close_on"] < as_of)
    return deals


def won_by_week(
    session: Session, *, actor: Actor, starts: list[date], filters: CustomerFilter | None = None
) -> dict[date, float]:
    """What was actually won in each week (its Monday -> the won amount: contracts, else opportunities)."""
    require(actor, "analytics.read")
    totals = dict.fromkeys(starts, 0.0)
    if not starts:
        return totals
    scoped = readers_filter(session, actor, filters)
    begin, end = day_start_utc(min(starts)), day_start_utc(max(starts) + timedelta(days=7))
    signed = select(func.sum(Contract.amount)).where(Contract.customer_id == Customer.id).scalar_subquery()
    expected = (
        select(func.sum(Opportunity.amount)).where(Opportunity.customer_id == Customer.id).scalar_subquery()
    )
    query = (
        select(StageEvent.at, func.coalesce(signed, expected, 0))
        .join(Customer, Customer.id == StageEvent.customer_id)
        .where(
            StageEvent.to_stage == WON, StageEvent.at >= begin, StageEvent.at < end, Customer.status == WON
        )
    )
    if scoped.values.get("owner"):
        query = query.outerjoin(User, User.id == Customer.owner_id)
    conditions = scoped.conditions()
    if conditions:
        query = query.where(and_(*conditions))
    zone = team_zone()
    for at, amount in session.execute(query):
        start = week_start(at.replace(tzinfo=UTC).astimezone(zone).date())
        if start in totals:
            totals[start] += float(amount or 0)
    return totals


@dataclass(frozen=True)
class BacktestWeek:
    week: str
    start: date
    forecast: float  # the weighted forecast for the week, made as of the day before it began
    actual: float  # what was won in the week
    error_pct: float | None  # (forecast - actual) / actual, in percent; None when nothing was won


@dataclass(frozen=True)
class Backtest:
    weeks: list[BacktestWeek]
    # Weighted absolute percentage error over all the weeks: sum |forecast - actual| / sum actual.
    wape_pct: float | None


def backtest(
    session: Session,
    *,
    actor: Actor,
    weeks: int = 8,
    today: date | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    filters: CustomerFilter | None = None,
) -> Backtest:
    """Replay the method over the last `weeks` full weeks: each forecast made as of the Sunday before."""
    this_week = week_start(today or team_today())
    starts = [this_week - timedelta(weeks=k) for k in range(weeks, 0, -1)]
    actual = won_by_week(session, actor=actor, starts=starts, filters=filters)
    rows: list[BacktestWeek] = []
    for start in starts:
        made = build_forecast(
            session,
            actor=actor,
            as_of=start - timedelta(days=1),
            weeks=2,
            window_days=window_days,
            filters=filters,
            detail=False,
        )
        predicted = made.weeks[1].weighted  # weeks[0] is the week of the as-of day itself
        won = actual[start]
        error = (predicted - won) / won * 100 if won else None
        rows.append(BacktestWeek(iso_week(start), start, predicted, won, error))
    total_actual = sum(r.actual for r in rows)
    wape = sum(abs(r.forecast - r.actual) for r in rows) / total_actual * 100 if total_actual else None
    return Backtest(rows, wape)


@dataclass(frozen=True)
class SnapshotResult:
    week: str
    created: bool  # False when the week already had its snapshot (nothing was written)
    weighted: float


def take_snapshot(session: Session, *, actor: Actor, today: date | None = None) -> SnapshotResult:
    """Store this week's company forecast once; a second call in the same week writes nothing.

    The caller commits. Concurrent first calls race on the unique week: the loser's commit fails and
    its caller may simply read the winner's row.
    """
    require(actor, "forecast.read")
    today = today or team_today()
    week = iso_week(today)
    existing = session.scalar(select(ForecastSnapshot).where(ForecastSnapshot.week == week))
    if existing is not None:
        return SnapshotResult(week, False, float(existing.weighted))
    # The company's forecast, whoever's visit takes it: the week's one snapshot is everybody's.
    forecast = build_forecast(session, actor=SYSTEM, as_of=today)
    this_week = forecast.weeks[0].weighted
    session.add(
        ForecastSnapshot(
            week=week,
            as_of=today,
            weighted=Decimal(f"{this_week:.2f}"),
            pipeline=Decimal(f"{forecast.pipeline:.2f}"),
            payload=forecast.as_dict(),
            created_at=utcnow(),
        )
    )
    session.flush()
    return SnapshotResult(week, True, this_week)


@dataclass(frozen=True)
class SnapshotWeek:
    week: str
    start: date
    forecast: float
    actual: float
    error_pct: float | None


def forecast_vs_actual(session: Session, *, actor: Actor, today: date | None = None) -> list[SnapshotWeek]:
    """Each past week with a snapshot: what it forecast for itself and what was won in it."""
    require(actor, "forecast.read")
    current = week_start(today or team_today())
    rows = session.execute(
        select(ForecastSnapshot.week, ForecastSnapshot.as_of, ForecastSnapshot.weighted).order_by(
            ForecastSnapshot.as_of
        )
    ).all()
    past = [(week, week_start(as_of), float(weighted)) for week, as_of, weighted in rows]
    past = [row for row in past if row[1] < current]
    actual = won_by_week(session, actor=actor, starts=[start for _, start, _ in past])
    return [
        SnapshotWeek(
            week,
            start,
            predicted,
            actual[start],
            (predicted - actual[start]) / actual[start] * 100 if actual[start] else None,
        )
        for week, start, predicted in past
    ]
