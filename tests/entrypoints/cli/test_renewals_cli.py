"""``revsync renewals``: the renewals within a window as a table, and a window it cannot read
refused in one line naming the option."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import yaml
from typer.testing import CliRunner

from revsync.application.customers import PutCustomer
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import apply_configuration, build
from revsync.config import load_settings
from revsync.entrypoints.cli.main import app

runner = CliRunner()
PLAN = {
    "code": "basic",
    "name": "Basic",
    "currency": "EUR",
    "interval": "month",
    "charges": [{"key": "fee", "model": "flat", "description": "Fee", "amount": "10.00"}],
}


def test_the_renewals_within_a_window_are_listed_with_their_verdict(tmp_path: Path) -> None:
    config = tmp_path / "revsync.yaml"
    settings = {"database": {"url": f"sqlite:///{tmp_path / 'revsync.db'}"}, "plans": [PLAN]}
    config.write_text(yaml.safe_dump(settings))
    assert runner.invoke(app, ["db", "upgrade", "--config", str(config)]).exit_code == 0
    assert runner.invoke(app, ["renewals", "--config", str(config)]).output.strip() == (
        "no subscription renews within 90 days"
    )
    today = date.today()
    renewal = today + timedelta(days=40)
    container = build(load_settings(config))
    try:
        apply_configuration(container, "test")
        container.customers.put(PutCustomer("acme", "Acme", "EUR", "UTC", None, {}, "test"))
        container.subscriptions.create(
            CreateSubscription(
                "s-acme",
                "acme",
                "basic",
                today - timedelta(days=300),
                "test",
                renewal_date=renewal,
            )
        )
    finally:
        container.close()
    listed = runner.invoke(app, ["renewals", "--within", "60d", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    # the table wraps its cells at the terminal's width: each word whole, the lines apart
    words = set(listed.output.replace("│", " ").split())
    assert {renewal.isoformat(), "40", "acme", "s-acme", "healthy"} <= words, listed.output
    assert {"adoption:", "no", "metered", "usage", "payments:", "invoice"} <= words
    shorter = runner.invoke(app, ["renewals", "--within", "30", "--config", str(config)])
    assert "no subscription renews within 30 days" in shorter.output
    refused = runner.invoke(app, ["renewals", "--within", "soon", "--config", str(config)])
    assert refused.exit_code == 2
    assert refused.output.strip() == "--within: a number of days from 0 to 730, e.g. 90d"
