"""The collections ladder (docs/support.md): after each payment sync, each customer's rung is
the highest ERP dunning level among its overdue invoices; a customer that moved gets the steps
of its new rung — CRM tasks, a flag on its open tickets, an entitlement restriction — and has
those above it undone, all in one transaction with its audit record and one
``collections.changed`` announcement. The ERP saying the invoices are paid brings it back to
rung 0: its tasks are completed, the flag taken off, the restriction lifted.

The CRM destination opens and completes the tasks; the support sync reads the customers that
moved and tags their open tickets (application/support.py); entitlement checks read the
restriction with the customer's terms (application/entitlements.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from revsync.application.announcements import Announcer
from revsync.domain.audit import AuditRecord
from revsync.domain.collections import Assignee, Ladder, Standing, climb, rung_of
from revsync.domain.identity import Customer, System
from revsync.ports.clock import Clock
from revsync.ports.collections import CollectionsRecord
from revsync.ports.erp import PostingRecord
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory

ACTOR = "system:collections"
#: the announcement of a customer's move on the ladder
CHANGED = "collections.changed"
_ASSIGNEE_TEXT = {Assignee.OWNER: "account owner", Assignee.SUCCESS_MANAGER: "success manager"}


@dataclass(slots=True)
class CollectionsReport:
    """What one pass of the ladder moved: customer id → (rung before, rung after)."""

    moved: dict[str, tuple[int, int]] = field(default_factory=dict)


class Collections:
    """Moves customers on the ladder to the rung their overdue invoices put them on."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        announcer: Announcer,
        ladder: Ladder,
        *,
        enabled: bool = True,
        forget: Any = None,
    ) -> None:
        """``forget``: called with a customer id whose restriction changed, after the commit
        (the entitlement snapshots of this process read it again at once)."""
        self._uow = unit_of_work
        self._clock = clock
        self._announcer = announcer
        self._ladder = ladder
        self._enabled = enabled
        self._forget = forget

    def on_ladder(self, after: str | None = None, limit: int = 100) -> list[CollectionsRecord]:
        """The customers on the ladder now, by id after ``after``."""
        with self._uow(write=False) as uow:
            return uow.collections.page(after, limit)

    def run(self, correlation_id: str | None = None) -> CollectionsReport:
        """One pass over the customers with overdue invoices and those on the ladder."""
        report = CollectionsReport()
        if not self._enabled:
            return report
        with self._uow(write=False) as uow:
            overdue = uow.postings.overdue_by_customer()
            held = {r.customer_id: r.standing.level for r in uow.collections.on_ladder()}
        levels = {cid: rung_of(p.dunning_level for p in found) for cid, found in overdue.items()}
        for customer_id in sorted(levels.keys() | held.keys()):
            level = levels.get(customer_id, 0)
            if level != held.get(customer_id, 0):
                moved = self._move(customer_id, level, overdue.get(customer_id, []), correlation_id)
                if moved is not None:
                    report.moved[customer_id] = moved
        return report

    def _move(
        self,
        customer_id: str,
        level: int,
        overdue: list[PostingRecord],
        correlation_id: str | None,
    ) -> tuple[int, int] | None:
        """Move the customer to ``level`` in one transaction: its record, the audit record and
        the announcement. None when it stood there already (another pass moved it)."""
        with self._uow() as uow:
            now = self._clock.now()
            record = uow.collections.get(customer_id)
            customer = uow.customers.get(customer_id)
            before = record.standing if record is not None else Standing(0)
            if customer is None or before.level == level:
                return None
            move = climb(self._ladder, before, level)
            today = now.astimezone(ZoneInfo(customer.timezone)).date()
            began = record.since if record is not None and before.level > 0 else None
            since = (began or today) if level > 0 else None
            uow.collections.put(CollectionsRecord(customer_id, move.after, since, now))
            invoices = self._overdue(uow, overdue)
            reason = (
                f"dunning level {level} reached on {len(invoices)} overdue invoices"
                if level > before.level
                else "the ERP reports the overdue invoices paid"
                if level == 0
                else f"the invoices at dunning levels above {level} are paid"
            )
            uow.audit.append(
                AuditRecord(
                    now,
                    ACTOR,
                    "collections.moved",
                    "customer",
                    customer_id,
                    _standing(before, began),
                    {**_standing(move.after, since), "reason": reason},
                )
            )
            payload = {
                "customer_id": customer_id,
                "customer_name": customer.name,
                "account_id": _account(customer),
                "level": level,
                "previous_level": before.level,
                "since": None if since is None else since.isoformat(),
                "reason": reason,
                "open_tasks": [
                    self._task(customer, since or today, rung, invoices) for rung in move.opened
                ],
                "close_tasks": [
                    {"key": _task_key(customer_id, began or today, rung), "level": rung}
                    for rung in move.closed
                ],
                "flag_tickets": move.flag,
                "restriction": None
                if move.after.restriction is None
                else move.after.restriction.as_dict(),
                "overdue": invoices,
            }
            uow.outbox.add(
                self._announcer.messages(
                    CHANGED,
                    aggregate=f"customer:{customer_id}",
                    object_type="customer",
                    object_id=customer_id,
                    key_parts=(customer_id, str(before.level), str(level), now.isoformat()),
                    payload=payload,
                    correlation_id=correlation_id,
                ),
                now,
            )
            uow.commit()
        if move.restricted and self._forget is not None:
            self._forget(customer_id)
        return before.level, level

    def _task(
        self, customer: Customer, since: date, rung: int, invoices: list[dict[str, Any]]
    ) -> dict[str, Any]:
        found = next(r for r in self._ladder.rungs if r.level == rung)
        assignee = found.task or Assignee.OWNER
        listed = "; ".join(
            f"{i['number']} (ERP {i['erp_number']}) {i['amount_due']} {i['currency']}, due "
            f"{i['due_date']}, {i['dunning_level'] or 'overdue'}"
            for i in invoices
        )
        return {
            "key": _task_key(customer.id, since, rung),
            "level": rung,
            "assignee": assignee.value,
            "subject": f"revsync collections: dunning level {rung} — {customer.name}",
            "description": (
                f"For the {_ASSIGNEE_TEXT[assignee]}: {customer.name} ({customer.id}) reached "
                f"dunning level {rung} on {since.isoformat()}. Overdue: {listed}. revsync "
                "completes this task when the ERP reports them paid."
            ),
        }

    @staticmethod
    def _overdue(uow: UnitOfWork, postings: list[PostingRecord]) -> list[dict[str, Any]]:
        listed = []
        for posting in postings:
            invoice = uow.invoices.get(posting.invoice_id)
            if invoice is None:
                continue
            listed.append(
                {
                    "invoice_id": invoice.id,
                    "number": invoice.number or invoice.id,
                    "erp_number": posting.number,
                    "amount_due": posting.amount_to_pay
                    if posting.amount_to_pay is not None
                    else invoice.totals.total,
                    "currency": invoice.currency,
                    "due_date": None if posting.due_date is None else posting.due_date.isoformat(),
                    "dunning_level": posting.dunning_level,
                }
            )
        return listed


def _task_key(customer_id: str, since: date, rung: int) -> str:
    """revsync's key of a rung's task: one per rung per time on the ladder."""
    return f"collections:{customer_id}:{since.isoformat()}:{rung}"


def _account(customer: Customer) -> str | None:
    accounts = customer.refs_in(System.CRM)
    return accounts[0] if accounts else None


def _standing(standing: Standing, since: date | None) -> dict[str, Any]:
    return {
        "level": standing.level,
        "tasks": list(standing.tasks),
        "flagged": standing.flagged,
        "restriction": None if standing.restriction is None else standing.restriction.as_dict(),
        "since": None if since is None else since.isoformat(),
    }
