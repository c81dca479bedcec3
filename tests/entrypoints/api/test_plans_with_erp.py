"""With an ERP configured, a plan put through the API is refused when a line it can bill has no
posting rule — before any billing run could produce an invoice the ERP cannot take."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from revsync.config import Settings
from tests.conftest import make_settings
from tests.entrypoints.api.test_billing_api import PRO


@pytest.fixture
def settings(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("REVSYNC_TEST_ERP_PASSWORD", "not-used")
    return make_settings(
        db_url,
        erp={
            "url": "http://127.0.0.1:8000/",
            "password_env": "REVSYNC_TEST_ERP_PASSWORD",
            "posting_rules": [{"product": "SAAS", "account": "4.1.2", "currency": "EUR"}],
        },
        outbox={"allow_private_hosts": ["127.0.0.1"]},
    )


def test_a_plan_without_a_posting_rule_is_refused_naming_the_rule(
    api: TestClient, admin: dict[str, str]
) -> None:
    assert api.put("/v1/plans/team", json=PRO, headers=admin).status_code == 201
    refused = api.put("/v1/plans/team-us", json={**PRO, "currency": "USD"}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert "erp.posting_rules" in refused.text
    assert "plan 'team-us': no rule for a recurring line of team-us:platform in USD" in refused.text
    assert api.get("/v1/plans/team-us", headers=admin).status_code == 404
