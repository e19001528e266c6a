"""The one rule of the architecture: funnel/ never imports streamlit; pages never touch SQL."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_under_funnel_imports_streamlit():
    offenders = [
        p.relative_to(ROOT) for p in (ROOT / "funnel").rglob("*.py") if "streamlit" in _imported_modules(p)
    ]

    assert offenders == []


def test_importing_every_funnel_module_does_not_load_streamlit():
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "funnel").rglob("*.py")
        if p.name != "__main__.py"
    ]
    code = (
        f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
        "print('streamlit' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"


# What a page must not do itself: call the session's query API, or build SQL with SQLAlchemy's constructs.
_SESSION_API = re.compile(r"\bsession\.(execute|scalars|scalar|query|add|delete|get|merge)\(")
_QUERY_BUILDERS = {"select", "text", "insert", "update", "delete", "exists", "func", "and_", "or_"}


def _runs_sql(source: str) -> bool:
    """Whether the code uses a session's query API or imports SQLAlchemy's query builders.

    Imports are what count, not names: a page's own `text(...)` helper (or `st.text`) is no SQL.
    """
    if _SESSION_API.search(source):
        return True
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported = {alias.name for alias in node.names}
            if imported & {"sqlalchemy", "sqlalchemy.sql"}:
                return True
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            imported = {alias.name for alias in node.names}
            if imported & _QUERY_BUILDERS:
                return True
    return False


@pytest.mark.parametrize(
    ("source", "runs_sql"),
    [
        ("rows = session.execute(stmt).all()", True),
        ("with session_scope(e) as session:\n    session.add(Customer(name='x'))", True),
        ("from sqlalchemy import select\nstmt = select(Customer)", True),
        ("from sqlalchemy import text as sql_text", True),
        ("import sqlalchemy as sa\nsa.select(Customer)", True),
        ("def text(value): return str(value)\nshown = text(1)", False),
        ("st.text('hello')", False),
        ("from sqlalchemy.exc import SQLAlchemyError\nfrom sqlalchemy.orm import Session", False),
        ("value = st.session_state.get('key')", False),
    ],
)
def test_the_no_sql_check_tells_queries_from_look_alikes(source: str, runs_sql: bool) -> None:
    assert _runs_sql(source) is runs_sql


def test_pages_and_their_shared_parts_run_no_sql_themselves():
    pages = [ROOT / "app.py", *sorted((ROOT / "pages").rglob("*.py"))]
    offenders = [str(p.relative_to(ROOT)) for p in pages if _runs_sql(p.read_text(encoding="utf-8"))]

    assert "pages/_shared/customer_parts.py" in {str(p.relative_to(ROOT)) for p in pages}  # parts are read
    assert offenders == []


# The packages of funnel/ from the bottom up: a package may import only from packages listed before it
# (and itself). access/ (roles, permissions, principals) sits below audit/, which records as an actor;
# accounts/ (users, sign-in) sits above it, because account changes and sign-ins write audit rows.
# working/, timers/, closing/ and integrations/ are placed where their issues will need them.
LAYERS = (
    "core", "store", "pipeline", "access", "audit", "accounts", "inbox", "customers", "capture",
    "working", "timers", "closing", "analytics", "integrations", "demo", "cli",
)  # fmt: skip


def _funnel_imports(path: Path) -> set[str]:
    """The funnel packages a module imports (funnel.X.y -> X), at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "funnel" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def layer_violations(root: Path) -> list[str]:
    rank = {name: i for i, name in enumerate(LAYERS)}
    problems = []
    for path in sorted((root / "funnel").rglob("*.py")):
        parts = path.relative_to(root / "funnel").parts
        if len(parts) < 2:
            continue  # funnel/__init__.py, funnel/__main__.py
        package = parts[0]
        for imported in _funnel_imports(path):
            if rank[imported] > rank[package]:
                problems.append(f"{path.relative_to(root)} imports funnel.{imported} (above {package})")
    return problems


def test_every_package_of_funnel_is_in_the_layer_table():
    packages = {p.name for p in (ROOT / "funnel").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS)


def test_packages_import_only_from_packages_below_them():
    assert layer_violations(ROOT) == []


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    # The check itself can fail: a store module importing analytics is reported.
    (tmp_path / "funnel" / "store").mkdir(parents=True)
    (tmp_path / "funnel" / "store" / "models.py").write_text("from funnel.analytics.report import x\n")
    assert layer_violations(tmp_path) == ["funnel/store/models.py imports funnel.analytics (above store)"]
