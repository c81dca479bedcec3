"""An example install: config, schema, an admin key, customers, plans and subscriptions, a
month of sample usage and a billing run.

Used by ``revsync demo`` until the full demo lands: it shows ingestion (with duplicates, a
malformed event and an unmapped tenant), the identity map and meters, invoices, then serves
the API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import yaml
from rich.console import Console

from revsync.adapters.db.migrate import upgrade
from revsync.application.billing import RunReport
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext, Ingestion, IngestReport
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import apply_configuration, build
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


#: the sample plan's prices per currency: (monthly fee, per call above 10,000, per token)
_PRICES = {
    "USD": ("49.00", "0.002", "0.000002"),
    "EUR": ("45.00", "0.0018", "0.0000018"),
    "GBP": ("39.00", "0.0016", "0.0000016"),
    "JPY": ("7400", "0.3", "0.0003"),
}


def sample_plans() -> list[dict[str, object]]:
    """The "growth" plan in each sample currency: a fee in advance, calls and tokens in arrears."""
    return [
        {
            "code": f"growth-{currency.lower()}",
            "name": f"Growth ({currency})",
            "currency": currency,
            "interval": "month",
            "charges": [
                {
                    "key": "platform",
                    "model": "flat",
                    "description": "Platform fee",
                    "timing": "in_advance",
                    "amount": fee,
                },
                {
                    "key": "calls",
                    "model": "graduated",
                    "description": "API calls",
                    "meter": "api_calls",
                    "tiers": [
                        {"up_to": "10000", "unit_amount": "0"},
                        {"up_to": None, "unit_amount": per_call},
                    ],
                },
                {
                    "key": "tokens",
                    "model": "per_unit",
                    "description": "LLM tokens",
                    "meter": "llm_tokens",
                    "amount": per_token,
                },
            ],
        }
        for currency, (fee, per_call, per_token) in _PRICES.items()
    ]


@dataclass(frozen=True, slots=True)
class SampleReport:
    """What the sample load did."""

    ingest: IngestReport
    billing: RunReport


@dataclass(frozen=True, slots=True)
class PreparedSample:
    """Where the sample install lives; what was loaded (``None`` when an existing one is reused)."""

    config_path: Path
    key_file: Path
    report: SampleReport | None


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
    config["plans"] = sample_plans()
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    report = None if reuse else _load_sample(config_path, key_file)
    _explain(console, config_path, key_file, report, port)
    return PreparedSample(config_path, key_file, report)


def _load_sample(config_path: Path, key_file: Path) -> SampleReport:
    configure_logging("WARNING", "console")
    container = build(load_settings(config_path))
    try:
        upgrade(container.engine)
        apply_configuration(container, "cli:demo")
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
        ingested = _load_events(container.ingestion, [f"tenant-{c[0]}" for c in _CUSTOMERS])
        today = datetime.now(UTC).date()
        start = _first_of_previous_month(today)
        for cid, _, currency, _, parent in _CUSTOMERS:
            if parent is None:  # a parent is billed for its children's usage too
                container.subscriptions.create(
                    CreateSubscription(
                        f"sub-{cid}",
                        cid,
                        f"growth-{currency.lower()}",
                        start,
                        "cli:demo",
                        include_children=True,
                    )
                )
        return SampleReport(ingested, container.billing.run(today, "cli:demo"))
    finally:
        container.close()


def _first_of_previous_month(day: date) -> date:
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


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
    console: Console, config_path: Path, key_file: Path, report: SampleReport | None, port: int
) -> None:
    say = console.print
    say(f"[bold]revsync example install[/bold] in {config_path.parent}", soft_wrap=True)
    if report is None:
        say("  reusing the data already there (delete the folder to start afresh)")
    else:
        ingested, billed = report.ingest, report.billing
        say(
            f"  events: {ingested.accepted} accepted, {ingested.duplicates} duplicates, "
            f"{len(ingested.rejected)} rejected, {ingested.unmapped} unmapped (tenant-unknown)",
            soft_wrap=True,
        )
        say(
            f"  billing run as of {billed.as_of.isoformat()}: {len(billed.created)} invoices, "
            f"{len(billed.finalized)} finalized, {len(billed.errors)} errors",
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
        "/v1/invoices?customer=acme",
        "/v1/customers/acme/upcoming-invoice",
    ):
        say(f"    curl -s {auth} '{base}{path}'", soft_wrap=True, highlight=False)
    say(f"  OpenAPI document (same key): {base}/v1/openapi.json", soft_wrap=True)
