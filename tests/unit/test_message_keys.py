"""Every message key the code names literally exists in both catalogues, so no screen shows a raw key.

The keys are read from the code's own syntax tree, in every argument that holds a message key: the key
of `t(...)` and `tr(...)`, the code of `FieldError(field, code)` and `ImportFileError(code)`, the error of
`LoginResult(user, error)`. A key built from an f-string must match at least one key of the catalogue.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from funnel.core.i18n import LANGUAGES, catalogue

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "funnel").rglob("*.py"), *(ROOT / "pages").rglob("*.py"), ROOT / "app.py"])

# Call name -> (position, keyword) of the argument that is a message key.
KEY_ARGUMENTS = {
    "t": (0, "key"),
    "tr": (0, "key"),
    "FieldError": (1, "code"),
    "ImportFileError": (0, "code"),
    "LoginResult": (1, "error"),
}


@dataclass(frozen=True)
class KeyUse:
    """A message key named in the code: a literal key, or an f-string's pattern of keys."""

    where: str
    key: str
    pattern: bool = False

    def found_in(self, keys: set[str]) -> bool:
        if not self.pattern:
            return self.key in keys
        return any(re.fullmatch(self.key, key) for key in keys)


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _key_argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _uses(node: ast.expr, where: str) -> list[KeyUse]:
    """The keys an argument can be: a string, an f-string's pattern, a branch of `a if c else b`, `a or b`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [KeyUse(where, node.value)]
    if isinstance(node, ast.JoinedStr):
        # The literal parts of an f-string are str constants; each {field} may be any text.
        parts = [
            re.escape(str(part.value)) if isinstance(part, ast.Constant) else ".+" for part in node.values
        ]
        return [KeyUse(where, "".join(parts), pattern=True)]
    if isinstance(node, ast.IfExp):
        return _uses(node.body, where) + _uses(node.orelse, where)
    if isinstance(node, ast.BoolOp):
        return [use for value in node.values for use in _uses(value, where)]
    return []  # a variable: its keys come from a table that other tests check


def key_uses(source: str, filename: str = "<source>") -> list[KeyUse]:
    """Every message key `source` passes to t(), tr() or FieldError()."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        name = _called_name(node) if isinstance(node, ast.Call) else None
        if isinstance(node, ast.Call) and name in KEY_ARGUMENTS:
            argument = _key_argument(node, *KEY_ARGUMENTS[name])
            if argument is not None:
                found += _uses(argument, f"{filename}:{node.lineno}")
    return found


def missing_keys(uses: list[KeyUse]) -> dict[str, list[str]]:
    """Per language, `where: key` of each use that its catalogue does not hold."""
    return {
        lang: [f"{use.where}: {use.key}" for use in uses if not use.found_in(set(catalogue(lang)))]
        for lang in LANGUAGES
    }


def all_uses() -> list[KeyUse]:
    return [
        use
        for path in SOURCES
        for use in key_uses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]


def test_every_message_key_named_in_the_code_is_in_both_catalogues() -> None:
    assert missing_keys(all_uses()) == {lang: [] for lang in LANGUAGES}


def test_the_scan_finds_the_keys_of_pages_use_cases_and_errors() -> None:
    literal = {use.key for use in all_uses() if not use.pattern}

    # One from each kind of call, so that a scan that silently finds nothing cannot pass.
    assert {
        "users.title",
        "import.summary",
        "error.required",
        "import.error.empty",
        "login.failed",
    } <= literal
    assert len(literal) > 100


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ('tr("users.titel")', "users.titel"),
        ('t("lead.sav", lang)', "lead.sav"),
        ('t(key="lead.sav", lang=lang)', "lead.sav"),
        ('FieldError("name", "error.requierd")', "error.requierd"),
        ('FieldError(field="name", code="error.requierd")', "error.requierd"),
        ('i18n.t("users.list" if admin else "users.lst")', "users.lst"),
        ('tr(f"role.{role}_typo")', "role\\..+_typo"),
        ('ImportFileError("import.error.emtpy")', "import.error.emtpy"),
        ('LoginResult(None, "login.lockd", until)', "login.lockd"),
        ('tr(result.error or "login.bad_credentails")', "login.bad_credentails"),
    ],
)
def test_a_misspelled_key_is_reported_in_both_languages(source: str, missing: str) -> None:
    assert missing_keys(key_uses(source)) == {lang: [f"<source>:1: {missing}"] for lang in LANGUAGES}


def test_keys_that_exist_and_keys_held_in_variables_are_not_reported() -> None:
    source = 'tr("users.title"); t(label_key, lang); FieldError(name, f"error.{name}_invalid"); t(error.code)'

    assert missing_keys(key_uses(source)) == {lang: [] for lang in LANGUAGES}
