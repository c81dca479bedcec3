"""A stateful Zendesk-compatible Support API sandbox, driven by the real zenpy client.

It speaks the subset of the Support API v2 a support connector uses — organizations, users,
custom ticket fields, tickets with comments and tags, list pages (offset and cursor),
incremental exports (time- and cursor-based), webhooks with signed event deliveries, and
rate-limit headers — over HTTPS on loopback with a self-signed certificate made at start-up,
authenticated by an API token (HTTP Basic ``{email}/token:{token}``). It keeps its records in
SQLite in a folder and fails on demand (429 with Retry-After, 500, 503, stalls, dropped
connections). From tests::

    with SupportSandbox(tmp_path, seed=20) as sandbox:
        ...  # sandbox.url, sandbox.cert_path, sandbox.credentials

or as a process (``revsync sandbox support`` does the same)::

    python -m revsync.sandbox.support --dir support-data --port 8444 --seed 50

Unlike Zendesk, the incremental exports accept a ``start_time`` less than a minute old (Zendesk
answers 422), so tests need not wait.
"""

from __future__ import annotations

from revsync.sandbox.serving import serve_until_signalled
from revsync.sandbox.support.control import FAULT_KINDS, Credentials, Fault, Usage
from revsync.sandbox.support.delivery import Attempt, Delivery, sign
from revsync.sandbox.support.errors import ApiError
from revsync.sandbox.support.fields import DEFAULT_CUSTOM_FIELDS, FieldSpec
from revsync.sandbox.support.sandbox import SupportSandbox
from revsync.sandbox.support.seed import SEED_DATE, SeedReport

__all__ = [
    "DEFAULT_CUSTOM_FIELDS",
    "FAULT_KINDS",
    "SEED_DATE",
    "ApiError",
    "Attempt",
    "Credentials",
    "Delivery",
    "Fault",
    "FieldSpec",
    "SeedReport",
    "SupportSandbox",
    "Usage",
    "serve_until_signalled",
    "sign",
]
