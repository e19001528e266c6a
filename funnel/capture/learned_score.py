"""The learned win probability: a logistic regression over how a lead came in and what it is.

Features, one-hot: channel, campaign, region, industry, grade, intake (form / rep / import) and each tag.
Trained on the customers closed (won or lost) before a time cut and evaluated on those closed after it
(a time split: the model is judged on deals it could not have seen, as it will be used), with the rule
score's AUC on the same held-out deals beside it, so a manager sees which to trust.

Threshold (documented in the README): at least MIN_CLOSED closed customers, and at least MIN_PER_CLASS
won and MIN_PER_CLASS lost among the training part and one of each in the held-out part. Below that the
model is not trained: a handful of deals would give probabilities that look precise and mean nothing.

The model is stored portably in `score_model` (feature names, coefficients and intercept as JSON, never
a pickle), with when it was trained and both AUCs. It is retrained by `python -m funnel train-score`
and by the app when stale (`is_stale`: older than STALE_DAYS, or the closed history grew by a fifth).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Engine, Table, bindparam, func, select
from sqlalchemy.orm import Session

from funnel.core.clock import utcnow
from funnel.core.db import rows_where_in, session_scope, take_write_lock
from funnel.store.models import Customer, CustomerTag, ListItem, ScoreModel

_CUSTOMERS = cast(Table, Customer.__table__)

log = logging.getLogger(__name__)

MIN_CLOSED = 200
MIN_PER_CLASS = 20
TRAIN_SHARE = 0.7  # the earliest 70 % of closed deals (by close date) train, the latest 30 % evaluate
STALE_DAYS = 7
STALE_GROWTH = 1.2
# The latest closed deals the model learns from: recent selling is what it should reflect, and at a million
# customers all of them (hundreds of thousands of rows as Python objects and a dense matrix) took the app
# past 4 GB resident when the scoring page retrained on open.
MAX_TRAINING = 50_000
PREDICT_CHUNK = 5_000  # customers scored and updated at a time
TOP_REASONS = 3
FEATURE_COLUMNS = ("channel", "campaign", "region", "industry", "grade", "intake")


@dataclass(frozen=True)
class TrainResult:
    trained: bool
    closed: int
    won: int
    lost: int
    train_size: int
    test_size: int
    auc_learned: float | None
    auc_rule: float | None
    threshold: int
    reason: str  # why not trained, or "trained"
    predicted: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "trained": self.trained, "closed": self.closed, "won": self.won, "lost": self.lost,
            "train_size": self.train_size, "test_size": self.test_size, "auc_learned": self.auc_learned,
            "auc_rule": self.auc_rule, "threshold": self.threshold, "min_per_class": MIN_PER_CLASS,
            "reason": self.reason, "predicted": self.predicted,
        }  # fmt: skip


@dataclass
class Row:
    customer_id: int
    features: list[str]
    status: str
    closed_at: datetime | None
    score: int | None


def _rows(session: Session, query: sa.Select[Any]) -> list[Row]:
    """The customers `query` selects (it selects `_ROW_COLUMNS`), each with its features and tags."""
    n = len(FEATURE_COLUMNS)
    rows: dict[int, Row] = {}
    for r in session.execute(query):
        features = [
            f"{name}={value}" for name, value in zip(FEATURE_COLUMNS, r[1 : 1 + n], strict=True) if value
        ]
        rows[r[0]] = Row(r[0], features, r[1 + n], r[2 + n], r[3 + n])
    if rows:
        tags = select(CustomerTag.customer_id, ListItem.code).join(
            ListItem, ListItem.id == CustomerTag.tag_id
        )
        for customer_id, code in rows_where_in(session, tags, CustomerTag.customer_id, list(rows)):
            rows[customer_id].features.append(f"tag={code}")
    return list(rows.values())


_ROW_COLUMNS = (
    Customer.id,
    *(getattr(Customer, c) for c in FEATURE_COLUMNS),
    Customer.status,
    Customer.closed_at,
    Customer.score,
)


def _closed_rows(session: Session) -> list[Row]:
    """The latest MAX_TRAINING closed customers (all of them below that), oldest first."""
    query = (
        select(*_ROW_COLUMNS)
        .where(Customer.status.in_(("won", "lost")), Customer.closed_at.is_not(None))
        .order_by(Customer.closed_at.desc(), Customer.id.desc())
        .limit(MAX_TRAINING)
    )
    return sorted(_rows(session, query), key=lambda r: (r.closed_at, r.customer_id))


def _all_rows_in_chunks(session: Session) -> Iterator[list[Row]]:
    """Every customer, PREDICT_CHUNK at a time in id order: memory holds one chunk at a million."""
    after = 0
    while True:
        query = select(*_ROW_COLUMNS).where(Customer.id > after).order_by(Customer.id).limit(PREDICT_CHUNK)
        chunk = _rows(session, query)
        if not chunk:
            return
        yield chunk
        after = chunk[-1].customer_id


def auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """The area under the ROC curve (ties count half); None without both classes."""
    from sklearn.metrics import roc_auc_score

    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def _matrix(rows: Sequence[Row], names: list[str]) -> object:
    import numpy as np

    index = {name: i for i, name in enumerate(names)}
    x = np.zeros((len(rows), len(names)))
    for r, row in enumerate(rows):
        for feature in row.features:
            i = index.get(feature)
            if i is not None:
                x[r, i] = 1.0
    return x


def train(session: Session, *, commit_chunks: bool = False) -> TrainResult:
    """Fit on the closed history before the time cut, evaluate after it, store the model if trained.

    `commit_chunks` commits the model, then each PREDICT_CHUNK of scores (see predict_all)."""
    from sklearn.linear_model import LogisticRegression

    closed = _closed_rows(session)
    won = sum(1 for r in closed if r.status == "won")
    lost = len(closed) - won
    cut = int(len(closed) * TRAIN_SHARE)
    train_rows, test_rows = closed[:cut], closed[cut:]
    y_train = [int(r.status == "won") for r in train_rows]
    y_test = [int(r.status == "won") for r in test_rows]

    def result(
        trained: bool,
        reason: str,
        auc_learned: float | None = None,
        auc_rule: float | None = None,
        predicted: int = 0,
    ) -> TrainResult:
        return TrainResult(trained, len(closed), won, lost, len(train_rows), len(test_rows), auc_learned,
                           auc_rule, MIN_CLOSED, reason, predicted)  # fmt: skip

    if len(closed) < MIN_CLOSED:
        return result(False, "too_few_closed")
    if min(sum(y_train), len(y_train) - sum(y_train)) < MIN_PER_CLASS or len(set(y_test)) < 2:
        return result(False, "too_few_of_a_class")
    names = sorted({f for r in train_rows for f in r.features})
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(_matrix(train_rows, names), y_train)
    probabilities = model.predict_proba(_matrix(test_rows, names))[:, 1]
    auc_learned = auc(y_test, list(probabilities))
    auc_rule = auc(y_test, [float(r.score or 0) for r in test_rows])
    # The stored model is refitted on every closed deal (the evaluation above used only the past).
    y_all = [int(r.status == "won") for r in closed]
    names = sorted({f for r in closed for f in r.features})
    model.fit(_matrix(closed, names), y_all)
    session.add(
        ScoreModel(
            trained_at=utcnow(),
            closed=closed_count(session),  # the whole history, which is_stale compares with
            auc_learned=auc_learned,
            auc_rule=auc_rule,
            model={
                "kind": "logistic_regression",
                "features": names,
                "coef": [float(c) for c in model.coef_[0]],
                "intercept": float(model.intercept_[0]),
                "train_share": TRAIN_SHARE,
            },
        )
    )
    session.flush()
    predicted = predict_all(session, commit_chunks=commit_chunks)
    return result(True, "trained", auc_learned=auc_learned, auc_rule=auc_rule, predicted=predicted)


def latest_model(session: Session) -> ScoreModel | None:
    return session.scalars(select(ScoreModel).order_by(ScoreModel.id.desc()).limit(1)).first()


def explain(model: dict[str, object], features: Sequence[str]) -> tuple[float, list[dict[str, object]]]:
    """(probability of winning, the largest contributions) for one customer's features."""
    weights = dict(zip(model["features"], model["coef"], strict=True))  # type: ignore[call-overload]
    present = [(f, float(weights[f])) for f in features if f in weights]
    logit = float(model["intercept"]) + sum(w for _, w in present)  # type: ignore[arg-type]
    probability = 1 / (1 + math.exp(-logit))
    ranked = sorted(present, key=lambda fw: abs(fw[1]), reverse=True)[:TOP_REASONS]
    reasons = [
        {"feature": f.split("=", 1)[0], "value": f.split("=", 1)[1], "weight": round(w, 3)} for f, w in ranked
    ]
    return probability, reasons


def predict_all(session: Session, *, commit_chunks: bool = False) -> int:
    """Store every customer's win probability and top reasons from the latest model; returns how many.

    With `commit_chunks` each PREDICT_CHUNK of customers is its own transaction (the model's too): at a
    million customers the rescoring takes minutes, and on SQLite one transaction would hold the write
    lock all that time, so every rep's save would fail with "database is locked". The scores are advice:
    for a minute some are the new model's and some the old one's."""
    if commit_chunks:
        session.commit()
        take_write_lock(session)
    stored = latest_model(session)
    if stored is None:
        return 0
    table = _CUSTOMERS
    stmt = (
        sa.update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(win_probability=bindparam("b_p"), win_reasons=bindparam("b_r"), updated_at=table.c.updated_at)
    )
    count = 0
    for chunk in _all_rows_in_chunks(session):
        batch = []
        for row in chunk:
            probability, reasons = explain(stored.model, row.features)
            batch.append({"b_id": row.customer_id, "b_p": round(probability, 4), "b_r": reasons})
        session.execute(stmt, batch)
        count += len(batch)
        if commit_chunks:
            session.commit()
            take_write_lock(session)  # the next chunk reads, then writes: under the lock (take_write_lock)
    return count


def closed_count(session: Session) -> int:
    return (
        session.scalar(select(func.count()).select_from(Customer).where(Customer.status.in_(("won", "lost"))))
        or 0
    )


def is_stale(session: Session, *, now: datetime | None = None) -> bool:
    """Whether to (re)train: enough history and no model, one older than STALE_DAYS, or history grew 20 %."""
    closed = closed_count(session)
    if closed < MIN_CLOSED:
        return False
    stored = latest_model(session)
    if stored is None:
        return True
    now = now or utcnow()
    return now - stored.trained_at > timedelta(days=STALE_DAYS) or closed >= stored.closed * STALE_GROWTH


def train_if_stale(engine: Engine) -> TrainResult | None:
    """Retrain when stale, here and now, committing the scores a chunk at a time; None when the model is
    fresh or there is no history."""
    with session_scope(engine) as session:
        if not is_stale(session):
            return None
        return train(session, commit_chunks=True)


# One retrain at a time per process: it rescores every customer, and two would only write the same scores.
_retraining = threading.Lock()


def retrain_in_background(engine: Engine) -> bool:
    """Start a retrain on a thread of its own when the model is stale (the scoring page calls it on open);
    True while one is running. At a million customers a retrain rescores every one of them, which took
    the page four minutes when it waited for it; now it shows the model it has and says a newer is on
    its way."""
    if not _retraining.acquire(blocking=False):
        return True
    try:
        with session_scope(engine) as session:
            stale = is_stale(session)
    except BaseException:
        _retraining.release()
        raise
    if not stale:
        _retraining.release()
        return False

    def run() -> None:
        try:
            train_if_stale(engine)
        except Exception:  # a thread's failure reaches no page: the log says it, the next visit retries
            log.exception("retraining the learned lead score failed")
        finally:
            _retraining.release()

    threading.Thread(target=run, name="loudou-retrain-score", daemon=True).start()
    return True


def retraining() -> bool:
    """Whether a retrain started by retrain_in_background is still running."""
    return _retraining.locked()


def train_score(engine: Engine) -> TrainResult:
    """Rescore every customer by the rules, then train and evaluate the learned model (the CLI's job)."""
    from funnel.capture.scoring import score_customers

    with session_scope(engine) as session:
        score_customers(session)
        return train(session, commit_chunks=True)
