"""``revsync crm sync`` takes the won opportunities and says which deals it took or refused;
``revsync crm deals`` lists them with their subscription and reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from revsync.entrypoints.cli.main import app
from revsync.sandbox.crm import CrmSandbox
from revsync.sandbox.crm.deals import Item, add_product, sell
from tests.support.crm import CRM_SECRET_ENV, crm_section

runner = CliRunner()
PLAN = {
    "code": "basic",
    "name": "Basic",
    "currency": "EUR",
    "interval": "month",
    "charges": [{"key": "fee", "model": "flat", "description": "Fee", "amount": "10.00"}],
}


def test_deals_taken_and_refused_are_told_and_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with CrmSandbox(tmp_path / "crm") as crm:
        monkeypatch.setenv(CRM_SECRET_ENV, crm.credentials.client_secret)
        config = tmp_path / "revsync.yaml"
        settings = {
            "database": {"url": f"sqlite:///{tmp_path / 'revsync.db'}"},
            "plans": [PLAN],
            "crm": crm_section(crm),
            "quote_to_cash": {"products": {"BASIC": {"plan": "basic", "charge": "fee"}}},
            "outbox": {"allow_private_hosts": ["127.0.0.1"]},
        }
        config.write_text(yaml.safe_dump(settings))
        assert runner.invoke(app, ["db", "upgrade", "--config", str(config)]).exit_code == 0
        account = crm.create_record("Account", {"Name": "Acme", "Revsync_Customer_Id__c": "acme"})
        entries = {
            "BASIC": add_product(crm, "BASIC", "Basic", Decimal(10)),
            "OTHER": add_product(crm, "OTHER", "Other", Decimal(10)),
        }
        day = date(2026, 11, 2)
        taken = sell(crm, account, "Acme — Basic", day, [Item("BASIC", 1)], entries)
        refused = sell(crm, account, "Acme — Other", day, [Item("OTHER", 1)], entries)
        open_one = sell(crm, account, "Acme — later", day, [Item("BASIC", 1)], entries, won=False)

        synced = runner.invoke(app, ["crm", "sync", "--config", str(config)])
        assert synced.exit_code == 0, synced.output
        reason = (
            "Product2.ProductCode: unknown product OTHER (Other): map it in quote_to_cash.products"
        )
        assert "read 2 won opportunities: 1 deals taken, 1 refused" in synced.output
        assert f"  taken {taken} → opp-{taken} (new)" in synced.output
        assert f"  refused {refused}: {reason}" in synced.output

        listed = runner.invoke(app, ["crm", "deals", "--config", str(config)])
        assert listed.exit_code == 0, listed.output
        assert listed.output.splitlines() == [
            f"{taken}  taken: acme, opp-{taken} (new) from 2026-11-02, no sale",
            f"{refused}  refused: {reason}",
        ]
        assert open_one not in listed.output
        only = runner.invoke(app, ["crm", "deals", "--status", "refused", "--config", str(config)])
        assert taken not in only.output and refused in only.output
        cases = runner.invoke(app, ["cases", "list", "--kind", "deal", "--config", str(config)])
        assert f"deal open opportunity {refused}" in " ".join(cases.output.split())

        # the rep gives up on the refused deal: it is dropped, its case resolved
        crm.update_record("Opportunity", refused, {"StageName": "Closed Lost"})
        again = runner.invoke(app, ["crm", "sync", "--config", str(config)])
        assert again.exit_code == 0, again.output
        assert f"  dropped {refused}: refused before, no longer won" in again.output
        assert "read 0 won opportunities: 0 deals taken, 0 refused" in again.output
        listed = runner.invoke(app, ["crm", "deals", "--config", str(config)])
        assert listed.output.splitlines() == [
            f"{taken}  taken: acme, opp-{taken} (new) from 2026-11-02, no sale"
        ]
        cases = runner.invoke(app, ["cases", "list", "--kind", "deal", "--config", str(config)])
        assert f"deal resolved opportunity {refused}" in " ".join(cases.output.split())
