"""A stateful Salesforce-compatible REST sandbox, driven by the real simple-salesforce client.

It speaks the subset a CRM connector uses — the OAuth2 token endpoint (password and
client_credentials grants), sObject CRUD, upsert by external id, describe, updated/deleted,
SOQL queries with paging, composite sObject collections, limits — over HTTPS on loopback with a
self-signed certificate made at start-up, keeps its records in SQLite in a folder, and fails on
demand (REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE, INVALID_SESSION_ID,
stalls). From tests::

    with CrmSandbox(tmp_path, seed=20) as sandbox:
        ...  # sandbox.url, sandbox.cert_path, sandbox.credentials

or as a process (``revsync sandbox crm`` does the same)::

    python -m revsync.sandbox.crm --dir crm-data --port 8443 --seed 50
"""

from __future__ import annotations

from revsync.sandbox.crm.control import FAULT_KINDS, Credentials, Fault, Usage
from revsync.sandbox.crm.errors import ApiError
from revsync.sandbox.crm.sandbox import CrmSandbox
from revsync.sandbox.crm.schema import DEFAULT_CUSTOM_FIELDS, CustomField
from revsync.sandbox.crm.seed import SeedReport
from revsync.sandbox.serving import serve_until_signalled

__all__ = [
    "DEFAULT_CUSTOM_FIELDS",
    "FAULT_KINDS",
    "ApiError",
    "Credentials",
    "CrmSandbox",
    "CustomField",
    "Fault",
    "SeedReport",
    "Usage",
    "serve_until_signalled",
]
