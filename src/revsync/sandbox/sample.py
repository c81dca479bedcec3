"""An example install: config, schema, an admin key, customers and a month of sample usage.

Used by ``revsync demo`` until the full demo lands: it shows ingestion (with duplicates, a
malformed event and an unmapped tenant), the identity map and meters, then serves the API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import yaml
from rich.console import Console

from revsync.adapters.db.migrate import upgrade
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext, Ingestion, IngestReport
from revsync.bootstrap import build
from revsync.config import EXAMPLE_CONFIG, load_settings
from revsync.domain.identity import System
from revsync.observability.logging import configure_logging
from revsync.sandbox.usage_generator import GeneratorSpec, generate
from revsync.schemas.cloudevents_v1 import MEDIA_JSON, decode_items, split_body

_CUSTOMERS = (
    ("acme", "Acme Corporation", "USD", "America/New_York", None),
    ("acme-eu", "Acme Europe GmbH", "EUR", "Europe/Berlin", "acme"),
    ("globex", "Globex", "EUR", "Europe/Paris", None),
    ("initech", "Initech", "GBP", "Europe/London", None),
    ("umbrella", "Umbrella KK", "JPY", "Asia/Tokyo", None),
    ("hooli", "Hooli", "USD", "America/Los_Angeles", None),
)


@dataclass(frozen=True, slots=True)
class PreparedSample:
    """Where the sample install lives; what was loaded (``None`` when an existing one is reused)."""

    config_path: Path
    key_file: Path
    report: IngestReport | None


def prepare_sample(directory: Path, *, port: int, console: Console) -> PreparedSample:
    """Create the example install in ``directory``, or reuse the one already there."""
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "revsync.yaml"
    key_file = directory / "admin.key"
    reuse = key_file.exists() and (directory / "revsync.db").exists()
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    config["database"]["url"] = "sqlite:///revsync.db"
    config["server"]["port"] = port
    config["logging"]["format"] = "console"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    report = None if reuse else _load_sample(config_path, key_file)
    _explain(console, config_path, key_file, report, port)
    return PreparedSample(config_path, key_file, report)


def _load_sample(config_path: Path, key_file: Path) -> IngestReport:
    configure_logging("WARNING", "console")
    container = build(load_settings(config_path))
    try:
        upgrade(container.engine)
        issued = container.api_keys.create("demo admin", ["admin"], "cli:demo")
        key_file.write_text(issued.secret + "\n")
        os.chmod(key_file, 0o600)
        for cid, name, currency, zone, parent in _CUSTOMERS:
            refs = {
                System.PRODUCT: [f"tenant-{cid}", f"tenant-{cid}-2"],
                System.CRM: [f"001{cid.upper()}"],
            }
            container.customers.put(
                PutCustomer(cid, name, currency, zone, parent, refs, "cli:demo")
            )
        return _load_events(container.ingestion, [f"tenant-{c[0]}" for c in _CUSTOMERS])
    finally:
        container.close()


def _load_events(ingestion: Ingestion, tenants: list[str]) -> IngestReport:
    now = datetime.now(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    events = list(
        generate(
            GeneratorSpec(
                [*tenants, "tenant-unknown"], start, max(now, start + timedelta(hours=1)), 5_000
            )
        )
    )
    events += events[:50]  # a retried batch: duplicates, counted once
    encode = msgspec.json.Encoder(decimal_format="number").encode
    bodies = [encode(e) for e in events]
    bodies.append(b'{"id": "broken", "source": "app://revsync-sample", "type": "api.request"}')
    context = IngestContext("file", "cli:demo", "demo-sample")
    raws = split_body(b"[" + b",".join(bodies) + b"]", MEDIA_JSON)
    return ingestion.ingest(decode_items(raws), context)


def _explain(
    console: Console, config_path: Path, key_file: Path, report: IngestReport | None, port: int
) -> None:
    say = console.print
    say(f"[bold]revsync example install[/bold] in {config_path.parent}", soft_wrap=True)
    if report is None:
        say("  reusing the data already there (delete the folder to start afresh)")
    else:
        say(
            f"  events: {report.accepted} accepted, {report.duplicates} duplicates, "
            f"{len(report.rejected)} rejected, {report.unmapped} unmapped (tenant-unknown)",
            soft_wrap=True,
        )
    say(f"  admin API key in {key_file}", soft_wrap=True)
    base = f"http://127.0.0.1:{port}"
    auth = f'-H "Authorization: Bearer $(cat {key_file})"'
    say("  try:")
    for path in (
        "/v1/customers/acme",
        "/v1/customers/acme/usage?meter=llm_tokens&window=day&group_by=model",
        "/v1/usage/unmapped",
    ):
        say(f"    curl -s {auth} '{base}{path}'", soft_wrap=True, highlight=False)
    say(f"  OpenAPI document (same key): {base}/v1/openapi.json", soft_wrap=True)
