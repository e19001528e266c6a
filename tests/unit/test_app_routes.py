"""app.py serves every route module's routes beside Streamlit, in one st.App (a second one would win)."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_app_py_builds_one_st_app_with_the_session_intake_survey_and_activity_routes() -> None:
    tree = ast.parse(APP.read_text(encoding="utf-8"))
    apps = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "app" for t in node.targets)
    ]
    assert len(apps) == 1
    routes = next(k.value for k in apps[0].value.keywords if k.arg == "routes")  # type: ignore[attr-defined]
    assert {element.value.id for element in routes.elts} == {
        "ROUTES",
        "PUBLIC_ROUTES",
        "SURVEY_ROUTES",
        "ACTIVITY_ROUTES",
    }
