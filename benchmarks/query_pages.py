"""The forecast page, the leads list and `export merged`, three ways (see benchmarks/query_set.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from benchmarks.query_set import (
    FORECAST_WEEKS,
    FORECAST_WINDOW,
    MIN_CLOSED_FOR_HISTORY,
    PAGE_SIZE,
    Ctx,
    _money,
    _read,
)
from funnel.access.permissions import SYSTEM
from funnel.analytics.forecast import build_forecast
from funnel.closing.merged import merged_rows
from funnel.core.clock import day_start_utc
from funnel.customers.read import LeadFilters, count_customers, list_customers
from funnel.pipeline.stages import LOST, WON, get_pipeline

# ---- the forecast as of today --------------------------------------------------------------------------
# Compared: closed customers in the window, P(win | stage), open deals, pipeline, weighted, slipped.
# Not compared: the weekly buckets (placing a dateless deal needs each stage's median days to close, a
# second pass over the won customers' histories that the equivalents leave out).


def _forecast_answer(
    closed: int, p_win: dict[str, float], open_: int, pipe: Any, weighted: Any, slipped: Any
) -> dict[str, Any]:
    return {
        "closed_in_window": int(closed),
        "p_win": {k: round(float(v), 9) for k, v in p_win.items()},
        "open": int(open_),
        "pipeline": _money(pipe),
        "weighted": _money(weighted),
        "slipped": int(slipped),
    }


def forecast_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    f = build_forecast(
        session, actor=SYSTEM, as_of=ctx.today, weeks=FORECAST_WEEKS, window_days=FORECAST_WINDOW
    )
    return _forecast_answer(f.closed_in_window, f.p_win, f.open, f.pipeline, f.weighted, f.slipped)


def _p_win(reached_won: list[tuple[int, int]]) -> dict[str, float]:
    pipeline = get_pipeline()
    out = {}
    for key, (n, won) in zip(pipeline.keys, reached_won, strict=True):
        out[key] = won / n if n >= MIN_CLOSED_FOR_HISTORY else pipeline.win_probability(key)
    return out


def _cutoffs(ctx: Ctx) -> tuple[Any, Any]:
    cutoff = day_start_utc(ctx.today + timedelta(days=1))
    return cutoff, cutoff - timedelta(days=FORECAST_WINDOW)


def forecast_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    pipeline = get_pipeline()
    cutoff, window_start = _cutoffs(ctx)
    cust = _read(conn, "SELECT id, created_at FROM customer", ("created_at",))
    events = _read(conn, "SELECT id, customer_id, to_stage, at FROM stage_event", ("at",))
    opp = _read(conn, "SELECT customer_id, amount, expected_close, created_at FROM opportunity",
                ("created_at", "expected_close"))  # fmt: skip
    known = cust[cust["created_at"] < cutoff]["id"]
    events = events[(events["at"] < cutoff) & events["customer_id"].isin(known)]
    ranks = {k: i for i, k in enumerate(pipeline.funnel_keys)}
    events = events.assign(rank=events["to_stage"].map(ranks).fillna(-1))
    furthest = events.groupby("customer_id")["rank"].max()
    last = events.sort_values(["customer_id", "at", "id"]).drop_duplicates("customer_id", keep="last")
    states = last.assign(furthest=last["customer_id"].map(furthest))
    outcome = states["to_stage"].isin([WON, LOST])
    closed = states[outcome & (states["at"] >= window_start)]
    won = closed["to_stage"] == WON
    p_win = _p_win(
        [
            (int((closed["furthest"] >= r).sum()), int(((closed["furthest"] >= r) & won).sum()))
            for r in range(len(pipeline.keys))
        ]
    )
    deals = states[~outcome]
    stage = deals["to_stage"].where(deals["to_stage"].isin(pipeline.keys), pipeline.first)
    opp = opp[opp["created_at"] < cutoff]
    sums = opp.groupby("customer_id").agg(amount=("amount", "sum"), close=("expected_close", "min"))
    amount = deals["customer_id"].map(sums["amount"]).fillna(0.0)
    close = deals["customer_id"].map(sums["close"])
    weighted = (amount * stage.map(p_win)).sum()
    slipped = (close.notna() & (close < pd.Timestamp(ctx.today))).sum()
    return _forecast_answer(len(closed), p_win, len(deals), amount.sum(), weighted, slipped)


def forecast_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    pipeline = get_pipeline()
    cutoff, window_start = _cutoffs(ctx)
    ranks = " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(pipeline.funnel_keys))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE states AS
            SELECT customer_id, arg_max(to_stage, ("at", id)) AS stage, max("at") AS entered_at,
                   max(CASE to_stage {ranks} ELSE -1 END) AS furthest
            FROM stage_event e WHERE "at" < $c
              AND customer_id IN (SELECT id FROM customer WHERE created_at < $c) GROUP BY 1""",
        {"c": cutoff},
    )
    counts = ", ".join(
        f"COUNT(*) FILTER (furthest >= {r}), COUNT(*) FILTER (furthest >= {r} AND stage = '{WON}')"
        for r in range(len(pipeline.keys))
    )
    row = con.execute(
        f"SELECT COUNT(*), {counts} FROM states WHERE stage IN ('{WON}', '{LOST}') AND entered_at >= $w",
        {"w": window_start},
    ).fetchone()
    p_win = _p_win([(row[1 + 2 * r], row[2 + 2 * r]) for r in range(len(pipeline.keys))])
    cases = " ".join(f"WHEN '{k}' THEN {p}" for k, p in p_win.items())
    keys = ", ".join(f"'{k}'" for k in pipeline.keys)
    deals = con.execute(
        f"""WITH o AS (SELECT customer_id, SUM(amount) amount, MIN(expected_close) AS first_close
                       FROM opportunity WHERE created_at < $c GROUP BY 1),
                 d AS (SELECT CASE WHEN stage IN ({keys}) THEN stage ELSE '{pipeline.first}' END AS stage,
                              COALESCE(o.amount, 0) AS amount, o.first_close
                       FROM states s LEFT JOIN o USING (customer_id)
                       WHERE s.stage NOT IN ('{WON}', '{LOST}'))
            SELECT COUNT(*), SUM(amount), SUM(amount * CASE stage {cases} END),
                   COUNT(*) FILTER (first_close < $today) FROM d""",
        {"c": cutoff, "today": ctx.today},
    ).fetchone()
    return _forecast_answer(row[0], p_win, deals[0], deals[1], deals[2], deals[3])


# ---- the leads list: a page of PAGE_SIZE, newest first, and its count (as pages/leads.py reads them) --


def _leads_page(session: Session, search: str | None, filters: LeadFilters | None) -> dict[str, Any]:
    frame = list_customers(session, actor=SYSTEM, search=search, limit=PAGE_SIZE, filters=filters)
    if len(frame) < PAGE_SIZE:
        total = len(frame)
    else:
        total = count_customers(session, actor=SYSTEM, search=search, filters=filters)
    return {"ids": [int(i) for i in frame["id"]], "total": int(total)}


def leads_first_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    return _leads_page(session, None, None)


def leads_filtered_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    return _leads_page(session, None, LeadFilters(stages=(ctx.stage,), channels=(ctx.channel,)))


def search_phone_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    return _leads_page(session, ctx.phone, None)


def search_no_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    return _leads_page(session, ctx.customer_no, None)


def search_name_loudou(session: Session, ctx: Ctx) -> dict[str, Any]:
    return _leads_page(session, ctx.name, None)


def _page(frame: pd.DataFrame) -> dict[str, Any]:
    top = frame.sort_values(["created_at", "id"], ascending=False).head(PAGE_SIZE)
    return {"ids": [int(i) for i in top["id"]], "total": len(frame)}


def _customers(conn: Connection) -> pd.DataFrame:
    cols = "id, customer_no, name, company, channel, stage, created_at"
    return _read(conn, f"SELECT {cols} FROM customer", ("created_at",))


def leads_first_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    return _page(_customers(conn))


def leads_filtered_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    cust = _customers(conn)
    return _page(cust[(cust["stage"] == ctx.stage) & (cust["channel"] == ctx.channel)])


def _search_pandas(conn: Connection, search: str) -> dict[str, Any]:
    """funnel.customers.read._conditions' search: exact number / phone / e-mail hits, else "contains"."""
    cust = _customers(conn)
    contacts = _read(conn, "SELECT customer_id, phone, email, wechat FROM contact")
    digits = "".join(ch for ch in search if ch.isdigit())
    phone = digits if len(digits) >= 5 and all(ch.isdigit() or ch in " -+()" for ch in search) else None
    hit = contacts["email"] == search.lower()
    if phone:
        hit |= contacts["phone"].isin({phone, f"+{phone}"})
    exact = cust["customer_no"].isin({search, search.upper()}) | cust["id"].isin(contacts[hit]["customer_id"])
    if exact.any():
        return _page(cust[exact])
    tags = _read(
        conn,
        "SELECT t.customer_id, i.code, i.name_en, i.name_zh FROM customer_tag t "
        "JOIN list_item i ON i.id = t.tag_id WHERE i.list_name = 'tag'",
    )
    folded = search.lower()
    looks_like_phone = len(digits) >= 3 and all(ch.isdigit() or ch in " -+()" for ch in search)

    def has(col: pd.Series, needle: str, *, fold: bool = True) -> pd.Series:
        values = col.fillna("").str.lower() if fold else col.fillna("")
        return values.str.contains(needle.lower() if fold else needle, regex=False)

    contact_hit = (
        has(contacts["phone"], search, fold=False)
        | has(contacts["phone"], digits if looks_like_phone else search, fold=False)
        | has(contacts["email"], search)
        | has(contacts["wechat"], search)
    )
    tag_hit = (
        (tags["code"].str.lower() == folded)
        | (tags["name_en"].str.lower() == folded)
        | (tags["name_zh"] == search)
    )
    match = (
        has(cust["name"], search)
        | has(cust["company"], search)
        | has(cust["customer_no"], search)
        | cust["id"].isin(contacts[contact_hit]["customer_id"])
        | cust["id"].isin(tags[tag_hit]["customer_id"])
    )
    return _page(cust[match])


def search_phone_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    return _search_pandas(conn, ctx.phone)


def search_no_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    return _search_pandas(conn, ctx.customer_no)


def search_name_pandas(conn: Connection, ctx: Ctx) -> dict[str, Any]:
    return _search_pandas(conn, ctx.name)


def _page_duckdb(con: Any, where: str, params: dict[str, Any]) -> dict[str, Any]:
    ids = con.execute(
        f"SELECT id FROM customer c WHERE {where} ORDER BY created_at DESC, id DESC LIMIT {PAGE_SIZE}", params
    ).fetchall()
    total = len(ids)
    if total == PAGE_SIZE:
        total = con.execute(f"SELECT COUNT(*) FROM customer c WHERE {where}", params).fetchone()[0]
    return {"ids": [int(i) for (i,) in ids], "total": int(total)}


def leads_first_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    return _page_duckdb(con, "TRUE", {})


def leads_filtered_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    return _page_duckdb(con, "stage = $s AND channel = $ch", {"s": ctx.stage, "ch": ctx.channel})


def _search_duckdb(con: Any, search: str) -> dict[str, Any]:
    digits = "".join(ch for ch in search if ch.isdigit())
    phone = digits if len(digits) >= 5 and all(ch.isdigit() or ch in " -+()" for ch in search) else None
    params = {"t": search, "up": search.upper(), "low": search.lower()}
    if phone:
        params |= {"p": phone, "pp": f"+{phone}"}
    phones = "OR phone IN ($p, $pp)" if phone else ""
    exact = (
        f"(customer_no IN ($t, $up) OR id IN (SELECT customer_id FROM contact WHERE email = $low {phones}))"
    )
    if con.execute(f"SELECT 1 FROM customer c WHERE {exact} LIMIT 1", params).fetchone():
        return _page_duckdb(con, exact, params)
    looks_like_phone = len(digits) >= 3 and all(ch.isdigit() or ch in " -+()" for ch in search)
    like = {"t": search, "d": digits if looks_like_phone else search, "low": search.lower()}
    contains = """(contains(lower(name), lower($t)) OR contains(lower(company), lower($t))
        OR contains(lower(customer_no), lower($t))
        OR id IN (SELECT customer_id FROM contact WHERE contains(phone, $t) OR contains(phone, $d)
                  OR contains(lower(email), lower($t)) OR contains(lower(wechat), lower($t)))
        OR id IN (SELECT t.customer_id FROM customer_tag t JOIN list_item i ON i.id = t.tag_id
                  WHERE i.list_name = 'tag' AND (lower(i.code) = $low OR lower(i.name_en) = $low
                  OR i.name_zh = $t)))"""
    return _page_duckdb(con, contains, like)


def search_phone_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    return _search_duckdb(con, ctx.phone)


def search_no_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    return _search_duckdb(con, ctx.customer_no)


def search_name_duckdb(con: Any, ctx: Ctx) -> dict[str, Any]:
    return _search_duckdb(con, ctx.name)


# ---- export merged: every customer's row (compared as the sorted rows; money to the cent) ------------


def _export_answer(rows: list[tuple[Any, ...]]) -> tuple[int, int]:
    """How many rows, and a hash of the sorted rows (order by customer number differs by collation)."""
    normal = sorted((str(r[0]), int(r[1]), int(r[2]), *(_money(v) for v in r[3:])) for r in rows)
    return len(normal), hash(tuple(normal))


def export_loudou(session: Session, ctx: Ctx) -> list[tuple[Any, ...]]:
    columns = ("customer_no", "opportunities", "contracts", "opportunity_amount", "contract_amount",
               "paid_amount", "outstanding")  # fmt: skip
    return [tuple(row[c] for c in columns) for row in merged_rows(session, actor=SYSTEM)]


def export_pandas(conn: Connection, ctx: Ctx) -> list[tuple[Any, ...]]:
    cust = _read(
        conn,
        "SELECT c.id, c.customer_no, c.external_id, c.name, c.channel, u.username, c.stage, c.status "
        'FROM customer c LEFT JOIN "user" u ON u.id = c.owner_id',
    )
    opp = _read(conn, "SELECT customer_id, amount FROM opportunity")
    con = _read(conn, "SELECT customer_id, amount, status FROM contract")
    pay = _read(conn, "SELECT customer_id, amount FROM payment")
    o = opp.groupby("customer_id")["amount"].agg(["size", "sum"])
    k = con[con["status"] == "signed"].groupby("customer_id")["amount"].agg(["size", "sum"])
    p = pay.groupby("customer_id")["amount"].sum()
    ids = cust["id"]
    frame = pd.DataFrame(
        {
            "customer_no": cust["customer_no"],
            "opportunities": ids.map(o["size"]).fillna(0).astype(int),
            "contracts": ids.map(k["size"]).fillna(0).astype(int),
            "opportunity_amount": ids.map(o["sum"]).fillna(0.0),
            "contract_amount": ids.map(k["sum"]).fillna(0.0),
            "paid_amount": ids.map(p).fillna(0.0),
        }
    )
    frame["outstanding"] = frame["contract_amount"] - frame["paid_amount"]
    frame = frame.sort_values("customer_no")
    return list(frame.itertuples(index=False, name=None))


def export_duckdb(con: Any, ctx: Ctx) -> list[tuple[Any, ...]]:
    return con.execute(
        """WITH o AS (SELECT customer_id, COUNT(*) n, SUM(amount) amount FROM opportunity GROUP BY 1),
                k AS (SELECT customer_id, COUNT(*) n, SUM(amount) amount FROM contract
                      WHERE status = 'signed' GROUP BY 1),
                p AS (SELECT customer_id, SUM(amount) amount FROM payment GROUP BY 1)
           SELECT c.customer_no, COALESCE(o.n, 0), COALESCE(k.n, 0), COALESCE(o.amount, 0),
                  COALESCE(k.amount, 0), COALESCE(p.amount, 0), COALESCE(k.amount, 0) - COALESCE(p.amount, 0)
           FROM customer c LEFT JOIN o ON o.customer_id = c.id LEFT JOIN k ON k.customer_id = c.id
           LEFT JOIN p ON p.customer_id = c.id ORDER BY c.customer_no"""
    ).fetchall()


EXPORT_ANSWER = _export_answer
