"""The queries benchmarks/queries_bench.py times: each as Loudou runs it, the plain pandas way, in DuckDB.

One table, QUERIES, of small adapters. `loudou` calls the highest-level public function the page (or the
CLI) calls, with the arguments it passes; `pandas` reads the rows it needs with pd.read_sql and computes
the same answer in pandas; `duckdb` runs SQL over DuckDB's in-memory copy of the tables. All three return
the same plain shape (dicts, tuples, ints, floats rounded to the cent) so that `same` can compare them.
When a function's internals change, only its `loudou` adapter here may need updating.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.kpis import KPI_KEYS, kpi_tiles, windows
from funnel.analytics.reasons import lost_by_reason
from funnel.analytics.report import build_report
from funnel.analytics.rollups import entity_funnel, lost_reasons_at, objections_at, stuck_at
from funnel.core.clock import day_start_utc, team_zone, utcnow
from funnel.pipeline.stages import LOST, WON, get_pipeline

PAGE_SIZE = 100  # pages/leads.py
FORECAST_WEEKS = 26  # pages/_shared/forecast_parts.MAX_WEEKS: the page builds all weeks once
FORECAST_WINDOW = 365  # funnel.analytics.forecast.DEFAULT_WINDOW_DAYS, the page's default
MIN_CLOSED_FOR_HISTORY = 20  # funnel.analytics.forecast


@dataclass(frozen=True)
class Ctx:
    """What every query is asked, fixed per data set before timing (chosen from the data, untimed)."""

    today: date
    now: datetime  # naive UTC, by the hour as the dashboard passes it
    filters: CustomerFilter  # the dashboard's filter bar: the last 90 days
    start: datetime  # its bounds in naive UTC
    end: datetime
    loss_stage: str  # the stage before the lowest step (the dashboard's loss point)
    stage: str  # the leads list's filtered page: this stage and channel
    channel: str
    phone: str  # searches
    customer_no: str
    name: str


@dataclass(frozen=True)
class Query:
    name: str
    page: str  # dashboard, forecast, leads, export
    loudou: Callable[[Session, Ctx], Any]
    pandas: Callable[[Connection, Ctx], Any]
    duckdb: Callable[[Any, Ctx], Any]
    target: bool  # a dashboard or forecast query: the < 150 ms, 10x pandas, 2x DuckDB targets apply
    note: str = ""


def make_ctx(session: Session, today: date, now: datetime) -> Ctx:
    """The questions for this data set: a 90-day dashboard, one customer's phone, number and name."""
    since, until = today - timedelta(days=90), today
    filters = CustomerFilter(since=since, until=until)
    report = build_report(session, actor=SYSTEM, filters=filters)
    steps = {k: v for k, v in report.overall.step_conversion.items() if v is not None and k != WON}
    lowest = min(steps, key=lambda k: steps[k])
    stages = report.overall.stages
    middle = int(session.scalar(text("SELECT MAX(id) FROM customer")) or 0) // 2
    row = session.execute(
        text(
            "SELECT c.customer_no, c.name, c.stage, c.channel, k.phone FROM customer c JOIN contact k "
            "ON k.customer_id = c.id WHERE c.id >= :m AND k.phone IS NOT NULL AND c.channel IS NOT NULL "
            "ORDER BY c.id LIMIT 1"
        ),
        {"m": middle},
    ).one()
    return Ctx(
        today=today,
        now=now,
        filters=filters,
        start=day_start_utc(since),
        end=day_start_utc(until + timedelta(days=1)),
        loss_stage=stages[stages.index(lowest) - 1],
        stage=row.stage,
        channel=row.channel,
        phone=row.phone,
        customer_no=row.customer_no,
        name=row.name,
    )


def same(a: Any, b: Any) -> bool:
    """Equal answers: counts and texts exactly, floats to the cent (medians of hours to 0.005)."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.005)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _read(conn: Connection, sql: str, dates: tuple[str, ...] = ()) -> pd.DataFrame:
    return pd.read_sql(text(sql), conn, parse_dates=list(dates))


def _key(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _money(value: Any) -> float:
    return round(float(value or 0), 2)


# ---- dashboard: the report (funnel roll-up, by channel, loss details, entity totals) ------------------


def _stages() -> list[str]:
    return get_pipeline().funnel_keys


def _segment(total: int, open_: int, won: int, lost: int, reached: Any, amount: Any) -> tuple[Any, ...]:
    return (int(total), int(open_), int(won), int(lost), tuple(int(r) for r in reached), _money(amount))


def report_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    r = build_report(session, actor=SYSTEM, by="channel", filters=ctx.filters)
    stages = r.stages

    def seg(s: Any) -> tuple[Any, ...]:
        return _segment(s.total, s.open, s.won, s.lost, [s.reached[k] for k in stages], s.won_amount)

    details = {
        (_key(row.segment), row.stage, row.kind, row.detail): int(row.count)
        for row in r.segment_details.itertuples()
    }
    return {
        "overall": seg(r.overall),
        "segments": {s.value: seg(s) for s in r.segments},
        "details": details,
        "entities": {k: (_money(v) if "amount" in k else int(v)) for k, v in r.entities.items()},
    }


def _period(frame: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    return frame[(frame["created_at"] >= ctx.start) & (frame["created_at"] < ctx.end)]


def _entities_pandas(conn: Connection, customers: pd.DataFrame) -> dict[str, Any]:
    opp = _read(conn, "SELECT customer_id, amount FROM opportunity")
    con = _read(conn, "SELECT customer_id, amount, status FROM contract")
    pay = _read(conn, "SELECT customer_id, amount FROM payment")
    con = con[con["status"] == "signed"]
    ids = customers["id"]
    o, c, p = (f[f["customer_id"].isin(ids)] for f in (opp, con, pay))
    return {
        "customers": len(ids),
        "with_opportunity": int(o["customer_id"].nunique()),
        "with_contract": int(c["customer_id"].nunique()),
        "with_payment": int(p["customer_id"].nunique()),
        "opportunity_amount": _money(o["amount"].sum()),
        "contract_amount": _money(c["amount"].sum()),
        "paid_amount": _money(p["amount"].sum()),
    }


def report_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    stages = _stages()
    cols = "id, channel, status, stage, furthest_stage, lost_reason, created_at"
    cust = _period(_read(conn, f"SELECT {cols} FROM customer", ("created_at",)), ctx)
    opp = _read(conn, "SELECT customer_id, amount FROM opportunity")
    con = _read(conn, "SELECT customer_id, amount, status FROM contract")
    obj = _read(conn, "SELECT customer_id, stage, category FROM objection")
    signed = con[con["status"] == "signed"].groupby("customer_id")["amount"].sum()
    expected = opp.groupby("customer_id")["amount"].sum()
    won = cust["status"] == WON
    amount = cust["id"].map(signed).fillna(cust["id"].map(expected)).fillna(0.0).where(won, 0.0)
    rank = cust["furthest_stage"].map({k: i for i, k in enumerate(stages)}).fillna(0)
    facts = pd.DataFrame(
        {"channel": cust["channel"], "open": cust["status"] == "open", "won": won}
        | {"lost": cust["status"] == LOST, "amount": amount}
        | {f"r{i}": rank >= i for i in range(len(stages))}
    )

    def seg(f: pd.DataFrame) -> tuple[Any, ...]:
        reached = [f[f"r{i}"].sum() for i in range(len(stages))]
        return _segment(len(f), f["open"].sum(), f["won"].sum(), f["lost"].sum(), reached, f["amount"].sum())

    segments = {_key(ch): seg(f) for ch, f in facts.groupby("channel", dropna=False)}
    lost = cust[cust["status"] == LOST].assign(detail=lambda f: f["lost_reason"].fillna(""))
    details: dict[Any, int] = {}
    for (ch, stage, detail), n in lost.groupby(["channel", "stage", "detail"], dropna=False).size().items():
        details[(_key(ch), stage, "lost_reason", detail)] = int(n)
    joined = obj.merge(cust[["id", "channel", "stage"]], left_on="customer_id", right_on="id")
    joined["at"] = joined["stage_x"].fillna(joined["stage_y"])
    for (ch, stage, cat), n in joined.groupby(["channel", "at", "category"], dropna=False).size().items():
        details[(_key(ch), stage, "objection", cat)] = int(n)
    return {
        "overall": seg(facts),
        "segments": segments,
        "details": details,
        "entities": _entities_pandas(conn, cust),
    }


PERIOD = "c.created_at >= $start AND c.created_at < $end"
DEAL_AMOUNT = """COALESCE(
  (SELECT SUM(amount) FROM contract k WHERE k.customer_id = c.id AND k.status = 'signed'),
  (SELECT SUM(amount) FROM opportunity o WHERE o.customer_id = c.id), 0)"""


def _entities_duckdb(con: Any, where: str, params: dict[str, Any]) -> dict[str, Any]:
    row = con.execute(
        f"""
        WITH o AS (SELECT customer_id, COUNT(*) n, SUM(amount) amount FROM opportunity GROUP BY 1),
             k AS (SELECT customer_id, COUNT(*) n, SUM(amount) amount FROM contract
                   WHERE status = 'signed' GROUP BY 1),
             p AS (SELECT customer_id, SUM(amount) amount FROM payment GROUP BY 1)
        SELECT COUNT(*), COUNT(o.n), COUNT(k.n), COUNT(p.amount),
               COALESCE(SUM(o.amount), 0), COALESCE(SUM(k.amount), 0), COALESCE(SUM(p.amount), 0)
        FROM customer c LEFT JOIN o ON o.customer_id = c.id LEFT JOIN k ON k.customer_id = c.id
        LEFT JOIN p ON p.customer_id = c.id WHERE {where}""",
        params,
    ).fetchone()
    names = ("customers", "with_opportunity", "with_contract", "with_payment")
    money = ("opportunity_amount", "contract_amount", "paid_amount")
    return {n: int(v) for n, v in zip(names, row[:4], strict=True)} | {
        n: _money(v) for n, v in zip(money, row[4:], strict=True)
    }


def report_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    stages = _stages()
    params = {"start": ctx.start, "end": ctx.end}
    ranks = " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(stages))
    reached = ", ".join(f"COUNT(*) FILTER (furthest >= {i})" for i in range(len(stages)))
    rows = con.execute(
        f"""
        WITH f AS (SELECT c.channel, c.status, CASE c.furthest_stage {ranks} ELSE 0 END AS furthest,
                          CASE WHEN c.status = '{WON}' THEN {DEAL_AMOUNT} ELSE 0 END AS amount
                   FROM customer c WHERE {PERIOD})
        SELECT channel, COUNT(*), COUNT(*) FILTER (status = 'open'), COUNT(*) FILTER (status = '{WON}'),
               COUNT(*) FILTER (status = '{LOST}'), SUM(amount), {reached}
        FROM f GROUP BY channel""",
        params,
    ).fetchall()
    segments = {r[0]: _segment(r[1], r[2], r[3], r[4], r[6:], r[5]) for r in rows}
    c = list(zip(*segments.values(), strict=True))
    reached_all = [sum(r) for r in zip(*c[4], strict=True)]
    overall = _segment(sum(c[0]), sum(c[1]), sum(c[2]), sum(c[3]), reached_all, sum(c[5]))
    details = {
        (ch, stage, kind, detail): int(n)
        for ch, stage, kind, detail, n in con.execute(
            f"""SELECT channel, stage, 'lost_reason', COALESCE(lost_reason, ''), COUNT(*) FROM customer c
                WHERE {PERIOD} AND status = '{LOST}' GROUP BY ALL
                UNION ALL
                SELECT c.channel, COALESCE(o.stage, c.stage), 'objection', o.category, COUNT(*)
                FROM objection o JOIN customer c ON c.id = o.customer_id WHERE {PERIOD} GROUP BY ALL""",
            params,
        ).fetchall()
    }
    return {
        "overall": overall,
        "segments": segments,
        "details": details,
        "entities": _entities_duckdb(con, PERIOD, params),
    }


# ---- dashboard: the entity funnel, lost by reason, the loss point ----------------------------------


def entities_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    frame = entity_funnel(session, actor=SYSTEM, filters=ctx.filters)
    keys = ("customers", "with_opportunity", "with_contract", "with_payment")
    money = ("opportunity_amount", "contract_amount", "paid_amount")
    counts = dict(zip(keys, (int(n) for n in frame["customers"]), strict=True))
    return counts | dict(zip(money, (_money(a) for a in frame["amount"][1:]), strict=True))


def entities_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    cust = _period(_read(conn, "SELECT id, created_at FROM customer", ("created_at",)), ctx)
    return _entities_pandas(conn, cust)


def entities_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    return _entities_duckdb(con, PERIOD, {"start": ctx.start, "end": ctx.end})


def reasons_loudou(session: Session, ctx: Ctx) -> dict[str, int]:
    return {
        r.code: r.count for r in lost_by_reason(session, actor=SYSTEM, customer_filter=ctx.filters) if r.count
    }


def reasons_pandas(conn: Connection, ctx: Ctx) -> dict[str, int]:
    cust = _period(_read(conn, "SELECT status, lost_reason, created_at FROM customer", ("created_at",)), ctx)
    counts = cust[cust["status"] == LOST]["lost_reason"].fillna("").value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def reasons_duckdb(con: Any, ctx: Ctx) -> dict[str, int]:
    rows = con.execute(
        f"SELECT COALESCE(lost_reason, ''), COUNT(*) FROM customer c WHERE {PERIOD} AND status = '{LOST}' "
        "GROUP BY 1",
        {"start": ctx.start, "end": ctx.end},
    ).fetchall()
    return {k: int(n) for k, n in rows}


def loss_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    """cached_loss_detail: lost reasons, objections and the customers stuck longest at the loss point."""
    kw: dict[str, Any] = {"actor": SYSTEM, "stage": ctx.loss_stage, "filters": ctx.filters}
    reasons = lost_reasons_at(session, **kw)
    objections = objections_at(session, **kw)
    stuck = stuck_at(session, now=ctx.now, **kw)
    return {
        "reasons": [(r, int(n)) for r, n in reasons.itertuples(index=False)],
        "objections": [(c, int(n), int(k)) for c, n, k in objections.itertuples(index=False)],
        "stuck": [int(i) for i in stuck["id"]],
    }


def loss_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    cust = _read(conn, "SELECT id, status, stage, lost_reason, created_at FROM customer", ("created_at",))
    cust = _period(cust, ctx)
    obj = _read(conn, "SELECT customer_id, stage, category FROM objection")
    events = _read(conn, "SELECT customer_id, to_stage, at FROM stage_event", ("at",))
    at = ctx.loss_stage
    lost = cust[(cust["status"] == LOST) & (cust["stage"] == at)]["lost_reason"].fillna("")
    reasons = (
        lost.value_counts()
        .rename_axis("r")
        .reset_index(name="n")
        .sort_values(["n", "r"], ascending=[False, True])
    )
    joined = obj.merge(cust[["id", "stage"]], left_on="customer_id", right_on="id")
    joined = joined[joined["stage_x"].fillna(joined["stage_y"]) == at]
    objections = joined.groupby("category").agg(n=("id", "size"), k=("customer_id", "nunique")).reset_index()
    objections = objections.sort_values(["n", "category"], ascending=[False, True])
    open_ = cust[(cust["status"] == "open") & (cust["stage"] == at)]
    entered = events[events["to_stage"] == at].groupby("customer_id")["at"].max()
    since = open_["id"].map(entered).fillna(open_["created_at"])
    stuck = open_.assign(since=since).sort_values(["since", "id"]).head(20)
    return {
        "reasons": [(r, int(n)) for r, n in reasons.itertuples(index=False)],
        "objections": [(c, int(n), int(k)) for c, n, k in objections.itertuples(index=False)],
        "stuck": [int(i) for i in stuck["id"]],
    }


def loss_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    params = {"start": ctx.start, "end": ctx.end, "at": ctx.loss_stage}
    reasons = con.execute(
        f"SELECT COALESCE(lost_reason, '') r, COUNT(*) n FROM customer c WHERE {PERIOD} "
        f"AND status = '{LOST}' AND stage = $at GROUP BY 1 ORDER BY n DESC, r",
        params,
    ).fetchall()
    objections = con.execute(
        f"SELECT o.category, COUNT(*) n, COUNT(DISTINCT o.customer_id) FROM objection o JOIN customer c "
        f"ON c.id = o.customer_id WHERE {PERIOD} AND COALESCE(o.stage, c.stage) = $at "
        "GROUP BY 1 ORDER BY n DESC, 1",
        params,
    ).fetchall()
    stuck = con.execute(
        f"""WITH e AS (SELECT customer_id, MAX("at") AS entered FROM stage_event WHERE to_stage = $at
                       GROUP BY 1)
            SELECT c.id FROM customer c LEFT JOIN e ON e.customer_id = c.id
            WHERE {PERIOD} AND c.status = 'open' AND c.stage = $at
            ORDER BY COALESCE(e.entered, c.created_at), c.id LIMIT 20""",
        params,
    ).fetchall()
    return {
        "reasons": [(r, int(n)) for r, n in reasons],
        "objections": [(c, int(n), int(k)) for c, n, k in objections],
        "stuck": [int(i) for (i,) in stuck],
    }


# ---- dashboard: the KPI tiles, this period and the one before ----------------------------------------


def kpis_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    f = ctx.filters
    tiles = kpi_tiles(session, actor=SYSTEM, since=f.since, until=f.until, today=ctx.today, filters=f)
    return {t.key: (t.value, t.previous) for t in tiles}


def _windows(ctx: Ctx) -> list[Any]:
    current, previous = windows(ctx.filters.since, ctx.filters.until, today=ctx.today)
    assert previous is not None
    return [current, previous]


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.median()) if len(values) else None


def kpis_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    dates = ("created_at", "first_contacted_at", "won_at", "lost_at")
    cust = _read(
        conn, "SELECT id, status, created_at, first_contacted_at, won_at, lost_at FROM customer", dates
    )
    opp = _read(conn, "SELECT customer_id, amount, created_at FROM opportunity", ("created_at",))
    con = _read(conn, "SELECT customer_id, amount, status FROM contract")
    pay = _read(conn, "SELECT customer_id, amount, received_on FROM payment", ("received_on",))
    signed = con[con["status"] == "signed"].groupby("customer_id")["amount"].sum()
    expected = opp.groupby("customer_id")["amount"].sum()
    now = utcnow()
    figures = []
    for w in _windows(ctx):

        def within(col: pd.Series, w: Any = w) -> pd.Series:
            inside = col < w.end
            return inside & (col >= w.start) if w.start is not None else inside

        created = within(cust["created_at"])
        lost = int(((cust["status"] == LOST) & within(cust["lost_at"])).sum())
        won_rows = cust[(cust["status"] == WON) & within(cust["won_at"])]
        won = len(won_rows)
        contacted = cust[created & cust["first_contacted_at"].notna()]
        hours = ((contacted["first_contacted_at"] - contacted["created_at"]).dt.total_seconds() / 3600).clip(
            lower=0
        )
        days = (won_rows["won_at"] - won_rows["created_at"]).dt.total_seconds() / 86400
        amount = won_rows["id"].map(signed).fillna(won_rows["id"].map(expected)).fillna(0.0)
        start_day = (
            pd.Timestamp(w.start.replace(tzinfo=UTC).astimezone(team_zone()).date()) if w.start else None
        )
        end_day = pd.Timestamp(w.end.replace(tzinfo=UTC).astimezone(team_zone()).date())
        paid = pay["received_on"] < end_day
        if start_day is not None:
            paid &= pay["received_on"] >= start_day
        if w.end >= now:
            open_then = cust[cust["status"] == "open"]["id"]
        else:
            alive = (cust["created_at"] < w.end) & ~(cust["won_at"] < w.end) & ~(cust["lost_at"] < w.end)
            open_then = cust[alive]["id"]
        pipeline = opp[(opp["created_at"] < w.end) & opp["customer_id"].isin(open_then)]["amount"].sum()
        figures.append(
            {
                "new_leads": float(created.sum()),
                "won": float(won),
                "win_rate": won / (won + lost) if won + lost else None,
                "won_amount": float(amount.sum()),
                "median_days_to_win": _median(days),
                "speed_to_lead_hours": _median(hours),
                "open_pipeline": float(pipeline),
                "collected": float(pay[paid]["amount"].sum()),
            }
        )
    return {k: (figures[0][k], figures[1][k]) for k in KPI_KEYS}


def kpis_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    now = utcnow()
    figures = []
    for w in _windows(ctx):
        start = w.start or datetime(1, 1, 1)
        zone = team_zone()
        days = [w.start or datetime(1, 1, 2), w.end]
        start_day, end_day = (d.replace(tzinfo=UTC).astimezone(zone).date() for d in days)
        p = {"s": start, "e": w.end}
        row = con.execute(
            f"""SELECT COUNT(*) FILTER (created_at >= $s AND created_at < $e),
                  COUNT(*) FILTER (status = '{LOST}' AND lost_at >= $s AND lost_at < $e),
                  COUNT(*) FILTER (status = '{WON}' AND won_at >= $s AND won_at < $e),
                  SUM(CASE WHEN status = '{WON}' AND won_at >= $s AND won_at < $e THEN {DEAL_AMOUNT} END),
                  MEDIAN(epoch(won_at - created_at) / 86400)
                    FILTER (status = '{WON}' AND won_at >= $s AND won_at < $e),
                  MEDIAN(GREATEST(0, epoch(first_contacted_at - created_at) / 3600))
                    FILTER (created_at >= $s AND created_at < $e AND first_contacted_at IS NOT NULL)
                FROM customer c""",
            p,
        ).fetchone()
        if w.end >= now:
            open_then = "SELECT id FROM customer WHERE status = 'open'"
        else:
            open_then = (
                "SELECT id FROM customer WHERE created_at < $e AND (won_at IS NULL OR won_at >= $e) "
                "AND (lost_at IS NULL OR lost_at >= $e)"
            )
        pipeline = con.execute(
            f"SELECT COALESCE(SUM(amount), 0) FROM opportunity WHERE created_at < $e "
            f"AND customer_id IN ({open_then})",
            {"e": w.end},
        ).fetchone()[0]
        collected = con.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM payment WHERE received_on >= $a AND received_on < $b",
            {"a": start_day if w.start else date(1, 1, 1), "b": end_day},
        ).fetchone()[0]
        new, lost, won = (int(v) for v in row[:3])
        figures.append(
            {
                "new_leads": float(new),
                "won": float(won),
                "win_rate": won / (won + lost) if won + lost else None,
                "won_amount": float(row[3] or 0),
                "median_days_to_win": None if row[4] is None else float(row[4]),
                "speed_to_lead_hours": None if row[5] is None else float(row[5]),
                "open_pipeline": float(pipeline),
                "collected": float(collected),
            }
        )
    return {k: (figures[0][k], figures[1][k]) for k in KPI_KEYS}
