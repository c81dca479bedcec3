"""The CRM side of revsync: the incremental pull of accounts (customers and their hierarchy) and
contracts (subscriptions and their amendments), and the signals pushed back through the outbox
(adoption, billing status, health and risk, renewal readiness on the account; tasks for new
risks; opportunities for sustained usage above the plan).

revsync writes only the fields it owns (``FieldMap``); a record it cannot take is dead-lettered
on the ``crm`` channel with the reason, and the others are kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from revsync.application.announcements import Announcer
from revsync.application.customers import Customers, PutCustomer
from revsync.application.deals import DealReport
from revsync.application.health import Health
from revsync.application.subscriptions import AmendSubscription, CreateSubscription, Subscriptions
from revsync.domain.crm import (
    ContractSeen,
    ContractTerms,
    Risk,
    Signals,
    contract_amendments,
    parse_count,
    parse_date,
    subscription_id,
)
from revsync.domain.errors import Conflict, InvalidField, NotFound
from revsync.domain.identity import Customer, ExternalRef, System
from revsync.domain.pricing import Plan
from revsync.domain.problems import Code
from revsync.domain.subscriptions import Subscription
from revsync.ports.clock import Clock
from revsync.ports.crm import Crm, CrmRecord, Watermark
from revsync.ports.delivery import NewMessage
from revsync.ports.repositories import DeadLetter, UnitOfWorkFactory

ACTOR = "system:crm"
CHANNEL = "crm"


@dataclass(frozen=True, slots=True)
class CrmMapping:
    """How CRM records read as revsync's, and which fields carry the signals (from config)."""

    account_fields: Mapping[str, str]  # role (name, parent, country, customer_id) → field
    contract_fields: Mapping[str, str]  # role (plan, seats, renewal_date, amendment_date) → field
    signal_fields: Mapping[str, str]  # signal → revsync-owned account field
    account_read: Sequence[str]
    contract_read: Sequence[str]
    plans: Mapping[str, str]  # CRM plan value → revsync plan code
    currency: str
    timezone: str
    overlap_seconds: float = 300
    renewal_window_days: int = 90
    expansion_periods: int = 2
    include_children: bool = True  # a contract bills its account's subsidiaries' usage too


@dataclass(slots=True)
class PullReport:
    """What one pull did."""

    accounts: int = 0
    contracts: int = 0
    customers_created: list[str] = field(default_factory=list)
    customers_changed: list[str] = field(default_factory=list)
    subscriptions_created: list[str] = field(default_factory=list)
    amendments: list[str] = field(default_factory=list)  # "subscription: change"
    refused: list[str] = field(default_factory=list)  # "Account 001…: reason"
    deals: DealReport | None = None  # won opportunities, with quote-to-cash on


class CrmPull:
    """Accounts, then contracts, changed since the last pull (``revsync crm sync``, and the
    worker every ``crm.sync_interval_seconds``)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        customers: Customers,
        subscriptions: Subscriptions,
        mapping: CrmMapping,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._customers = customers
        self._subscriptions = subscriptions
        self._map = mapping
        self._plans: dict[str, Plan | None] = {}  # by code, for the current run

    async def run(self, crm: Crm) -> PullReport:
        report = PullReport()
        self._plans = {}  # plans may change between runs
        accounts = await self._pull(crm, "Account", self._map.account_read)
        for record in _parents_first(accounts.records, self._map.account_fields["parent"]):
            self._guarded("Account", record, report, self._account)
        report.accounts = len(accounts.records)
        self._advance("Account", accounts.watermark)
        contracts = await self._pull(crm, "Contract", self._map.contract_read)
        for record in contracts.records:
            self._guarded("Contract", record, report, self._contract)
        report.contracts = len(contracts.records)
        self._advance("Contract", contracts.watermark)
        return report

    async def _pull(self, crm: Crm, sobject: str, fields: Sequence[str]) -> Any:
        with self._uow(write=False) as uow:
            since = uow.crm.watermark(sobject)
        return await crm.pull(sobject, fields, since, overlap_seconds=self._map.overlap_seconds)

    def _advance(self, sobject: str, watermark: Watermark | None) -> None:
        if watermark is None:
            return
        with self._uow() as uow:
            current = uow.crm.watermark(sobject)
            if current is None or watermark > current:
                uow.crm.set_watermark(sobject, watermark, self._clock.now())
            uow.commit()

    def _guarded(self, sobject: str, record: CrmRecord, report: PullReport, apply: Any) -> None:
        """Apply one record; a refusal is dead-lettered with its reason, the others go on."""
        try:
            apply(record, report)
        except (InvalidField, NotFound, Conflict) as error:
            reason = f"{sobject} {record.id}: {error}"
            report.refused.append(reason)
            with self._uow() as uow:
                uow.dead_letters.add(
                    [
                        DeadLetter(
                            received_at=self._clock.now(),
                            channel=CHANNEL,
                            code=Code.CRM_RECORD,
                            reason=reason,
                            payload=json.dumps(
                                {"sobject": sobject, "id": record.id, **record.fields},
                                default=str,
                                sort_keys=True,
                            ),
                        )
                    ]
                )
                uow.commit()

    # --- accounts ----------------------------------------------------------------------

    def _account(self, record: CrmRecord, report: PullReport) -> None:
        if record.deleted:
            return  # revsync keeps the customer and its history; the CRM ref stays
        roles = self._map.account_fields
        existing = self._customer_of(record)
        parent = self._parent_of(record.fields.get(roles["parent"]))
        name = str(record.fields.get(roles["name"]) or "").strip()
        if not name:
            raise InvalidField(roles["name"], "is empty")
        country = _country(record.fields.get(roles.get("country", "")), existing)
        refs: dict[System, list[str]] = {}
        for ref in existing.refs if existing else ():
            refs.setdefault(ref.system, []).append(ref.value)
        refs[System.CRM] = [record.id]
        outcome = self._customers.put(
            PutCustomer(
                customer_id=existing.id if existing else self._new_id(record),
                name=name,
                currency=existing.currency if existing else self._map.currency,
                timezone=existing.timezone if existing else self._map.timezone,
                parent_id=parent,
                refs=refs,
                actor=ACTOR,
                country=country,
                tax_exempt=existing.tax_exempt if existing else False,
            )
        )
        if outcome.created:
            report.customers_created.append(outcome.customer.id)
        elif outcome.changed:
            report.customers_changed.append(outcome.customer.id)

    def _customer_of(self, record: CrmRecord) -> Customer | None:
        found = self._customers.find_by_ref(ExternalRef(System.CRM, record.id))
        if found is not None:
            return found
        named = record.fields.get(self._map.account_fields.get("customer_id", ""))
        if named:
            try:
                return self._customers.get(str(named))
            except NotFound:
                return None
        return None

    def _new_id(self, record: CrmRecord) -> str:
        named = record.fields.get(self._map.account_fields.get("customer_id", ""))
        return str(named) if named else f"crm-{record.id}"

    def _parent_of(self, parent_account: Any) -> str | None:
        if not parent_account:
            return None
        parent = self._customers.find_by_ref(ExternalRef(System.CRM, str(parent_account)))
        if parent is None:
            raise InvalidField("ParentId", f"the parent account {parent_account} is not synced")
        return parent.id

    # --- contracts ---------------------------------------------------------------------

    def _contract(self, record: CrmRecord, report: PullReport) -> None:
        terms = self._terms(record)
        customer = self._customers.find_by_ref(ExternalRef(System.CRM, terms.account_id))
        if customer is None:
            raise InvalidField("AccountId", f"the account {terms.account_id} is not synced")
        sub_id = subscription_id(record.id)
        try:
            existing: Subscription | None = self._subscriptions.get(sub_id)
        except NotFound:
            existing = None
        plan = self._plan(terms.plan)
        if existing is None:
            if record.deleted or not terms.active:
                return  # nothing to bill yet
            if plan is None or terms.start is None:
                raise InvalidField(
                    self._map.contract_fields.get("plan", "Plan"),
                    "an active contract needs a plan and a start date",
                )
            created, _ = self._subscriptions.create(
                CreateSubscription(
                    subscription_id=sub_id,
                    customer_id=customer.id,
                    plan_code=plan.code,
                    start=terms.start,
                    actor=ACTOR,
                    seats=terms.seats if terms.seats is not None else 1,
                    renewal_date=terms.renewal_date,
                    include_children=self._map.include_children,
                )
            )
            report.subscriptions_created.append(created.id)
            self._seen(terms)
            return
        effective = (
            terms.amendment_date or record.modstamp.astimezone(ZoneInfo(customer.timezone)).date()
        )
        if record.deleted:
            terms = replace(terms, status="Deleted")

        def changes(current: Subscription) -> list[AmendSubscription]:
            # read again where it is amended: another pull may have brought it there already
            return [
                AmendSubscription(
                    subscription_id=sub_id,
                    change=amendment.change,
                    effective=amendment.effective,
                    actor=ACTOR,
                    plan_code=amendment.plan[0] if amendment.plan else None,
                    plan_version=amendment.plan[1] if amendment.plan else None,
                    seats=amendment.seats,
                    ends=amendment.ends,
                )
                for amendment in contract_amendments(current, terms, plan, effective, seen)
            ]

        with self._uow(write=False) as uow:
            seen = uow.crm.contract_seen(record.id)
        for made in self._subscriptions.amend_to(sub_id, changes):
            report.amendments.append(f"{sub_id}: {made.change.value}")
        self._seen(terms)

    def _seen(self, terms: ContractTerms) -> None:
        """Keep the contract's plan and seats as read (what it changes next time is new)."""
        seen = ContractSeen(terms.plan, terms.seats)
        with self._uow() as uow:
            if uow.crm.contract_seen(terms.contract_id) != seen:
                uow.crm.set_contract_seen(terms.contract_id, seen, self._clock.now())
                uow.commit()

    def _terms(self, record: CrmRecord) -> ContractTerms:
        return contract_terms(record, self._map)

    def _plan(self, crm_plan: str | None) -> Plan | None:
        if crm_plan is None:
            return None
        code = self._map.plans.get(crm_plan, crm_plan)
        if code not in self._plans:
            with self._uow(write=False) as uow:
                self._plans[code] = uow.plans.latest(code)
        plan = self._plans[code]
        if plan is None:
            raise InvalidField(
                self._map.contract_fields.get("plan", "plan"),
                f"the CRM plan {crm_plan!r} is no revsync plan (map it in crm.plans)",
            )
        return plan


def contract_terms(record: CrmRecord, mapping: CrmMapping) -> ContractTerms:
    """A CRM contract's terms, read through the configured field roles."""
    roles, values = mapping.contract_fields, record.fields

    def role(name: str) -> Any:
        return values.get(roles[name]) if name in roles else None

    return ContractTerms(
        contract_id=record.id,
        account_id=str(values.get("AccountId") or ""),
        status=str(values.get("Status") or ""),
        plan=str(role("plan")) if role("plan") else None,
        seats=parse_count(role("seats"), roles.get("seats", "seats")),
        start=parse_date(values.get("StartDate"), "StartDate"),
        term_months=parse_count(values.get("ContractTerm"), "ContractTerm"),
        end=parse_date(values.get("EndDate"), "EndDate"),
        renewal_date=parse_date(role("renewal_date"), roles.get("renewal_date", "renewal")),
        owner_id=str(values["OwnerId"]) if values.get("OwnerId") else None,
        amendment_date=parse_date(
            role("amendment_date"), roles.get("amendment_date", "amendment_date")
        ),
    )


def _country(value: Any, existing: Customer | None) -> str | None:
    """A two-letter country code from the CRM; anything else keeps what revsync had."""
    text = str(value or "").strip().upper()
    if len(text) == 2 and text.isalpha():
        return text
    return existing.country if existing else None


def _parents_first(records: Sequence[CrmRecord], parent_field: str) -> list[CrmRecord]:
    """Records ordered so that a parent changed in the same pull comes before its children."""
    by_id = {r.id: r for r in records}
    ordered: list[CrmRecord] = []
    placed: set[str] = set()

    def place(record: CrmRecord, seen: frozenset[str]) -> None:
        if record.id in placed or record.id in seen:
            return
        parent = record.fields.get(parent_field)
        if parent in by_id:
            place(by_id[parent], seen | {record.id})
        placed.add(record.id)
        ordered.append(record)

    for record in records:
        place(record, frozenset())
    return ordered


# --- signals -------------------------------------------------------------------------


@dataclass(slots=True)
class PushReport:
    """What one signal push queued."""

    assessed: int = 0
    accounts: list[str] = field(default_factory=list)  # customers whose signals changed
    tasks: list[str] = field(default_factory=list)
    opportunities: list[str] = field(default_factory=list)
    signals: list[Signals] = field(default_factory=list)  # every assessment, changed or not


#: account updates per outbox message (one composite request)
ACCOUNTS_PER_MESSAGE = 200


class CrmSignals:
    """Assess every CRM-linked customer and queue what changed for the CRM: account fields in
    batches, a task per newly raised risk, an opportunity per streak of usage above the plan."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        health: Health,
        announcer: Announcer,
        mapping: CrmMapping,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._announcer = announcer
        self._map = mapping
        self._health = health

    def run(self, correlation_id: str | None = None) -> PushReport:
        """Assess every CRM-linked customer (reading only), then queue what changed in one
        short write transaction, so that ingestion is not held up by the assessment."""
        report = PushReport()
        now = self._clock.now()
        assessed = []
        plans: dict[tuple[str, int], Plan | None] = {}  # each plan version read once a run
        with self._uow(write=False) as uow:
            for customer, subscriptions in self._linked(uow):
                signals, streaks = self._health.assess(uow, customer, subscriptions, now, plans)
                wire = _wire(signals.account_values(self._map.signal_fields))
                digest = hashlib.sha256(json.dumps(wire, sort_keys=True).encode()).hexdigest()
                assessed.append((customer, signals, streaks, wire, digest))
        report.signals = [signals for _, signals, _, _, _ in assessed]
        report.assessed = len(assessed)
        updates: list[dict[str, Any]] = []
        with self._uow() as uow:
            for customer, signals, streaks, wire, digest in assessed:
                before = uow.crm.pushed(customer.id)
                if uow.crm.pushed_digest(customer.id) != digest:
                    updates.append(
                        {
                            "customer_id": customer.id,
                            "account_id": signals.account_id,
                            "values": wire,
                        }
                    )
                    uow.crm.set_pushed(customer.id, digest, wire, now)
                    report.accounts.append(customer.id)
                tasks = self._risk_tasks(customer, signals, before, now.date())
                opportunities = self._expansions(customer, signals, streaks)
                report.tasks += self._queue(uow, tasks, now)
                report.opportunities += self._queue(uow, opportunities, now)
            for start in range(0, len(updates), ACCOUNTS_PER_MESSAGE):
                batch = updates[start : start + ACCOUNTS_PER_MESSAGE]
                uow.outbox.add(self._announcer.signals_updated(batch, correlation_id), now)
            uow.commit()
        return report

    @staticmethod
    def _queue(uow: Any, keyed: list[tuple[str, list[NewMessage]]], now: datetime) -> list[str]:
        """Queue keyed announcements; the keys that were not queued before."""
        return [key for key, messages in keyed if uow.outbox.add(messages, now)]

    def _linked(self, uow: Any) -> Iterable[tuple[Customer, list[Subscription]]]:
        """CRM-linked customers with their subscriptions."""
        for customer in uow.customers.with_system(System.CRM):
            yield customer, uow.subscriptions.of_customer(customer.id)

    def _risk_tasks(
        self,
        customer: Customer,
        signals: Signals,
        before: Mapping[str, Any] | None,
        today: date,
    ) -> list[tuple[str, list[NewMessage]]]:
        """A task for each risk that was not raised when signals were last pushed."""
        flags_field = self._map.signal_fields.get("risk_flags")
        raised_before = set(str((before or {}).get(flags_field or "", "") or "").split(";"))
        found = []
        for risk in signals.risks:
            if risk.value in raised_before:
                continue
            key = f"risk:{customer.id}:{risk.value}:{today.isoformat()}"
            task = {
                "Subject": f"revsync: {_RISK_TEXT[risk]} — {customer.name}",
                "Status": "Not Started",
                "Priority": "High",
                "ActivityDate": today.isoformat(),
            }
            found.append(
                (
                    key,
                    self._announcer.keyed(
                        "risk.raised",
                        customer.id,
                        key,
                        {"account_id": signals.account_id, "create_values": task},
                    ),
                )
            )
        return found

    def _expansions(
        self,
        customer: Customer,
        signals: Signals,
        streaks: Mapping[str, list[date]],
    ) -> list[tuple[str, list[NewMessage]]]:
        """An opportunity per meter used above the plan for the configured run of months (one
        per run: its key names the run's first month)."""
        today = self._clock.now().date()
        found = []
        for adoption in signals.adoption:
            streak = streaks.get(adoption.meter, [])
            if len(streak) < self._map.expansion_periods:
                continue
            key = f"expansion:{customer.id}:{adoption.meter}:{streak[0].isoformat()}"
            opportunity = {
                "Name": f"Expansion: {customer.name} — {adoption.meter} above plan",
                "StageName": "Prospecting",
                "CloseDate": (today + timedelta(days=30)).isoformat(),
            }
            found.append(
                (
                    key,
                    self._announcer.keyed(
                        "expansion.detected",
                        customer.id,
                        key,
                        {"account_id": signals.account_id, "create_values": opportunity},
                    ),
                )
            )
        return found


_RISK_TEXT = {
    Risk.OVERDUE: "an invoice is overdue",
    Risk.DUNNING: "an overdue invoice reached a dunning level",
    Risk.LOW_ADOPTION: "adoption is below 30% of the plan",
    Risk.DECLINING_USAGE: "usage is declining",
    Risk.RENEWAL_AT_RISK: "the renewal is at risk",
    Risk.SUPPORT_LOAD: "support tickets are many or severe",
    Risk.ESCALATING: "support tickets are rising while payments slip or the contract changed",
}


def _wire(values: Mapping[str, Any]) -> dict[str, Any]:
    """Signal values as JSON: money as decimal strings."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}
