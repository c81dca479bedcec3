"""The served document against the served app: schemathesis generates requests for every
operation (valid and invalid ones, from the document's own schemas and examples) and sends them
with an admin key; no answer may be a server error or differ from what the document says
(status, content type, body schema, headers).

The world holds the test plans and the customer ``acme`` (the document's example of a customer
id), so that requests naming them go past the lookups. Examples per operation are bounded
(``MAX_EXAMPLES``) so that the whole run stays well under 90 s on a small machine.
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from revsync.bootstrap import Container, apply_configuration
from revsync.config import Settings
from revsync.entrypoints.api.app import create_app
from tests.conftest import make_settings
from tests.scenarios.harness import PRO

#: examples per operation and phase; set REVSYNC_FUZZ_EXAMPLES (e.g. 200) for a longer hunt with
#: fresh random examples (by default the run is the same every time, so CI never flakes)
MAX_EXAMPLES = int(os.environ.get("REVSYNC_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, plans=[PRO])


@pytest.fixture
def served(container: Container, admin: dict[str, str]) -> Any:
    """The app as served, its document loaded over HTTP with a key, and a small world."""
    apply_configuration(container, "test")
    app = create_app(container)
    with TestClient(app) as api:
        customer = {"name": "Acme", "currency": "EUR", "external_refs": {"product": ["t-1"]}}
        assert api.put("/v1/customers/acme", json=customer, headers=admin).status_code == 201
    return schemathesis.openapi.from_asgi("/v1/openapi.json", app, headers=admin)


schema = schemathesis.pytest.from_fixture("served")


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize="REVSYNC_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_contract(case: schemathesis.Case, admin: dict[str, str]) -> None:
    case.call_and_validate(headers=admin, checks=CHECKS)
