"""The demo's report: what came in, what was billed and posted, what went to the CRM and the
support tool, the collections ladder, what the faults did, who is under-billed or at risk — and
whether the ERP, the CRM and the support tool agree."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from revsync.adapters.db.tables import erp_postings, exception_cases, invoices, outbox_messages
from revsync.bootstrap import EVENTS_DESTINATION, Container
from revsync.domain.crm import Readiness, Risk, Signals
from revsync.sandbox.demo.checks import CheckReport
from revsync.sandbox.demo.deal import deal_story

if TYPE_CHECKING:
    from revsync.sandbox.demo.run import Tally
    from revsync.sandbox.demo.scenario import Quarter


@dataclass(frozen=True, slots=True)
class Heavy:
    """A customer using more than its contract includes."""

    customer: str
    meter: str
    used: Decimal
    included: Decimal
    share: Decimal


@dataclass(frozen=True, slots=True)
class AtRisk:
    """A customer with low adoption and a renewal coming."""

    customer: str
    renewal: str
    adoption: str
    health: int


@dataclass(frozen=True, slots=True)
class Reached:
    """A usage threshold a customer reached in its open usage period (announced once as
    ``usage.threshold_crossed``: to the event stream, and as a task to the CRM)."""

    customer: str
    subscription: str
    threshold: str
    kind: str
    meter: str | None
    limit: Decimal  # in the meter's units (or the currency, for spend)
    observed: Decimal  # what stood there when the watcher looked
    period: str

    def summary(self) -> str:
        """``cust-0003 calls-80pct: api_calls 170,000 ≥ 160,000 (period from 2026-12-01)``."""
        what = self.meter or "spend"
        return (
            f"{self.customer} {self.threshold}: {what} {self.observed:,} ≥ {self.limit:,} "
            f"(period from {self.period.split()[0]})"
        )


@dataclass(slots=True)
class DemoReport:
    """Everything the demo reports (``as_json`` for ``--json``)."""

    quarter: str
    events: dict[str, int]
    invoices: dict[str, int]
    erp_numbers: dict[str, str]
    revenue_by_plan: dict[str, Decimal]
    cases: dict[str, int]
    crm: dict[str, int]
    amendments: list[str]
    faults: list[str]
    under_billed: list[Heavy]
    renewals_at_risk: list[AtRisk]
    checks: dict[str, Any]
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    #: with ``--events-url``: the events published to revsync's event stream, by type
    stream: dict[str, int] = field(default_factory=dict)
    #: the usage thresholds reached in the open usage periods (this month's), oldest first
    thresholds: list[Reached] = field(default_factory=list)
    #: the support desk: organizations, tickets, contexts written, the service credit
    support: dict[str, Any] = field(default_factory=dict)
    #: one customer down the collections ladder and back, step by step, and who stands on it
    collections: dict[str, Any] = field(default_factory=dict)
    #: the renewals assessed at their horizon (90, 60, 30 days): at risk, healthy, expansion
    renewals: list[str] = field(default_factory=list)
    #: won CRM opportunities gone to cash: subscription, ERP sale order, first invoice
    deals: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def build_report(
    container: Container, quarter: Quarter, tally: Tally, checks: CheckReport, seconds: float
) -> DemoReport:
    """The report, read from revsync's database and the demo's tally."""
    ingest = tally.ingest
    push = tally.push
    signals = push.signals if push else []
    return DemoReport(
        quarter=f"{quarter.start.isoformat()} to {quarter.end.isoformat()} (exclusive)",
        events={
            "accepted": ingest.accepted,
            "duplicates": ingest.duplicates,
            "rejected": len(ingest.rejected),
            "unmapped_on_arrival": ingest.unmapped,
        },
        invoices=_invoice_counts(container) | {"paid_reported": tally.paid},
        erp_numbers=_erp_numbers(container),
        revenue_by_plan=_revenue_by_plan(container),
        cases=_cases(container),
        crm={
            "customers_assessed": push.assessed if push else 0,
            "accounts_updated": len(push.accounts) if push else 0,
            "tasks": len(push.tasks) if push else 0,
            "opportunities": len(push.opportunities) if push else 0,
        },
        amendments=list(tally.amendments),
        faults=list(tally.faults),
        under_billed=_heavy(signals),
        renewals_at_risk=_at_risk(signals),
        checks={
            "erp_invoices_compared": checks.erp_invoices,
            "erp_paid_compared": checks.erp_paid,
            "crm_accounts_compared": checks.crm_accounts,
            "crm_threshold_tasks_compared": checks.crm_tasks,
            "crm_collections_tasks_compared": checks.crm_collections_tasks,
            "tickets_compared": checks.tickets,
            "service_credits_compared": checks.credits,
            "tickets_flagged": checks.flags,
            "erp_sale_orders_compared": checks.sales,
            "crm_opportunities_compared": checks.opportunities,
        },
        seconds=round(seconds, 1),
        stream=_published(container),
        thresholds=_reached(container),
        support={
            "organizations": len(tally.desk.get("organizations", {})),
            "open_tickets": len(tally.desk.get("ticket_of", {})),
            "contexts_written": _delivered(container, "ticket.context"),
            "service_credit": tally.desk.get("credit", ""),
        },
        collections={"walk": list(tally.ladder), "on_the_ladder": _on_ladder(container)},
        renewals=list(tally.renewals),
        deals=deal_story(container),
        phases=dict(tally.phases),
        mismatches=list(checks.mismatches),
    )


def _invoice_counts(container: Container) -> dict[str, int]:
    i = invoices.c
    numbered = sa.select(
        sa.func.count().filter(i.credits_invoice.is_(None)),
        sa.func.count().filter(i.credits_invoice.is_not(None)),
    ).where(i.number.is_not(None))
    with container.engine.connect() as conn:
        issued, notes = conn.execute(numbered).one()
        posted = conn.execute(sa.select(sa.func.count()).select_from(erp_postings)).scalar_one()
        overdue = conn.execute(
            sa.select(sa.func.count()).where(erp_postings.c.overdue, ~erp_postings.c.paid)
        ).scalar_one()
    return {
        "issued": int(issued),
        "credit_notes": int(notes),
        "posted_to_erp": int(posted),
        "overdue": int(overdue),
    }


def _erp_numbers(container: Container) -> dict[str, str]:
    i, p = invoices.c, erp_postings.c
    query = (
        sa.select(i.number, p.number).join(erp_postings, p.invoice_id == i.id).order_by(i.number)
    )
    with container.engine.connect() as conn:
        return {str(ours): str(theirs) for ours, theirs in conn.execute(query)}


def _revenue_by_plan(container: Container) -> dict[str, Decimal]:
    """Untaxed revenue of the numbered invoices and credit notes, by the plan in force at the
    start of the invoice's period."""
    i = invoices.c
    query = sa.select(i.subscription_id, i.period_start, i.subtotal, i.discount).where(
        i.number.is_not(None), i.subscription_id.is_not(None)
    )
    revenue: dict[str, Decimal] = {}
    with container.engine.connect() as conn:
        rows = list(conn.execute(query))
    with container.unit_of_work(write=False) as uow:
        for subscription_id, start, subtotal, discount in rows:
            subscription = uow.subscriptions.get(subscription_id)
            if subscription is None:
                continue
            terms = [t for t in subscription.terms if t.effective <= start] or [
                subscription.terms[0]
            ]
            plan = terms[-1].plan_code
            revenue[plan] = revenue.get(plan, Decimal(0)) + subtotal + discount
    return dict(sorted(revenue.items()))


def _cases(container: Container) -> dict[str, int]:
    c = exception_cases.c
    query = sa.select(c.kind, c.status, sa.func.count()).group_by(c.kind, c.status)
    with container.engine.connect() as conn:
        return {f"{kind} {status}": int(n) for kind, status, n in conn.execute(query)}


def _reached(container: Container) -> list[Reached]:
    crossings = container.thresholds.crossings(None, None, 1000)
    crossings.sort(key=lambda c: (c.crossed_at, c.customer_id, c.limit, c.threshold_key))
    return [
        Reached(
            c.customer_id,
            c.subscription_id,
            c.threshold_key,
            c.kind.value,
            c.meter,
            c.limit,
            c.observed,
            f"{c.period_start.isoformat()} to {c.period_end.isoformat()}",
        )
        for c in crossings
    ]


def _heavy(signals: list[Signals]) -> list[Heavy]:
    found = []
    for s in signals:
        for a in s.adoption:
            if a.entitlement and a.used > a.entitlement:
                found.append(
                    Heavy(s.customer_id, a.meter, a.used, a.entitlement, a.share or Decimal(0))
                )
    return sorted(found, key=lambda h: -h.share)


def _at_risk(signals: list[Signals]) -> list[AtRisk]:
    found = []
    for s in signals:
        if Risk.LOW_ADOPTION in s.risks and s.readiness is Readiness.AT_RISK:
            adoption = "; ".join(a.summary() for a in s.adoption)
            renewal = s.renewal_date.isoformat() if s.renewal_date else ""
            found.append(AtRisk(s.customer_id, renewal, adoption, s.health_score))
    return sorted(found, key=lambda r: r.renewal)


#: where ``revsync serve`` on the demo's configuration shows the operations console
CONSOLE_URL = "http://127.0.0.1:8080/console/"
#: the renewals the report lists (all are in report.json)
RENEWALS_SHOWN = 8


def render(report: DemoReport, console: Console, directory: Path) -> None:
    """The report as tables, then the verdict and what to do next."""
    say = console.print
    say(f"\n[bold]revsync demo[/bold] — the quarter {report.quarter}", highlight=False)
    say(_pairs("Events", report.events))
    say(_pairs("Invoices", report.invoices))
    say(
        _pairs(
            "Revenue by plan (untaxed, EUR)", {k: str(v) for k, v in report.revenue_by_plan.items()}
        )
    )
    say(_pairs("Exception cases", report.cases))
    say(_pairs("Signals pushed to the CRM", report.crm))
    say("[bold]Faults on the way[/bold]: " + "; ".join(report.faults), highlight=False)
    if report.amendments:
        say("[bold]Contract changes from the CRM[/bold]: " + "; ".join(report.amendments))
    say(
        "[bold]Usage thresholds reached in the open usage periods[/bold] (each announced "
        "once: usage.threshold_crossed, a task for the account's owner in the CRM): "
        + ("; ".join(r.summary() for r in report.thresholds) or "none"),
        highlight=False,
        soft_wrap=True,
    )
    support = report.support
    say(
        f"[bold]Support desk[/bold]: {support['open_tickets']} open tickets of "
        f"{support['organizations']} organizations, {support['contexts_written']} contexts "
        f"written (fields and an internal note); service credit: {support['service_credit']}",
        highlight=False,
        soft_wrap=True,
    )
    say("[bold]Collections ladder[/bold] (ERP dunning levels → steps, undone when paid):")
    for line in report.collections["walk"]:
        say(f"  {line}", highlight=False, soft_wrap=True)
    standing = report.collections["on_the_ladder"]
    say(
        "  on the ladder now: "
        + (", ".join(f"{c} (level {n})" for c, n in standing.items()) or "nobody"),
        highlight=False,
        soft_wrap=True,
    )
    verdicts = [line.rsplit(": ", 1)[1] for line in report.renewals]
    say(
        f"[bold]Renewals assessed[/bold] (at 90, 60 or 30 days; the CRM gets a task when at "
        f"risk, an opportunity for an expansion): {len(verdicts)} — "
        + (", ".join(f"{verdicts.count(v)} {v}" for v in sorted(set(verdicts))) or "none")
        + "; revsync renewals --within 90d lists them",
        highlight=False,
        soft_wrap=True,
    )
    for line in report.renewals[:RENEWALS_SHOWN]:
        say(f"  {line}", highlight=False, soft_wrap=True)
    say(
        "[bold]Quote-to-cash[/bold] (a won CRM opportunity → subscription, ERP sale order, "
        "invoices linked to it, the subscription on the opportunity):",
        highlight=False,
        soft_wrap=True,
    )
    for line in report.deals or ["none"]:
        say(f"  {line}", highlight=False, soft_wrap=True)
    heavy = Table(title="High usage, under-billed against the contract (last month)")
    for column in ("customer", "meter", "used", "included", "share"):
        heavy.add_column(column)
    for h in report.under_billed[:10]:
        heavy.add_row(h.customer, h.meter, f"{h.used:,}", f"{h.included:,}", f"{h.share:.0%}")
    say(heavy)
    risk = Table(title="Low adoption, renewal approaching")
    for column in ("customer", "renewal", "adoption", "health"):
        risk.add_column(column)
    for r in report.renewals_at_risk[:10]:
        risk.add_row(r.customer, r.renewal, r.adoption, str(r.health))
    say(risk)
    sample = list(report.erp_numbers.items())[:3]
    say(
        "ERP numbers: "
        + ", ".join(f"{ours} → {theirs}" for ours, theirs in sample)
        + f" … ({len(report.erp_numbers)} in all)",
        highlight=False,
    )
    checks = report.checks
    if report.ok:
        say(
            f"[green]checked[/green]: {checks['erp_invoices_compared']} invoices are in the ERP "
            f"exactly once with revsync's totals, the {checks['erp_paid_compared']} revsync "
            f"reports paid are paid there; {checks['crm_accounts_compared']} CRM "
            f"accounts hold revsync's signals, and the CRM holds one task for each of the "
            f"{checks['crm_threshold_tasks_compared']} thresholds reached and the "
            f"{checks['crm_collections_tasks_compared']} collections tasks in the state revsync "
            f"wrote; {checks['tickets_compared']} tickets hold revsync's fields and note, "
            f"{checks['service_credits_compared']} service credit is told on its ticket with "
            f"its ERP number, and the collections flag is on exactly the open tickets of the "
            f"customers the ladder flags; {checks['erp_sale_orders_compared']} sale order is in "
            f"the ERP with what the deal sold and the invoices that bill it, and its opportunity "
            f"holds the subscription revsync wrote ({report.seconds} s)",
            highlight=False,
        )
    else:
        say(f"[red]{len(report.mismatches)} mismatches[/red]:", highlight=False)
        for mismatch in report.mismatches:
            say(f"  {mismatch}", highlight=False)
    if report.stream:
        say(_pairs("Published to revsync's event stream (NATS JetStream)", report.stream))
        say(
            f"Read them: revsync events tail --config {directory / 'revsync.yaml'} --no-follow",
            highlight=False,
            soft_wrap=True,
        )
    say(
        f"See it in the console: revsync serve --config {directory / 'revsync.yaml'} (or "
        f"revsync demo --serve), then open {CONSOLE_URL} and sign in with the key in "
        f"{directory / 'admin.key'}",
        highlight=False,
        soft_wrap=True,
    )


def _published(container: Container) -> dict[str, int]:
    """The events delivered to the event stream, by type (none without one)."""
    m = outbox_messages.c
    query = (
        sa.select(m.kind, sa.func.count())
        .where(m.destination == EVENTS_DESTINATION, m.status == "delivered")
        .group_by(m.kind)
        .order_by(m.kind)
    )
    with container.engine.connect() as conn:
        return {str(kind): int(count) for kind, count in conn.execute(query)}


def _delivered(container: Container, kind: str) -> int:
    m = outbox_messages.c
    query = sa.select(sa.func.count()).where(m.kind == kind, m.status == "delivered")
    with container.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _on_ladder(container: Container) -> dict[str, int]:
    """The customers on the collections ladder now, with their dunning level."""
    return {r.customer_id: r.standing.level for r in container.collections().on_ladder(None, 500)}


def _pairs(title: str, values: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in values.items():
        table.add_row(key.replace("_", " "), str(value))
    return table
