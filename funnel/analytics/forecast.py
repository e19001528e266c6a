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

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor, require
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.forecast_overrides import current_calls
from funnel.analytics.rollups import readers_filter
from funnel.core.clock import day_start_utc, team_today, team_zone, utcnow
from funnel.core.frames import Kind, empty_frame, read_frame
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
    percent = deals["p_win"] * 100  # category_of, for every deal at once
    best_or_not = np.where(percent >= best_case_percent, "best_case", "pipeline")
    by_stage = pd.Series(
        np.where(percent >= commit_percent, "commit", best_or_not),
        index=deals.index,
        dtype="object",
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


@dataclass(frozen=True)
class ForecastHistory:
    """Everything the forecast reads for one reader's customers, loaded in a few scans so that many as-of
    days (the page's controls, the backtest's weeks) are each a computation in memory, not another scan
    of the stage history (at 100,000 customers one windowed scan took 1.3 s; a day from memory ~0.1 s).

    Loaded whole, because the state as of a past day needs every stage event of every customer: an
    aggregate over the stored state can only give today's.
    """

    # customer_id, stage (to_stage, categorical), at, created_at (the customer's) — one row per stage
    # event, sorted by customer, time and id (the order in which the events happened).
    events: pd.DataFrame = field(repr=False)
    # customer_id, amount, expected_close, created_at — one row per opportunity.
    opportunities: pd.DataFrame = field(repr=False)
    # customer_id, customer_no, name, owner — one row per customer (the deals table's labels).
    labels: pd.DataFrame = field(repr=False)
    # What does not depend on the as-of day, worked out once per pipeline (see ranks and entries).
    _derived: dict[tuple[str, ...], tuple[pd.Series, pd.DataFrame]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def _derive(self, pipeline: Pipeline) -> tuple[pd.Series, pd.DataFrame]:
        key = tuple(pipeline.funnel_keys)
        if key not in self._derived:
            ranks = _ranks(self.events["stage"], pipeline)
            customer, at = self.events["customer_id"], self.events["at"]
            entries = {"*": at.groupby(customer).min()}
            for rank, stage in enumerate(pipeline.keys):
                entries[stage] = at[ranks >= rank].groupby(customer[ranks >= rank]).min()
            won = ranks == len(pipeline.keys)
            entries[WON] = at[won].groupby(customer[won]).max()
            self._derived[key] = (ranks, pd.DataFrame(entries))
        return self._derived[key]

    def ranks(self, pipeline: Pipeline) -> pd.Series:
        """Each event's funnel rank (won = the number of stages; lost and unknown stages -1)."""
        return self._derive(pipeline)[0]

    def entries(self, pipeline: Pipeline) -> pd.DataFrame:
        """Per customer (index): when it first reached each stage (its first event at or beyond it),
        its first event (`*`) and its last `won` event, over its whole history."""
        return self._derive(pipeline)[1]


def _scoped(query: Any, filters: CustomerFilter) -> Any:
    if filters.values.get("owner"):
        query = query.outerjoin(User, User.id == Customer.owner_id)
    conditions = filters.conditions()
    return query.where(and_(*conditions)) if conditions else query


def load_history(
    session: Session, *, actor: Actor, filters: CustomerFilter | None = None, labels: bool = True
) -> ForecastHistory:
    """The stage history, opportunities and (with `labels`) names of the customers `actor` may read."""
    require(actor, "forecast.read")
    return _load_history(session, readers_filter(session, actor, filters), labels=labels)


def _load_history(session: Session, scoped: CustomerFilter, *, labels: bool) -> ForecastHistory:
    events = read_frame(
        session,
        _scoped(
            select(
                StageEvent.customer_id,
                StageEvent.to_stage,
                StageEvent.at,
                Customer.created_at,
                StageEvent.id,
            ).join(Customer, Customer.id == StageEvent.customer_id),
            scoped,
        ),
        {"customer_id": "int", "stage": "category", "at": "datetime", "created_at": "datetime", "id": "int"},
    )
    # In the order the events happened: by customer, time and id. One take of the columns that stay,
    # rather than a sort of all five (a copy of the whole frame at a million customers).
    order = np.lexsort((events["id"].to_numpy(), events["at"].to_numpy(), events["customer_id"].to_numpy()))
    events = events.drop(columns="id").take(order)
    opportunities = read_frame(
        session,
        _scoped(
            select(
                Opportunity.customer_id,
                Opportunity.amount,
                Opportunity.expected_close,
                Opportunity.created_at,
            ).join(Customer, Customer.id == Opportunity.customer_id),
            scoped,
        ),
        {"customer_id": "int", "amount": "float", "expected_close": "datetime", "created_at": "datetime"},
    )
    names: dict[str, Kind] = {
        "customer_id": "int",
        "customer_no": "str",
        "name": "str",
        "owner": "str",
    }
    if labels:
        query = select(Customer.id, Customer.customer_no, Customer.name, User.display_name).outerjoin(
            User, User.id == Customer.owner_id
        )
        conditions = scoped.conditions()
        label_frame = read_frame(session, query.where(and_(*conditions)) if conditions else query, names)
    else:
        label_frame = empty_frame(names)
    return ForecastHistory(
        events=events.reset_index(drop=True), opportunities=opportunities, labels=label_frame
    )


def _ranks(stages: pd.Series, pipeline: Pipeline) -> pd.Series:
    """Each stage's funnel rank (won = the number of stages); lost and unknown stages -1."""
    ranks = {key: rank for rank, key in enumerate(pipeline.funnel_keys)}
    return stages.map(lambda stage: ranks.get(stage, -1)).astype("int64")


def states_as_of(history: ForecastHistory, *, cutoff: datetime, pipeline: Pipeline) -> pd.DataFrame:
    """Every customer's state at `cutoff` (naive UTC) from its stage history, one row per customer that
    existed and had an event by then.

    Columns: customer_id, stage (its last event's to_stage), entered_at (that event's time), furthest
    (rank of the furthest stage reached, -1 if none).
    """
    events = history.events
    stamp = pd.Timestamp(cutoff)
    existing = (events["at"] < stamp) & (events["created_at"] < stamp)
    before = events[existing]
    # Sorted by customer and time: a customer's last row is its state, its highest rank its furthest.
    last = ~before["customer_id"].duplicated(keep="last")
    furthest = history.ranks(pipeline)[existing].groupby(before["customer_id"].to_numpy()).max()
    states = before.loc[last, ["customer_id", "stage", "at"]].rename(columns={"at": "entered_at"})
    states["stage"] = states["stage"].astype("object")
    states["furthest"] = furthest.reindex(states["customer_id"].to_numpy()).to_numpy().astype("int64")
    return states.reset_index(drop=True)


def customer_states(
    session: Session, *, cutoff: datetime, filters: CustomerFilter, pipeline: Pipeline
) -> pd.DataFrame:
    """Every customer's state at `cutoff` (naive UTC) within `filters` (see states_as_of)."""
    return states_as_of(_load_history(session, filters, labels=False), cutoff=cutoff, pipeline=pipeline)


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


def days_to_close(history: ForecastHistory, won_ids: list[int], pipeline: Pipeline) -> dict[str, float]:
    """Median days from entering each stage (first event at or beyond it) to winning, over `won_ids`."""
    if not won_ids:
        return {}
    entries = history.entries(pipeline).reindex(won_ids)
    won_at = entries[WON].dropna()
    medians: dict[str, float] = {}
    for key in pipeline.keys:
        days = ((won_at - entries[key].reindex(won_at.index)).dt.total_seconds() / 86400).dropna()
        if len(days) >= MIN_WON_FOR_MEDIAN:
            medians[key] = float(days.median())
    overall = (won_at - entries["*"].reindex(won_at.index)).dt.total_seconds() / 86400
    medians["*"] = float(overall.median()) if len(overall.dropna()) else float(FALLBACK_DAYS_TO_CLOSE)
    return medians


def open_amounts(history: ForecastHistory, *, cutoff: datetime) -> pd.DataFrame:
    """customer_id, amount (sum of opportunities created before `cutoff`), expected_close (earliest)."""
    made = history.opportunities[history.opportunities["created_at"] < pd.Timestamp(cutoff)]
    grouped = made.groupby("customer_id", sort=False).agg(
        amount=("amount", "sum"), expected_close=("expected_close", "min")
    )
    return grouped.reset_index()


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
    history: ForecastHistory | None = None,
) -> Forecast:
    """The forecast as of the end of `as_of` (default: today in the team's zone) for what `actor` may see.

    `detail=False` leaves out the deals' names, owners and forecast calls (the backtest needs only the
    figures). `history` is what load_history gave for the same actor and filters, to make several
    forecasts from one load."""
    require(actor, "forecast.read")
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    pipeline = pipeline or get_pipeline()
    if history is None:
        history = load_history(session, actor=actor, filters=filters, labels=detail)
    as_of = as_of or team_today()
    cutoff = day_start_utc(as_of + timedelta(days=1))
    states = states_as_of(history, cutoff=cutoff, pipeline=pipeline)

    window_start = pd.Timestamp(cutoff - timedelta(days=window_days))
    outcome = states["stage"].isin([WON, LOST])
    closed = states[outcome & (states["entered_at"] >= window_start)]
    p_win, source = win_probabilities(closed, pipeline)

    open_ = states[~outcome].copy()
    # A stage no longer in the pipeline counts as its first stage.
    open_.loc[~open_["stage"].isin(pipeline.keys), "stage"] = pipeline.first
    deals = open_.merge(open_amounts(history, cutoff=cutoff), on="customer_id", how="left")
    deals["amount"] = deals["amount"].fillna(0.0).astype("float64")
    deals["p_win"] = deals["stage"].map(p_win).astype("float64")
    deals["weighted"] = deals["amount"] * deals["p_win"]

    won_ids = [int(i) for i in closed.loc[closed["stage"] == WON, "customer_id"]]
    medians = days_to_close(history, won_ids, pipeline) if deals["expected_close"].isna().any() else {}
    deals = _place(deals, as_of=as_of, cutoff=cutoff, medians=medians)

    first_week = week_start(as_of)
    upcoming = deals[~deals["slipped"] & (deals["amount"] > 0)]
    week_index = (pd.to_datetime(upcoming["close_on"]) - pd.Timestamp(first_week)).dt.days // 7
    by_week = upcoming.groupby(week_index.to_numpy()).agg(
        deals=("customer_id", "count"), amount=("amount", "sum"), weighted=("weighted", "sum")
    )
    buckets: list[ForecastWeek] = []
    for index in range(weeks):
        start = first_week + timedelta(weeks=index)
        found = index in by_week.index
        buckets.append(
            ForecastWeek(
                week=iso_week(start),
                start=start,
                deals=int(by_week.at[index, "deals"]) if found else 0,
                amount=float(by_week.at[index, "amount"]) if found else 0.0,
                weighted=float(by_week.at[index, "weighted"]) if found else 0.0,
            )
        )
    if detail:
        if len(deals):
            deals = deals.merge(history.labels, on="customer_id", how="left")
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
    # One read of every latest call (few: a rep's exceptions), not an IN list of every open deal.
    calls = current_calls(session, None, cutoff=cutoff) if len(deals) else {}
    made = pd.DataFrame(
        [(i, c.category, c.note, c.by) for i, c in calls.items()],
        columns=["customer_id", "call", "call_note", "call_by"],
        dtype="object",
    )
    made["customer_id"] = made["customer_id"].astype(deals["customer_id"].dtype)
    deals = deals.merge(made, on="customer_id", how="left")
    for column in ("call", "call_note", "call_by"):
        deals[column] = deals[column].astype("object").where(deals[column].notna(), None)
    return deals


def _place(deals: pd.DataFrame, *, as_of: date, cutoff: datetime, medians: dict[str, float]) -> pd.DataFrame:
    """`close_on`, `placed_by` and `slipped` for each open deal."""
    deals = deals.copy()
    has_date = deals["expected_close"].notna()
    deals["placed_by"] = "date"
    deals.loc[~has_date, "placed_by"] = "median"
    fallback = medians.get("*", float(FALLBACK_DAYS_TO_CLOSE))
    typical = deals["stage"].map(medians).astype("float64").fillna(fallback)
    entered = pd.to_datetime(deals["entered_at"])
    spent = (pd.Timestamp(cutoff) - entered).dt.total_seconds() / 86400
    # Whole days ahead: a date plus a fractional timedelta keeps only its whole days.
    ahead = pd.to_timedelta((typical - spent).clip(lower=0.0) // 1, unit="D")
    expected = pd.to_datetime(deals["expected_close"])
    close_on = expected.where(has_date, pd.Timestamp(as_of) + ahead)
    deals["close_on"] = close_on.dt.date.astype("object")
    deals["slipped"] = has_date & (close_on < pd.Timestamp(as_of))
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


def backtest_starts(weeks: int, today: date | None = None) -> list[date]:
    """The Mondays of the last `weeks` full weeks before today's, oldest first."""
    this_week = week_start(today or team_today())
    return [this_week - timedelta(weeks=k) for k in range(weeks, 0, -1)]


def backtest_forecast(
    session: Session,
    *,
    actor: Actor,
    start: date,
    window_days: int = DEFAULT_WINDOW_DAYS,
    filters: CustomerFilter | None = None,
    history: ForecastHistory | None = None,
) -> float:
    """The weighted forecast for the week beginning `start`, as made on the Sunday before it."""
    made = build_forecast(
        session,
        actor=actor,
        as_of=start - timedelta(days=1),
        weeks=2,
        window_days=window_days,
        filters=filters,
        detail=False,
        history=history,
    )
    return made.weeks[1].weighted  # weeks[0] is the week of the as-of day itself


def score_backtest(starts: list[date], forecast: dict[date, float], actual: dict[date, float]) -> Backtest:
    """Each week's forecast against what was won in it, and the error over all of them."""
    rows: list[BacktestWeek] = []
    for start in starts:
        predicted, won = forecast[start], actual[start]
        error = (predicted - won) / won * 100 if won else None
        rows.append(BacktestWeek(iso_week(start), start, predicted, won, error))
    total_actual = sum(r.actual for r in rows)
    wape = sum(abs(r.forecast - r.actual) for r in rows) / total_actual * 100 if total_actual else None
    return Backtest(rows, wape)


def backtest(
    session: Session,
    *,
    actor: Actor,
    weeks: int = 8,
    today: date | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    filters: CustomerFilter | None = None,
    history: ForecastHistory | None = None,
) -> Backtest:
    """Replay the method over the last `weeks` full weeks: each forecast made as of the Sunday before,
    all from one load of the history (`history`, when given, is load_history's for the same filters)."""
    starts = backtest_starts(weeks, today)
    actual = won_by_week(session, actor=actor, starts=starts, filters=filters)
    history = history or load_history(session, actor=actor, filters=filters, labels=False)
    forecast = {
        start: backtest_forecast(
            session, actor=actor, start=start, window_days=window_days, filters=filters, history=history
        )
        for start in starts
    }
    return score_backtest(starts, forecast, actual)


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
