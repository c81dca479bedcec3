"""constraints.txt pins every dependency revsync declares, inside its declared range: what CI
tests is what the README's commands install."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>[^ ;]+)")


def pins() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        match = _PIN.match(line)
        if match:
            found.setdefault(canonicalize_name(match["name"]), []).append(match["version"])
    return found


def declared() -> list[Requirement]:
    """Every dependency and every extra's (the test extra names the others: revsync itself)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        names += extra
    found = [Requirement(text) for text in names]
    return [r for r in found if canonicalize_name(r.name) != "revsync"]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pinned = pins()
    for requirement in declared():
        versions = pinned.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} is not in constraints.txt (run scripts/lock)"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{requirement.name}=={version} is outside {requirement.specifier}"
            )


def test_the_readme_commands_install_the_pinned_versions() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme[readme.index("```sh") : readme.index("```", readme.index("```sh") + 5)]
    installs = [line for line in first_block.splitlines() if "pip install" in line]
    assert len(installs) == 2
    assert all("-c constraints.txt" in line for line in installs)
