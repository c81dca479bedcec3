"""Quote-to-cash: each won CRM opportunity becomes a subscription (new business) or more seats
on one (an add-on), in one transaction with its record (``deals``), its audit entry and its
announcement ``deal.taken`` — the ERP places a sale order from it, the CRM is told the
subscription id and status; billing invoices it, and the ERP destination links those invoices
to the sale. An opportunity revsync cannot bill exactly is refused whole: an exception case and
``deal.refused`` say why, nothing is made. Taken once: a deal recorded as taken is never taken
again, whatever the CRM sends again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from revsync.application.announcements import Announcer, customer_block
from revsync.application.subscriptions import (
    AmendSubscription,
    CreateSubscription,
    Subscriptions,
)
from revsync.domain.audit import AuditRecord
from revsync.domain.coupons import Duration, new_coupon
from revsync.domain.crm import (
    in_service,
    metered,
    parse_date,
    parse_number,
    subscription_id,
)
from revsync.domain.deals import (
    DealKind,
    DealTerms,
    Opportunity,
    OpportunityLine,
    ProductMap,
    SaleLink,
    coupon_code,
    deal_terms,
    percent_text,
)
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.errors import Conflict, InvalidField, NotFound
from revsync.domain.identity import Customer, ExternalRef, System
from revsync.domain.periods import shift_months
from revsync.domain.subscriptions import Change, Subscription
from revsync.ports.clock import Clock, IdSource
from revsync.ports.crm import Crm, CrmRecord, Watermark
from revsync.ports.deals import DealRecord, DealStatus
from revsync.ports.delivery import Case
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory

ACTOR = "system:crm"
#: the opportunity line fields read (the CRM owns them)
LINE_FIELDS = (
    "Product2.ProductCode",
    "Product2.Name",
    "Quantity",
    "UnitPrice",
    "Discount",
    "ServiceDate",
)
#: refused deals tried again per run (a product mapped since, an account synced since)
RETRY_REFUSED = 200


def deal_subscription_id(opportunity_id: str) -> str:
    """The subscription revsync makes of a new-business opportunity."""
    return f"opp-{opportunity_id}"


@dataclass(frozen=True, slots=True)
class DealSettings:
    """How won opportunities read (from the configuration)."""

    products: Mapping[str, ProductMap]
    opportunity_fields: Sequence[str]
    won_since: date | None = None
    term_months: int = 12
    add_on_types: frozenset[str] = frozenset({"Expansion"})
    include_children: bool = True
    overlap_seconds: float = 300


@dataclass(slots=True)
class DealReport:
    """What one pass did."""

    read: int = 0
    taken: list[str] = field(default_factory=list)  # "opportunity → subscription (kind)"
    refused: list[str] = field(default_factory=list)  # "opportunity: reason"
    dropped: list[str] = field(default_factory=list)  # refused, then no longer won


class QuoteToCash:
    """Won opportunities changed since the last pass (and those refused before), taken or
    refused (``revsync crm sync``, and the worker's CRM sync)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        subscriptions: Subscriptions,
        announcer: Announcer,
        settings: DealSettings,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._ids = ids
        self._subscriptions = subscriptions
        self._announcer = announcer
        self._settings = settings

    async def run(self, crm: Crm) -> DealReport:
        report = DealReport()
        fields = self._settings.opportunity_fields
        since, again = await asyncio.to_thread(self._where)
        pulled = await crm.pull(
            "Opportunity", fields, since, overlap_seconds=self._settings.overlap_seconds
        )
        records = {r.id: r for r in pulled.records}
        retried = [i for i in again if i not in records]
        if retried:
            now = self._clock.now()
            for rows in (await crm.children("Opportunity", "Id", retried, fields)).values():
                for values in rows:
                    records[str(values["Id"])] = CrmRecord(str(values["Id"]), now, False, values)
        known = await asyncio.to_thread(self._known, list(records))
        won = [
            r
            for r in records.values()
            if self._wanted(r) and _status(known.get(r.id)) is not DealStatus.TAKEN
        ]
        # a refused deal no longer won (lost, deleted, reopened) is dropped with its case
        gone = [i for i in again if i not in records or not self._wanted(records[i])]
        gone += [
            r.id
            for r in pulled.records
            if not self._wanted(r) and _status(known.get(r.id)) is DealStatus.REFUSED
        ]
        for opportunity_id in sorted(set(gone)):
            await asyncio.to_thread(self._drop, opportunity_id)
            report.dropped.append(opportunity_id)
        report.read = len(won)
        lines = (
            await crm.children(
                "OpportunityLineItem", "OpportunityId", [r.id for r in won], LINE_FIELDS
            )
            if won
            else {}
        )
        for record in sorted(won, key=_closing_order):
            await asyncio.to_thread(self.take, record, lines.get(record.id, []), report)
        if pulled.watermark is not None:
            await asyncio.to_thread(self._advance, pulled.watermark)
        return report

    # the database work of a pass, each run off the event loop

    def _where(self) -> tuple[Watermark | None, list[str]]:
        """Where the last pass stopped, and the refused deals to try again."""
        with self._uow(write=False) as uow:
            return uow.crm.watermark("Opportunity"), uow.deals.refused(RETRY_REFUSED)

    def _known(self, opportunity_ids: list[str]) -> dict[str, DealRecord]:
        with self._uow(write=False) as uow:
            return uow.deals.many(opportunity_ids)

    def _advance(self, watermark: Watermark) -> None:
        with self._uow() as uow:
            current = uow.crm.watermark("Opportunity")
            if current is None or watermark > current:
                uow.crm.set_watermark("Opportunity", watermark, self._clock.now())
            uow.commit()

    def _wanted(self, record: CrmRecord) -> bool:
        """Won, not deleted, and closed on or after ``won_since``."""
        if record.deleted or record.fields.get("IsWon") is not True:
            return False
        since = self._settings.won_since
        closed = _date(record.fields.get("CloseDate"))
        return since is None or (closed is not None and closed >= since)

    # --- one deal ----------------------------------------------------------------------

    def take(
        self, record: CrmRecord, line_rows: Sequence[Mapping[str, Any]], report: DealReport
    ) -> None:
        """Take one won opportunity, or refuse it with the reason."""
        account = str(record.fields.get("AccountId") or "")
        customer_id: str | None = None
        try:
            opportunity = _opportunity(record, line_rows)
            with self._uow() as uow:
                customer = uow.customers.find_by_ref(ExternalRef(System.CRM, account))
                if customer is None:
                    raise InvalidField("AccountId", f"the account {account} is not synced")
                customer_id = customer.id
                taken = self._take(uow, opportunity, customer)
                if taken is None:
                    return  # taken by another pass meanwhile
                uow.commit()
            report.taken.append(taken)
        except (InvalidField, NotFound, Conflict) as error:
            reason = str(error)
            report.refused.append(f"{record.id}: {reason}")
            self._refuse(record.id, account, customer_id, reason)

    def _take(self, uow: UnitOfWork, opportunity: Opportunity, customer: Customer) -> str | None:
        subscription = self._amended(uow, opportunity, customer)
        if subscription is not None:
            uow.subscriptions.lock(subscription.id)
            subscription = uow.subscriptions.get(subscription.id)
        known = uow.deals.get(opportunity.opportunity_id)
        if known is not None and known.status is DealStatus.TAKEN:
            return None
        terms = deal_terms(
            opportunity,
            kind=DealKind.NEW if subscription is None else DealKind.ADD_ON,
            products=self._settings.products,
            plan_of=uow.plans.latest,
            currency=customer.currency,
            current_plan=subscription.current.plan_code if subscription else None,
        )
        now = self._clock.now()
        if subscription is None:
            self._not_billed_twice(uow, customer, terms)
            made = self._new(uow, opportunity, customer, terms)
            status = "active" if made.start <= now.date() else "scheduled"
        else:
            made = self._add_on(uow, subscription, terms)
            status = "amended"
        lines = tuple(
            {
                "key": line.key,
                "product_code": line.product_code,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "net_unit_price": line.net_unit_price,
            }
            for line in terms.lines
        )
        deal = DealRecord(
            opportunity_id=opportunity.opportunity_id,
            account_id=opportunity.account_id,
            status=DealStatus.TAKEN,
            customer_id=customer.id,
            subscription_id=made.id,
            kind=terms.kind.value,
            start=terms.start,
            lines=tuple(_plain(line) for line in lines),
        )
        uow.deals.save(deal, now)
        uow.cases.settle_deal(opportunity.opportunity_id, now, ACTOR, f"taken as {made.id}")
        coupon = coupon_code(terms.discount) if terms.discount else None
        payload = {
            "opportunity_id": opportunity.opportunity_id,
            "name": opportunity.name,
            "account_id": opportunity.account_id,
            "customer": customer_block(customer),
            "subscription_id": made.id,
            "kind": terms.kind.value,
            "status": status,
            "currency": customer.currency,
            "closed_on": opportunity.close_date.isoformat(),
            "start": terms.start.isoformat(),
            "plan": f"{terms.plan_code}@{made.current.plan_version}",
            "seats": made.current.seats,
            "coupon": coupon,
            "lines": list(lines),
        }
        uow.outbox.add(self._announcer.deal_taken(customer.id, payload), now)
        uow.audit.append(
            AuditRecord(
                now,
                ACTOR,
                "deal.taken",
                "opportunity",
                opportunity.opportunity_id,
                None if known is None else {"status": known.status.value, "reason": known.reason},
                {
                    "subscription_id": made.id,
                    "kind": terms.kind.value,
                    "plan": payload["plan"],
                    "seats": made.current.seats,
                    "start": payload["start"],
                    "coupon": coupon,
                },
            )
        )
        return f"{opportunity.opportunity_id} → {made.id} ({terms.kind.value})"

    def _amended(
        self, uow: UnitOfWork, opportunity: Opportunity, customer: Customer
    ) -> Subscription | None:
        """The subscription an add-on adds to: its contract's, or — for an add-on type without
        one — the account's one subscription in service. None for new business."""
        if opportunity.contract_id:
            found = uow.subscriptions.get(subscription_id(opportunity.contract_id))
            if found is None:
                raise InvalidField(
                    "ContractId", f"the contract {opportunity.contract_id} has no subscription"
                )
            return found
        if opportunity.type not in self._settings.add_on_types:
            return None
        day = opportunity.start
        serving = [s for s, _ in in_service(uow.subscriptions.of_customer(customer.id), day)]
        if len(serving) != 1:
            raise InvalidField(
                "ContractId",
                f"an add-on ({opportunity.type}) for {customer.id}, which has "
                f"{len(serving)} subscriptions in service on {day}: name the contract",
            )
        return serving[0]

    def _not_billed_twice(self, uow: UnitOfWork, customer: Customer, terms: DealTerms) -> None:
        """Refuse a new subscription that would bill usage another one bills already: a meter
        its plan prices, priced from its start on by a subscription of the customer, of an
        ancestor billing its subsidiaries, or — when the new one bills subsidiaries — of a
        subsidiary (usage belongs to the customer: two subscriptions on a meter count it
        twice)."""
        plan = uow.plans.get(terms.plan_code, terms.plan_version)
        assert plan is not None  # deal_terms read it
        meters = set(metered(plan))
        if not meters:
            return
        others = list(uow.subscriptions.of_customer(customer.id))
        parent = uow.customers.parent_of(customer.id)
        while parent is not None:
            others += [s for s in uow.subscriptions.of_customer(parent) if s.include_children]
            parent = uow.customers.parent_of(parent)
        if self._settings.include_children:
            others += uow.subscriptions.of_customers(uow.customers.descendants_of(customer.id))
        for other in others:
            for code, version in _plans_from(other, terms.start):
                priced = uow.plans.get(code, version)
                both = sorted(meters & set(metered(priced))) if priced else []
                if both:
                    raise InvalidField(
                        "OpportunityLineItem",
                        f"subscription {other.id} of {other.customer_id} already bills "
                        f"{', '.join(both)} on {terms.start}: a second subscription would bill "
                        "that usage twice (make this an add-on naming its contract, or end "
                        "that subscription first)",
                    )

    def _new(
        self, uow: UnitOfWork, opportunity: Opportunity, customer: Customer, terms: DealTerms
    ) -> Subscription:
        coupons: list[tuple[str, date | None]] = []
        if terms.discount:
            code = coupon_code(terms.discount)
            if uow.coupons.get(code) is None:
                coupon = new_coupon(
                    code=code,
                    description=f"{percent_text(terms.discount)}% off (a CRM deal's discount)",
                    duration=Duration.FOREVER,
                    percent_off=terms.discount,
                )
                uow.coupons.put(coupon, self._clock.now())
            coupons.append((code, None))
        made, _ = self._subscriptions.create_in(
            uow,
            CreateSubscription(
                subscription_id=deal_subscription_id(opportunity.opportunity_id),
                customer_id=customer.id,
                plan_code=terms.plan_code,
                plan_version=terms.plan_version,
                start=terms.start,
                actor=ACTOR,
                seats=terms.seats,
                include_children=self._settings.include_children,
                renewal_date=shift_months(terms.start, self._settings.term_months),
                coupons=coupons,
            ),
        )
        return made

    def _add_on(
        self, uow: UnitOfWork, subscription: Subscription, terms: DealTerms
    ) -> Subscription:
        effective = terms.start
        if effective < subscription.start:
            raise InvalidField(
                "OpportunityLineItem.ServiceDate",
                f"the add-on starts {effective}, before its subscription ({subscription.start})",
            )
        if subscription.ends is not None and effective >= subscription.ends:
            raise InvalidField(
                "OpportunityLineItem.ServiceDate",
                f"the add-on starts {effective}; its subscription ends {subscription.ends}",
            )
        return self._subscriptions.amend_in(
            uow,
            subscription,
            AmendSubscription(
                subscription_id=subscription.id,
                change=Change.SEAT_CHANGE,
                effective=effective,
                actor=ACTOR,
                seats=subscription.current.seats + terms.seats,
            ),
        )

    def _refuse(
        self, opportunity_id: str, account_id: str, customer_id: str | None, reason: str
    ) -> None:
        """Record the refusal; a new reason opens (or updates) the deal's case and tells the
        CRM, the same reason again changes nothing (an operator's ignore stays)."""
        with self._uow() as uow:
            known = uow.deals.get(opportunity_id)
            if known is not None and known.status is DealStatus.TAKEN:
                return
            now = self._clock.now()
            uow.deals.save(
                DealRecord(
                    opportunity_id=opportunity_id,
                    account_id=account_id,
                    status=DealStatus.REFUSED,
                    customer_id=customer_id,
                    reason=reason,
                ),
                now,
            )
            if known is not None and known.reason == reason:
                uow.commit()
                return
            case_id = uow.cases.open_deal(
                Case(
                    id=self._ids.new_id("case"),
                    kind=CaseKind.DEAL,
                    status=CaseStatus.OPEN,
                    object_type="opportunity",
                    object_id=opportunity_id,
                    opened_at=now,
                    updated_at=now,
                    last_error=reason,
                    details={"account_id": account_id, "customer_id": customer_id},
                )
            )
            uow.outbox.add(
                self._announcer.deal_refused(
                    customer_id,
                    {
                        "opportunity_id": opportunity_id,
                        "account_id": account_id,
                        "customer_id": customer_id,
                        "reason": reason,
                        "case_id": case_id,
                    },
                ),
                now,
            )
            uow.audit.append(
                AuditRecord(
                    now,
                    ACTOR,
                    "deal.refused",
                    "opportunity",
                    opportunity_id,
                    None,
                    {"reason": reason, "case_id": case_id},
                )
            )
            uow.commit()

    def _drop(self, opportunity_id: str) -> None:
        """Forget a refused deal the CRM no longer has won; its case is resolved."""
        with self._uow() as uow:
            known = uow.deals.get(opportunity_id)
            if known is None or known.status is not DealStatus.REFUSED:
                return
            now = self._clock.now()
            uow.deals.delete(opportunity_id)
            uow.cases.settle_deal(
                opportunity_id, now, ACTOR, "the opportunity is no longer won in the CRM"
            )
            uow.audit.append(
                AuditRecord(
                    now,
                    ACTOR,
                    "deal.dropped",
                    "opportunity",
                    opportunity_id,
                    {"status": known.status.value, "reason": known.reason},
                    None,
                )
            )
            uow.commit()

    def deals(
        self, *, status: DealStatus | None, after: str | None, limit: int
    ) -> list[DealRecord]:
        """Deals by opportunity id."""
        with self._uow(write=False) as uow:
            return uow.deals.page(status=status, after=after, limit=limit)


def _plans_from(subscription: Subscription, day: date) -> list[tuple[str, int]]:
    """The plans of the subscription's terms in force on ``day`` or later (none once it has
    ended by then)."""
    if subscription.ends is not None and subscription.ends <= day:
        return []
    found = []
    for terms, following in zip(subscription.terms, [*subscription.terms[1:], None], strict=True):
        if following is None or following.effective > day:
            found.append(terms.plan)
    return list(dict.fromkeys(found))


def _status(deal: DealRecord | None) -> DealStatus | None:
    return None if deal is None else deal.status


def _closing_order(record: CrmRecord) -> tuple[str, datetime, str]:
    return (str(record.fields.get("CloseDate") or ""), record.modstamp, record.id)


def _date(value: Any) -> date | None:
    try:
        return parse_date(value, "CloseDate")
    except InvalidField:
        return None


def _opportunity(record: CrmRecord, rows: Iterable[Mapping[str, Any]]) -> Opportunity:
    values = record.fields
    closed = parse_date(values.get("CloseDate"), "CloseDate")
    if closed is None:
        raise InvalidField("CloseDate", "a won opportunity needs its close date")
    lines = tuple(
        OpportunityLine(
            line_id=str(row.get("Id") or ""),
            product_code=str(row["Product2.ProductCode"])
            if row.get("Product2.ProductCode")
            else None,
            product_name=str(row.get("Product2.Name") or ""),
            quantity=parse_number(row.get("Quantity"), "OpportunityLineItem.Quantity")
            or Decimal(0),
            unit_price=parse_number(row.get("UnitPrice"), "OpportunityLineItem.UnitPrice"),
            discount=parse_number(row.get("Discount"), "OpportunityLineItem.Discount"),
            service_date=parse_date(row.get("ServiceDate"), "OpportunityLineItem.ServiceDate"),
        )
        for row in rows
    )
    return Opportunity(
        opportunity_id=record.id,
        account_id=str(values.get("AccountId") or ""),
        name=str(values.get("Name") or ""),
        close_date=closed,
        currency=str(values["CurrencyIsoCode"]) if values.get("CurrencyIsoCode") else None,
        contract_id=str(values["ContractId"]) if values.get("ContractId") else None,
        type=str(values["Type"]) if values.get("Type") else None,
        lines=lines,
    )


def _plain(line: Mapping[str, Any]) -> dict[str, Any]:
    """A line as JSON keeps it (money as decimal strings)."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in line.items()}


class DealSales:
    """:class:`~revsync.ports.erp.SaleLinks` over revsync's deals: the sale lines the ERP
    destination links a subscription's invoices to."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def of(self, subscription_ids: Collection[str]) -> dict[str, list[SaleLink]]:
        with self._uow(write=False) as uow:
            return uow.deals.sale_links(subscription_ids)
