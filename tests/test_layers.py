"""The layer rule of ARCHITECTURE.md, checked on the source: who may import whom."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "revsync"
STDLIB = set(sys.stdlib_module_names)

#: what each layer may import besides the standard library
ALLOWED = {
    "domain": {"revsync.domain"},
    "ports": {"revsync.domain", "revsync.ports"},
    "application": {"revsync.domain", "revsync.ports", "revsync.application", "revsync.schemas"},
    "schemas": {"revsync.domain", "revsync.schemas", "msgspec"},
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every imported module name in a file, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def allowed(name: str, prefixes: set[str]) -> bool:
    top = name.split(".")[0]
    if top in STDLIB and top != "revsync":
        return True
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    violations = [
        f"{path.relative_to(SRC.parent)}:{line} imports {name}"
        for path in sorted((SRC / layer).rglob("*.py"))
        for line, name in imports_of(path)
        if not allowed(name, ALLOWED[layer])
    ]
    assert violations == []


def test_the_domain_knows_no_framework() -> None:
    """Spelled out as the issue asks: no adapters, entrypoints, SQLAlchemy, Pydantic, FastAPI, httpx."""
    forbidden = (
        "revsync.adapters",
        "revsync.entrypoints",
        "sqlalchemy",
        "pydantic",
        "fastapi",
        "httpx",
    )
    hits = [
        f"{path.name}:{line} {name}"
        for path in (SRC / "domain").rglob("*.py")
        for line, name in imports_of(path)
        if name.startswith(forbidden)
    ]
    assert hits == []


def test_only_entrypoints_and_sandbox_use_the_composition_root() -> None:
    users = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if any(name == "revsync.bootstrap" for _, name in imports_of(path))
    )
    assert all(u.startswith(("entrypoints/", "sandbox/")) for u in users), users


def test_nothing_connects_at_import_time() -> None:
    """Import every module with network connections forbidden."""
    modules = sorted(
        "revsync." + ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        for p in SRC.rglob("*.py")
        if "migrations" not in p.parts and p.name != "__main__.py"
    )
    script = (
        "import socket, importlib\n"
        "def refuse(*a, **k): raise RuntimeError('connection at import time')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print('ok', len(%r))\n" % modules
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
