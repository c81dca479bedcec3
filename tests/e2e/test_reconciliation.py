"""Reconciliation against a real Tryton: invoices posted through the outbox reconcile clean,
also from a date that leaves out the October invoices revsync issued but the ERP dated in
November (October was closed there: they are found by key, not taken for unknown). Then each
side is tampered with — an amount changed in revsync, a foreign invoice posted in the ERP, an
invoice paid in the ERP before the payment sync saw it — and each shows as one finding and one
open case with both sides' values; once revsync's amount is back and the sync has run, a new
run closes those cases and keeps the one still true. (Payment states are compared as the last
payment sync read them: the test runs the sync where the worker would.)"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from revsync.adapters.db.tables import invoices as invoices_table
from revsync.bootstrap import Container
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.reconciliation import Check
from revsync.observability.metrics import render
from revsync.ports.delivery import CaseFilter
from tests.contract.test_erp_contract import invoice
from tests.e2e.test_erp_posting import (  # noqa: F401 - fixtures
    clock,
    close_october,
    container,
    customer,
    invoices,
    target,
)
from tests.support.delivery import deliver_until, settled
from tests.support.erp import YEAR, pay, run, with_erp, with_rpc
from tests.support.tryton import TrytonServer

SINCE = date(YEAR, 1, 1)


def reconcile(wired: Container, since: date = SINCE) -> tuple[dict[str, str], list[str], list[str]]:
    """One run of both checks: finding kind by object, cases opened, cases closed."""
    done = run(wired.reconcile([Check.USAGE, Check.ERP], since, "test"))
    assert done.checks == (Check.ERP, Check.USAGE)
    found = {f"{f.object_type}:{f.object_id}": f.kind.value for f in done.findings}
    assert len(found) == len(done.findings)
    return found, list(done.opened), list(done.closed)


def test_each_side_tampered_with_is_found_and_closed_once_it_agrees_again(
    container: Container,  # noqa: F811
    erp_server: TrytonServer,
) -> None:
    with_rpc(erp_server, close_october)  # acme's October invoices go to November in the ERP
    customer(container, "acme", "pro", date(YEAR, 10, 1))
    customer(container, "globex", "pro", date(YEAR, 11, 1))
    container.billing.run(date(YEAR, 11, 1), "test")
    deliver_until(container, lambda: settled(container))
    run(container.sync_erp())  # the zero invoice is paid in Tryton at once: revsync reads it
    assert reconcile(container) == ({}, [], [])
    # from November: issued in October in revsync, dated November in the ERP, and known
    assert reconcile(container, date(YEAR, 11, 1)) == ({}, [], [])
    ours = {i.number: i for i in invoices(container)}
    assert len(ours) == 4

    # revsync: an amount changed under an invoice the ERP holds
    changed = ours[min(n for n, i in ours.items() if i.totals.total)]
    i = invoices_table.c
    with container.engine.begin() as conn:
        conn.execute(
            sa.update(invoices_table)
            .where(i.id == changed.id)
            .values(total=changed.totals.total + Decimal("0.01"))
        )
    # the ERP: an invoice under a key revsync never issued
    foreign = with_erp(
        erp_server, lambda erp: erp.post(invoice("manual-1", "M-1", date(YEAR, 11, 2)))
    )
    # the ERP: an invoice paid before revsync's payment sync ran
    paid = next(i for n, i in ours.items() if i.totals.total and i.id != changed.id)
    with container.unit_of_work(write=False) as uow:
        paid_posting = uow.postings.get(paid.id)
    assert paid_posting is not None
    with_rpc(
        erp_server,
        lambda c: pay(c, int(paid_posting.remote_id), paid.totals.total, date(YEAR, 11, 3)),
    )

    found, opened, closed = reconcile(container)
    assert found == {
        f"invoice:{changed.id}": "erp_amounts",
        f"erp_invoice:{foreign.remote_id}": "erp_unknown",
        f"invoice:{paid.id}": "erp_payment",
    }
    assert closed == []
    # two of the four invoices are not in the ERP as revsync has them
    scraped = render(container.operations.health).decode()
    assert "revsync_invoice_accuracy_ratio 0.5" in scraped
    assert 'revsync_reconciliation_discrepancies{check="erp",kind="erp_unknown"} 1.0' in scraped
    cases = container.cases.find(CaseFilter(kind=CaseKind.RECONCILIATION), after=None, limit=10)
    assert sorted(c.id for c in cases) == sorted(opened)
    amounts = next(c for c in cases if c.object_id == changed.id)
    assert amounts.details is not None
    assert amounts.details["ours"]["total"] == str(changed.totals.total + Decimal("0.01"))
    assert amounts.details["theirs"]["total"] == str(changed.totals.total)

    # revsync's amount back, and the payment sync run: only the foreign invoice is left
    with container.engine.begin() as conn:
        conn.execute(
            sa.update(invoices_table).where(i.id == changed.id).values(total=changed.totals.total)
        )
    assert paid.id in run(container.sync_erp()).paid
    found, opened, closed = reconcile(container)
    assert found == {f"erp_invoice:{foreign.remote_id}": "erp_unknown"}
    statuses = {
        c.object_id: c.status
        for c in container.cases.find(
            CaseFilter(kind=CaseKind.RECONCILIATION), after=None, limit=10
        )
    }
    assert statuses == {
        changed.id: CaseStatus.RESOLVED,
        paid.id: CaseStatus.RESOLVED,
        foreign.remote_id: CaseStatus.OPEN,
    }
    assert len(closed) == 2
