"""Billing runs at the same time: runs commit one at a time, and a run that another one
overtook starts again from what the other wrote. On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from datetime import date

from revsync.adapters.tax import TableTaxEngine
from revsync.application.billing import RunReport
from revsync.domain.invoicing import InvoiceKind, TaxRates, invoice_id
from revsync.domain.periods import Period
from revsync.ports.billing import BillingRunRecord
from tests.scenarios.harness import ACTOR, PRO, Rendered, World


class OvertakingRun:
    """A tax engine that, the first time a run asks it for rates (after the run has read its
    state and usage, before it writes), lets a competing billing run go through first."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.world: World | None = None
        self.competitor: RunReport | None = None
        self._inner = TableTaxEngine({})

    def rates(
        self, *, country: str | None, exempt: bool, codes: Collection[str], on: date
    ) -> TaxRates:
        if self.world is not None and self.competitor is None:
            self.competitor = RunReport("pending", self.as_of)  # the competitor asks too
            self.competitor = self.world.container.billing.run(self.as_of, "competitor")
        return self._inner.rates(country=country, exempt=exempt, codes=codes, on=on)


def newest_run(w: World) -> BillingRunRecord:
    """The run that committed last."""
    with w.container.unit_of_work(write=False) as uow:
        run = uow.billing_runs.last()
    assert run is not None
    return run


NOVEMBER = Period(date(2026, 11, 1), date(2026, 12, 1))
TENTH_OF_DECEMBER = Period(date(2026, 12, 10), date(2026, 12, 11))


def test_a_run_overtaken_by_another_starts_again_from_what_the_other_wrote(
    world: Callable[..., World],
) -> None:
    overtaking = OvertakingRun(date(2026, 12, 10))
    w = world(
        plans=[PRO],
        start="2026-11-01T08:00:00Z",
        billing={"late_usage": "separate_invoice"},
        tax_engine=overtaking,
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T11:00:00Z", times=1100)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")  # November arrears: 100 calls over
    # 50 more November calls arrive late; two runs then bill them at the same time
    w.at("2026-12-09T12:00:00Z").usage("t-acme", "api.request", "2026-11-30T10:00:00Z", times=50)
    first = newest_run(w)
    overtaking.world = w
    w.at("2026-12-10T08:00:00Z")

    overtaken = w.bill("2026-12-10")

    competitor = overtaking.competitor
    assert competitor is not None and competitor.id != "pending"
    # the competitor committed first: it found the late calls and billed them on an
    # adjustment invoice
    assert competitor.created == [invoice_id("s1", TENTH_OF_DECEMBER, InvoiceKind.ADJUSTMENT)]
    # the overtaken run read again, after the competitor: it rated the same draft the same
    # way and created nothing
    assert (overtaken.created, overtaken.updated) == ([], [])
    assert overtaken.unchanged == competitor.created
    assert overtaken.errors == []
    assert overtaken.after_run == competitor.after_run + 1
    newest = newest_run(w)
    assert (newest.id, newest.number) == (overtaken.id, first.number + 2)
    # the late calls are billed once
    adjustments = [i for i in w.invoices("s1") if i.kind == "adjustment"]
    assert adjustments == [
        Rendered(
            kind="adjustment",
            period="2026-12-10/2026-12-11",
            status="draft",
            number=None,
            lines=(
                (
                    f"adjustment:{invoice_id('s1', NOVEMBER, InvoiceKind.ARREARS)}"
                    ":usage:calls:2026-11-01:tier-2",
                    "Adjustment: API calls — tier 2 (above 1,000)",
                    "50",
                    "0.012",
                    "0.60",
                ),
            ),
            totals=("0.60", "0.00", "0.00", "0.60", "0.00", "0.60"),
        )
    ]


def test_four_runs_at_once_make_each_invoice_once_and_number_them_without_gaps(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z")
    for n in range(6):
        w.customer(f"c{n}")
        w.subscribe(f"s{n}", f"c{n}", "pro", "2026-11-01")
    w.at("2026-12-04T08:00:00Z")
    barrier = threading.Barrier(4)
    reports: list[RunReport] = []
    failures: list[BaseException] = []

    def bill() -> None:
        barrier.wait()
        try:
            reports.append(w.container.billing.run(date(2026, 12, 4), ACTOR))
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=bill) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    invoices = [(i, n) for n in range(6) for i in w.invoices(f"s{n}")]
    # six subscriptions × (November advance, November arrears, December advance)
    assert len(invoices) == 18
    assert all(i.status == "finalized" for i, _ in invoices)
    # numbered without gaps in (issue date, customer, kind) order
    by_number = sorted(invoices, key=lambda pair: str(pair[0].number))
    assert [i.number for i, _ in by_number] == [f"INV-{n:06d}" for n in range(1, 19)]
    assert [(i.kind, i.period, n) for i, n in by_number] == [
        ("advance", "2026-11-01/2026-12-01", n) for n in range(6)
    ] + [
        (kind, period, n)
        for n in range(6)
        for kind, period in (
            ("advance", "2026-12-01/2027-01-01"),
            ("arrears", "2026-11-01/2026-12-01"),
        )
    ]
    # each invoice was created by exactly one run; the runs committed one after another
    created = [i for r in reports for i in r.created]
    assert len(created) == len(set(created)) == 18
    assert sorted(r.after_run for r in reports) == [0, 1, 2, 3]
    assert newest_run(w).number == 4
