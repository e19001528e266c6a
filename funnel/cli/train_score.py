"""`train-score`: rescore every lead by the rules, train the learned win probability, print both AUCs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from funnel.core.db import make_engine


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "train-score",
        help="rescore leads and train the learned win probability; print its AUC beside the rule score's",
        description="Recompute every customer's rule score, then train a logistic regression on the closed "
        "history before a time cut and evaluate both scores on the deals closed after it (AUC). Needs at "
        "least 200 closed customers with 20 won and 20 lost in the training part.",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=train_score_command)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def train_score_command(args: argparse.Namespace) -> int:
    from funnel.capture.learned_score import train_score

    engine = make_engine()
    try:
        result = train_score(engine)
    finally:
        engine.dispose()
    if args.format == "json":
        print(json.dumps(result.as_dict(), ensure_ascii=False))
        return 0
    print(f"closed customers: {result.closed:,} (won {result.won:,}, lost {result.lost:,})")
    if not result.trained:
        print(
            f"not trained ({result.reason}): needs {result.threshold} closed, "
            "20 won and 20 lost before the cut"
        )
        return 0
    print(
        f"time split: trained on the first {result.train_size:,} closed, "
        f"evaluated on the last {result.test_size:,}"
    )
    print(f"AUC learned win probability: {_fmt(result.auc_learned)}")
    print(f"AUC rule score:              {_fmt(result.auc_rule)}")
    print(f"win probability stored for {result.predicted:,} customers")
    return 0
