"""The demo's deal: a new customer's opportunity closed won in the CRM on the quarter's first day
(25 Growth seats, 10% off) goes to cash — a subscription in revsync, a sale order in Tryton, its
first invoice posted there linked to the sale, the subscription written back on the opportunity
— and the self-check reads the sale order and the opportunity through Tryton's and the CRM's own
APIs."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from simple_salesforce.format import format_soql

from revsync.adapters.connectors.erp.rpc import TrytonRpc
from revsync.adapters.db.tables import outbox_messages
from revsync.bootstrap import CRM_DESTINATION, Container
from revsync.domain.deals import SaleLink, sale_line_for, status_text
from revsync.domain.posting import charge_key
from revsync.ports.billing import InvoiceFilter
from revsync.ports.deals import DealRecord, DealStatus
from revsync.sandbox.crm import CrmSandbox
from revsync.sandbox.crm.deals import Item, add_product, sell
from revsync.sandbox.demo.checks import CheckReport, salesforce_client

#: the list prices of the demo's products (scenario.DEAL_PRODUCTS), the plans' (the CRM's
#: price book)
PRICES = {
    "GROWTH-SEAT": ("Growth seat", Decimal("12.00")),
    "STARTER-PLATFORM": ("Starter platform", Decimal("49.00")),
}
CUSTOMER = "cust-0051"
ACCOUNT = "Northwind Analytics GmbH"
SEATS = 25
DISCOUNT = Decimal(10)
_PRICE = Decimal("0.0001")


def close_deal(sandbox: CrmSandbox, closed_on: date) -> str:
    """The sales team's work in the CRM: the products in the price book, a new account, and
    its opportunity closed won; the opportunity's id."""
    entries = {
        code: add_product(sandbox, code, name, price) for code, (name, price) in PRICES.items()
    }
    account = sandbox.create_record(
        "Account",
        {"Name": ACCOUNT, "BillingCountry": "DE", "Revsync_Customer_Id__c": CUSTOMER},
    )
    return sell(
        sandbox,
        account,
        f"{ACCOUNT} — Growth",
        closed_on,
        [Item("GROWTH-SEAT", SEATS, discount=DISCOUNT, service_date=closed_on)],
        entries,
        Type="New Business",
    )


def deal_story(container: Container) -> list[str]:
    """The deals taken, each in a line: subscription, sale order, first invoice."""
    found = []
    for deal in _taken(container):
        first = _first_invoice(container, deal)
        invoice = f"first invoice {first[0]} (ERP {first[1]})" if first else "not invoiced yet"
        found.append(
            f"{deal.opportunity_id} won by {deal.customer_id} → subscription "
            f"{deal.subscription_id}, ERP sale order {deal.erp_sale_number or '(not placed)'}, "
            f"{invoice}"
        )
    return found


async def check_deals(
    container: Container, rpc: TrytonRpc, sandbox: CrmSandbox, report: CheckReport
) -> None:
    """Each deal taken: one sale order in Tryton under its opportunity, with the lines revsync
    sold, listing the invoices that bill it (read over JSON-RPC); and the opportunity holding
    the subscription id and status revsync wrote (read with simple-salesforce)."""
    deals = _taken(container)
    if not deals:
        return
    for deal in deals:
        report.sales += 1
        sales = await rpc.model(
            "sale.sale",
            "search_read",
            [("reference", "=", deal.opportunity_id)],
            0,
            None,
            None,
            ["number", "state", "lines", "invoices"],
        )
        if len(sales) != 1:
            report.mismatches.append(
                f"ERP: the sale order of {deal.opportunity_id} is there {len(sales)} times"
            )
            continue
        [sale] = sales
        if sale["state"] not in ("processing", "done"):
            report.mismatches.append(f"ERP: sale order {sale['number']} is {sale['state']}")
        lines = await rpc.model("sale.line", "read", sale["lines"], ["quantity", "unit_price"])
        theirs = sorted((Decimal(str(ln["quantity"])), ln["unit_price"]) for ln in lines)
        ours = sorted(
            (
                Decimal(line["quantity"]),
                Decimal(line["net_unit_price"]).quantize(_PRICE, ROUND_HALF_UP),
            )
            for line in deal.lines
        )
        if theirs != ours:
            report.mismatches.append(
                f"ERP: sale order {sale['number']} sells {theirs}, revsync sold {ours}"
            )
        billing = _linked(container, deal)
        if not billing <= set(sale["invoices"]):
            report.mismatches.append(
                f"ERP: sale order {sale['number']} lists invoices {sale['invoices']}, revsync "
                f"posted {sorted(billing)} against it"
            )
    client = salesforce_client(sandbox)
    soql = format_soql(
        "SELECT Id, Revsync_Subscription_Id__c, Revsync_Subscription_Status__c FROM Opportunity "
        "WHERE Id IN {ids}",
        ids=[d.opportunity_id for d in deals],
    )
    found = {r["Id"]: r for r in client.query_all(soql)["records"]}
    for deal in deals:
        report.opportunities += 1
        record = found.get(deal.opportunity_id)
        wrote = _written(container, deal)
        if (
            record is None
            or (
                record["Revsync_Subscription_Id__c"],
                record["Revsync_Subscription_Status__c"],
            )
            != wrote
        ):
            report.mismatches.append(
                f"CRM: opportunity {deal.opportunity_id} holds "
                f"{None if record is None else record['Revsync_Subscription_Status__c']}, "
                f"revsync wrote {wrote}"
            )


def _taken(container: Container) -> list[DealRecord]:
    found = container.quote_to_cash().deals(status=DealStatus.TAKEN, after=None, limit=1000)
    return [d for d in found if d.erp_sale_id is not None]


def _links(deal: DealRecord) -> list[SaleLink]:
    assert deal.start is not None
    return [SaleLink(key, deal.start, line) for key, line in deal.sale_lines.items()]


def _linked(container: Container, deal: DealRecord) -> set[int]:
    """The ERP ids of the subscription's posted invoices with a line billing the deal."""
    return {int(remote) for _, remote in _billing(container, deal)}


def _first_invoice(container: Container, deal: DealRecord) -> tuple[str, str] | None:
    """The number and ERP number of the first posted invoice billing the deal."""
    billing = _billing(container, deal)
    if not billing:
        return None
    number, _ = billing[0]
    with container.unit_of_work(write=False) as uow:
        invoice = next(
            i
            for i in uow.invoices.page(
                InvoiceFilter(subscription_id=deal.subscription_id), after=None, limit=1000
            )
            if i.number == number
        )
        posting = uow.postings.get(invoice.id)
    return number, posting.number if posting else ""


def _billing(container: Container, deal: DealRecord) -> list[tuple[str, str]]:
    """(number, ERP id) of the subscription's posted invoices, in number order, with a line
    that invoices one of the deal's sale lines (by the rule the ERP destination links by)."""
    links = _links(deal)
    found = []
    with container.unit_of_work(write=False) as uow:
        invoices = uow.invoices.page(
            InvoiceFilter(subscription_id=deal.subscription_id), after=None, limit=1000
        )
        postings = uow.postings.many([i.id for i in invoices])
    for invoice in invoices:
        posting = postings.get(invoice.id)
        if posting is None or invoice.credits_invoice:
            continue
        if any(
            sale_line_for(
                charge_key(line.charge or ""), line.kind, line.service, line.amount, links
            )
            for line in invoice.lines
        ):
            found.append((invoice.number or "", posting.remote_id))
    return sorted(found)


def _written(container: Container, deal: DealRecord) -> tuple[str | None, str]:
    """The subscription id and status revsync wrote on the deal's opportunity (its
    ``deal.taken`` message to the CRM)."""
    m = outbox_messages.c
    query = sa.select(m.payload).where(
        m.kind == "deal.taken", m.destination == CRM_DESTINATION, m.object_id == deal.opportunity_id
    )
    with container.engine.connect() as conn:
        payload = conn.execute(query).scalar_one()
    text = status_text(payload["status"], payload["plan"], int(payload["seats"]), payload["start"])
    return payload["subscription_id"], text
