"""The one rule of the architecture: funnel/ never imports streamlit; pages never touch SQL."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

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


def test_pages_run_no_sql_themselves():
    query_api = re.compile(r"session\.(execute|scalars|scalar|query|add|delete)\(|\bselect\(|\btext\(")
    pages = [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]
    offenders = [p.name for p in pages if p.exists() and query_api.search(p.read_text(encoding="utf-8"))]

    assert offenders == []
