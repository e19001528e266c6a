"""The README tells the truth: its two commands exist, and every CLI command and page is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from funnel.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_the_first_screen_gives_exactly_two_commands_and_make_has_both():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")

    assert commands == ["make run", "make test"]
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


@pytest.mark.parametrize("command", _subcommands())
def test_every_cli_command_is_in_the_readme(command):
    assert f"`{command}" in README


def test_ci_runs_the_readme_test_command():
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith("make test")


SETTINGS_SOURCE = (ROOT / "funnel" / "core" / "settings.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("variable", sorted(set(re.findall(r'"(CRM_[A-Z0-9_]+)"', SETTINGS_SOURCE))))
def test_every_setting_read_from_the_environment_is_in_the_readme(variable):
    assert f"`{variable}`" in README
