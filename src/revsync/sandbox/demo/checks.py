"""The demo checks itself through the other systems' own APIs: every finalized invoice is in
the ERP exactly once with revsync's totals, and every invoice revsync reports paid is ``paid``
in the ERP's own state (both read over Tryton's JSON-RPC), and the CRM's revsync-owned fields
hold what revsync last sent, each usage threshold reached is one task on the customer's
account and each collections task has the status revsync last wrote (read with
simple-salesforce); the support tool's side is in desk.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
import sqlalchemy as sa
from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from revsync.adapters.connectors.erp.rpc import TrytonRpc
from revsync.adapters.db.tables import (
    crm_signals,
    customer_refs,
    erp_postings,
    invoices,
    outbox_messages,
    threshold_crossings,
)
from revsync.bootstrap import ERP_DESTINATION, Container
from revsync.domain.reconciliation import same_value
from revsync.sandbox.crm import CrmSandbox

#: how long the ERP has to agree that what revsync reports paid is paid, in seconds: a Tryton
#: that queues the work (a worker on PostgreSQL) marks a reconciled invoice ``paid`` a moment
#: after the payment; the demo's local Tryton does it before the payment's request returns
PAID_WITHIN = 30.0


@dataclass(slots=True)
class CheckReport:
    """What was compared, and every difference found."""

    erp_invoices: int = 0
    erp_paid: int = 0
    crm_accounts: int = 0
    crm_tasks: int = 0
    crm_collections_tasks: int = 0
    tickets: int = 0  # enriched tickets compared (desk.py)
    credits: int = 0  # issued service credits whose ticket was read
    flags: int = 0  # tickets carrying the collections tag
    sales: int = 0  # deals whose ERP sale order was read
    opportunities: int = 0  # deals whose opportunity was read
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


async def check_erp(
    container: Container,
    rpc: TrytonRpc,
    report: CheckReport,
    *,
    paid_within: float = PAID_WITHIN,
) -> None:
    """Each numbered revsync invoice or credit note: one ERP invoice under its key, posted or
    paid, with the same untaxed amount, tax and total; and each one revsync reports paid is
    ``paid`` in the ERP (given up to ``paid_within`` seconds to get there)."""
    expected = _numbered(container)
    found = await rpc.model(
        "account.invoice",
        "search_read",
        [("type", "=", "out")],
        0,
        None,
        None,
        ["reference", "state", "untaxed_amount", "tax_amount", "total_amount", "number"],
    )
    by_key: dict[str, list[dict[str, Any]]] = {}
    for invoice in found:
        by_key.setdefault(str(invoice["reference"]), []).append(invoice)
    for key, (number, untaxed, tax, total) in sorted(expected.items(), key=lambda i: i[1][0]):
        theirs = by_key.pop(key, [])
        report.erp_invoices += 1
        if len(theirs) != 1:
            report.mismatches.append(f"ERP: {number} is there {len(theirs)} times (key {key})")
            continue
        [erp] = theirs
        if erp["state"] not in ("posted", "paid"):
            report.mismatches.append(f"ERP: {number} is {erp['state']}")
        ours = (untaxed, tax, total)
        them = (erp["untaxed_amount"], erp["tax_amount"], erp["total_amount"])
        if ours != them:
            report.mismatches.append(
                f"ERP: {number} totals {'/'.join(map(str, them))}, revsync "
                f"{'/'.join(map(str, ours))}"
            )
    for key, extra in sorted(by_key.items()):
        numbers = ", ".join(str(i["number"]) for i in extra)
        report.mismatches.append(f"ERP: {numbers} (key {key}) is not a revsync invoice")
    await _check_paid(container, rpc, report, paid_within)


async def _check_paid(
    container: Container, rpc: TrytonRpc, report: CheckReport, within: float
) -> None:
    """Tryton's own ``state`` of every invoice revsync reports paid is ``paid``: read again
    (every half second, for at most ``within`` seconds) until it is for all of them."""
    reported = _reported_paid(container)
    report.erp_paid = len(reported)
    if not reported:
        return
    ids = sorted(reported)
    deadline = time.monotonic() + within
    while True:
        read = await rpc.model("account.invoice", "read", ids, ["state"])
        states = {int(invoice["id"]): str(invoice["state"]) for invoice in read}
        behind = [i for i in ids if states.get(i) != "paid"]
        if not behind or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.5)
    for remote in sorted(behind, key=reported.__getitem__):
        report.mismatches.append(
            f"ERP: {reported[remote]} is paid in revsync but "
            f"{states.get(remote, 'missing')} in the ERP"
        )


def _reported_paid(container: Container) -> dict[int, str]:
    """ERP invoice id → revsync number of every posted invoice revsync reports paid."""
    p, i = erp_postings.c, invoices.c
    query = sa.select(p.remote_id, i.number).join(invoices, i.id == p.invoice_id).where(p.paid)
    with container.engine.connect() as conn:
        return {int(remote): str(number) for remote, number in conn.execute(query)}


def _numbered(container: Container) -> dict[str, tuple[str, Decimal, Decimal, Decimal]]:
    """ERP idempotency key → (number, untaxed, tax, total) of every invoice sent to the ERP."""
    m, i = outbox_messages.c, invoices.c
    query = (
        sa.select(m.idempotency_key, i.number, i.subtotal, i.discount, i.tax, i.total)
        .join(invoices, i.id == m.object_id)
        .where(m.destination == ERP_DESTINATION)
    )
    with container.engine.connect() as conn:
        return {
            key: (number, subtotal + discount, tax, total)
            for key, number, subtotal, discount, tax, total in conn.execute(query)
        }


def check_crm(container: Container, sandbox: CrmSandbox, report: CheckReport) -> None:
    """Each customer's revsync-owned account fields, read back with simple-salesforce, equal
    the values revsync last sent; each threshold reached is one task on its account."""
    sent = _sent_signals(container)
    tasks = _threshold_tasks(container)
    if not sent and not tasks and not _collections_tasks(container):
        return
    client = salesforce_client(sandbox)
    _check_accounts(client, sent, report)
    _check_tasks(client, tasks, report)
    _check_collections(client, _collections_tasks(container), report)


def _check_collections(
    client: Salesforce, expected: Mapping[str, str], report: CheckReport
) -> None:
    """Each collections task (Revsync_Key__c → the status revsync last wrote) is one Task with
    that status: open while its customer stands at or below its rung, completed once not."""
    keys = sorted(expected)
    found = _tasks_by_key(client, keys, "Status")
    for key in keys:
        report.crm_collections_tasks += 1
        if found.get(key) != [expected[key]]:
            report.mismatches.append(
                f"CRM: the collections task {key} is {found.get(key) or 'missing'}, revsync "
                f"made it {expected[key]}"
            )


def _collections_tasks(container: Container) -> dict[str, str]:
    """Each collections task revsync delivered to the CRM → the status it last wrote."""
    m = outbox_messages.c
    query = (
        sa.select(m.payload)
        .where(m.kind == "collections.changed", m.destination == "crm", m.status == "delivered")
        .order_by(m.id)
    )
    status: dict[str, str] = {}
    with container.engine.connect() as conn:
        for (payload,) in conn.execute(query):
            if not payload.get("account_id"):
                continue
            status.update({t["key"]: "Not Started" for t in payload["open_tasks"]})
            status.update({t["key"]: "Completed" for t in payload["close_tasks"]})
    return status


def salesforce_client(sandbox: CrmSandbox) -> Salesforce:
    session = requests.Session()
    session.verify = str(sandbox.cert_path)
    session.trust_env = False
    creds = sandbox.credentials
    token = session.post(
        sandbox.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
        timeout=30,
    ).json()["access_token"]
    return Salesforce(
        instance_url=sandbox.url, session_id=token, session=session, parse_float=Decimal
    )


def _check_accounts(
    client: Salesforce, sent: Mapping[str, Mapping[str, Any]], report: CheckReport
) -> None:
    if not sent:
        return
    fields = sorted({name for values in sent.values() for name in values})
    accounts = list(sent)
    for start in range(0, len(accounts), 200):
        chunk = accounts[start : start + 200]
        soql = format_soql(
            "SELECT Id, {fields:literal} FROM Account WHERE Id IN {ids}",
            fields=", ".join(fields),
            ids=chunk,
        )
        for record in client.query_all(soql)["records"]:
            report.crm_accounts += 1
            for name, value in sent[record["Id"]].items():
                if not same_value(value, record.get(name)):
                    report.mismatches.append(
                        f"CRM: account {record['Id']} {name} is {record.get(name)!r}, revsync "
                        f"sent {value!r}"
                    )


def _check_tasks(client: Salesforce, tasks: Mapping[str, str], report: CheckReport) -> None:
    """Each key of ``tasks`` (Revsync_Key__c → account) is one Task on that account."""
    keys = sorted(tasks)
    found = _tasks_by_key(client, keys, "WhatId")
    for key in keys:
        report.crm_tasks += 1
        there = found.get(key, [])
        if there != [tasks[key]]:
            report.mismatches.append(
                f"CRM: the task of {key} is on {there or 'no account'}, revsync made it for "
                f"account {tasks[key]}"
            )


def _tasks_by_key(client: Salesforce, keys: list[str], field: str) -> dict[str, list[str]]:
    """``field`` of every Task whose Revsync_Key__c is one of ``keys``, by key."""
    found: dict[str, list[str]] = {}
    for start in range(0, len(keys), 200):
        soql = format_soql(
            "SELECT {field:literal}, Revsync_Key__c FROM Task WHERE Revsync_Key__c IN {keys}",
            field=field,
            keys=keys[start : start + 200],
        )
        for record in client.query_all(soql)["records"]:
            found.setdefault(str(record["Revsync_Key__c"]), []).append(str(record[field]))
    return found


def _threshold_tasks(container: Container) -> dict[str, str]:
    """The key of the CRM task of each threshold reached by a customer with a CRM account
    (as the CRM destination makes it) → the account."""
    t, r = threshold_crossings.c, customer_refs.c
    query = (
        sa.select(t.subscription_id, t.threshold_key, t.period_start, r.value)
        .join(customer_refs, r.customer_id == t.customer_id)
        .where(r.system == "crm")
    )
    with container.engine.connect() as conn:
        return {
            f"threshold:{sub}:{key}:{start.isoformat()}": account
            for sub, key, start, account in conn.execute(query)
        }


def _sent_signals(container: Container) -> dict[str, Mapping[str, Any]]:
    """CRM account id → the values revsync last queued for it."""
    s, r = crm_signals.c, customer_refs.c
    query = (
        sa.select(r.value, s["values"])
        .join(customer_refs, r.customer_id == s.customer_id)
        .where(r.system == "crm")
    )
    with container.engine.connect() as conn:
        return {account: values for account, values in conn.execute(query)}
