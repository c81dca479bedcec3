"""The Python client in clients/python is what scripts/generate-client makes of today's
document: the script runs into a temporary folder and every file must match, so that a route,
a field or a model changed without regenerating the client fails here. The client also covers
every operation of the document (the script fails on any warning of the generator, which is how
it reports an operation or a schema it left out).

The generator's own environment is made once (about 25 s) in ``$REVSYNC_TEST_CACHE`` when it is
set (CI: both passes share it), else in ``~/.cache/revsync``; after that a run takes a few seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
#: what the script writes (the rest of clients/python — README, the generator's settings — is
#: written by hand)
GENERATED = ("openapi.json", "pyproject.toml", "revsync_client")


def generated_files(folder: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for name in GENERATED:
        top = folder / name
        paths = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def test_the_client_is_what_the_script_makes_of_todays_document(tmp_path: Path) -> None:
    env = dict(os.environ)
    if os.environ.get("REVSYNC_TEST_CACHE"):
        env["REVSYNC_CLIENT_GENERATOR_HOME"] = os.environ["REVSYNC_TEST_CACHE"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate-client"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    fresh, kept = generated_files(tmp_path), generated_files(CLIENT)
    assert "revsync_client/client.py" in fresh
    differing = sorted(
        [f"missing in clients/python: {name}" for name in fresh.keys() - kept.keys()]
        + [f"not generated any more: {name}" for name in kept.keys() - fresh.keys()]
        + [f"differs: {name}" for name in fresh.keys() & kept.keys() if fresh[name] != kept[name]]
    )
    assert differing == [], (
        "clients/python is not what scripts/generate-client makes of today's document; run it "
        "and commit the result:\n" + "\n".join(differing)
    )


def test_the_client_has_a_function_for_every_operation() -> None:
    document = json.loads((CLIENT / "openapi.json").read_text())
    operations = {
        operation["operationId"]
        for path in document["paths"].values()
        for operation in path.values()
    }
    modules = {path.stem for path in (CLIENT / "revsync_client" / "api").rglob("*.py")}
    assert len(operations) > 30
    assert operations - modules == set()
