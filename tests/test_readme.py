"""The README starts with exactly two set-up commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None
    assert text.index("```sh") < text.index("\n## "), "the set-up commands come first"
    return [line for line in first_block.group(1).splitlines() if line.strip()]


def test_the_readme_starts_with_two_setup_commands() -> None:
    commands = setup_commands()
    assert len(commands) == 2
    assert commands[0].endswith("revsync demo")
    assert "[demo]" in commands[0]  # the demo's parts are an extra
    assert "[test]" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert setup_commands()[1] in ci
    assert "export CI=true" in ci
