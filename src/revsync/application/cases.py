"""Exception cases: list and show them, retry or replay their messages, resolve or ignore
them with a reason. Every action is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from revsync.application.service_credits import ServiceCredits
from revsync.domain.audit import AuditRecord
from revsync.domain.delivery import CLOSED_CASES, CaseKind, CaseStatus, MessageStatus
from revsync.domain.errors import InvalidField, NotFound
from revsync.ports.clock import Clock
from revsync.ports.delivery import AttemptRecord, Case, CaseFilter, StoredMessage
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case with its message and every attempt made to deliver it."""

    case: Case
    message: StoredMessage | None
    attempts: list[AttemptRecord]


@dataclass(frozen=True, slots=True)
class ReplaySelection:
    """Which delivery cases a replay queues again: one, or those of a destination and/or
    opened in a time range; open and ignored cases only (a resolved case was settled)."""

    case_id: str | None = None
    destination: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class Cases:
    """Exception-case handling for operators."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        credits: ServiceCredits | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._credits = credits  # decides service-credit cases

    def find(self, where: CaseFilter, *, after: str | None, limit: int) -> list[Case]:
        """Cases matching ``where``, by id."""
        with self._uow(write=False) as uow:
            return uow.cases.page(where, after=after, limit=limit)

    def show(self, case_id: str) -> CaseView:
        """A case, its message and attempts."""
        with self._uow(write=False) as uow:
            case = self._case(uow, case_id)
            if case.message_id is None:
                return CaseView(case, None, [])
            message = uow.outbox.get(case.message_id)
            return CaseView(case, message, uow.outbox.attempts_of(case.message_id))

    def retry(self, case_id: str, actor: str, reason: str = "") -> Case:
        """Queue the case's message again now, for a new round of attempts; a billing case
        is marked retrying, and the next billing run bills its subscription again (and
        resolves the case, or opens it again with the new error)."""
        with self._uow() as uow:
            case = self._case(uow, case_id)
            billing = case.kind is CaseKind.BILLING
            if not billing and not _holds_messages(case):
                raise InvalidField("case", f"a {case.kind.value} case has no message to retry")
            if case.status is not CaseStatus.OPEN:
                raise InvalidField(
                    "status", f"only an open case can be retried (it is {case.status.value})"
                )
            if billing:
                now = self._clock.now()
                uow.cases.set_status(case.id, CaseStatus.RETRYING, now, reason=reason or None)
                self._audit(uow, case, actor, "case.retried", CaseStatus.RETRYING, reason, now)
            else:
                self._requeue(uow, case, actor, "case.retried", reason)
            uow.commit()
            return self._case(uow, case_id)

    def approve(self, case_id: str, actor: str, reason: str) -> Case:
        """Queue the case's message again, approved past the destination's hold (an ERP posts
        an invoice of a closed period in the next open one); for a service credit, make its
        credit note."""
        if not reason.strip():
            raise InvalidField("reason", "say why the message is approved")
        with self._uow(write=False) as uow:
            kind = self._case(uow, case_id).kind
        if kind is CaseKind.SERVICE_CREDIT and self._credits is not None:
            self._credits.approve(case_id, actor, reason)  # the credit note, the case resolved
            with self._uow(write=False) as uow:
                return self._case(uow, case_id)
        with self._uow() as uow:
            case = self._case(uow, case_id)
            if case.kind is not CaseKind.DELIVERY or case.message_id is None:
                raise InvalidField("case", f"a {case.kind.value} case has no message to approve")
            if case.status is not CaseStatus.OPEN:
                raise InvalidField(
                    "status", f"only an open case can be approved (it is {case.status.value})"
                )
            self._requeue(uow, case, actor, "case.approved", reason, approved_by=actor)
            uow.commit()
            return self._case(uow, case_id)

    def replay(self, selection: ReplaySelection, actor: str, reason: str = "") -> list[str]:
        """Queue the messages of the selected delivery cases again; returns the case ids."""
        if (
            selection.case_id is None
            and selection.destination is None
            and not (selection.since or selection.until)
        ):
            raise InvalidField("selection", "name a case, a destination or a time range")
        with self._uow() as uow:
            if selection.case_id is not None:
                chosen = [self._case(uow, selection.case_id)]
            else:
                where = CaseFilter(
                    destination=selection.destination,
                    since=selection.since,
                    until=selection.until,
                )
                chosen = _all(uow, where)
            chosen = [
                c
                for c in chosen
                if _holds_messages(c) and c.status in (CaseStatus.OPEN, CaseStatus.IGNORED)
            ]
            for case in chosen:
                self._requeue(uow, case, actor, "case.replayed", reason)
            uow.commit()
        return [c.id for c in chosen]

    def resolve(self, case_id: str, actor: str, reason: str) -> Case:
        """Close a case as settled (outside revsync); its message will not be delivered."""
        return self._close(case_id, actor, reason, CaseStatus.RESOLVED, MessageStatus.RESOLVED)

    def ignore(self, case_id: str, actor: str, reason: str) -> Case:
        """Close a case as not worth acting on; its message will not be delivered."""
        return self._close(case_id, actor, reason, CaseStatus.IGNORED, MessageStatus.IGNORED)

    def _close(
        self,
        case_id: str,
        actor: str,
        reason: str,
        status: CaseStatus,
        message_status: MessageStatus,
    ) -> Case:
        if not reason.strip():
            raise InvalidField("reason", "say why the case is closed")
        with self._uow() as uow:
            case = self._case(uow, case_id)
            if case.status in CLOSED_CASES:
                raise InvalidField("status", f"the case is already {case.status.value}")
            if case.status is CaseStatus.RETRYING and case.kind is not CaseKind.BILLING:
                raise InvalidField("status", "the case's message is being retried; wait for it")
            now = self._clock.now()
            if case.kind is CaseKind.SERVICE_CREDIT and self._credits is not None:
                if status is not CaseStatus.IGNORED:
                    raise InvalidField(
                        "case", "approve a service credit, or ignore its case to refuse it"
                    )
                self._credits.refuse(uow, case, actor, reason, now)
            uow.cases.set_status(case.id, status, now, by=actor, reason=reason)
            uow.outbox.close(_messages(uow, case), message_status)
            self._audit(uow, case, actor, f"case.{status.value}", status, reason, now)
            uow.commit()
            return self._case(uow, case_id)

    def _requeue(
        self,
        uow: UnitOfWork,
        case: Case,
        actor: str,
        action: str,
        reason: str,
        *,
        approved_by: str | None = None,
    ) -> None:
        now = self._clock.now()
        uow.outbox.requeue(_messages(uow, case), now, approved_by=approved_by)
        uow.cases.set_status(case.id, CaseStatus.RETRYING, now, reason=reason or None)
        self._audit(uow, case, actor, action, CaseStatus.RETRYING, reason, now)

    @staticmethod
    def _audit(
        uow: UnitOfWork,
        case: Case,
        actor: str,
        action: str,
        status: CaseStatus,
        reason: str,
        now: datetime,
    ) -> None:
        uow.audit.append(
            AuditRecord(
                now,
                actor,
                action,
                "case",
                case.id,
                {"status": case.status.value},
                {"status": status.value, "reason": reason or None},
            )
        )

    @staticmethod
    def _case(uow: UnitOfWork, case_id: str) -> Case:
        case = uow.cases.get(case_id)
        if case is None:
            raise NotFound("case", case_id)
        return case


def _holds_messages(case: Case) -> bool:
    """A delivery case holds its message; an outage case the messages of its destination that
    stayed away past the maximum age."""
    return case.kind is CaseKind.OUTAGE or (
        case.kind is CaseKind.DELIVERY and case.message_id is not None
    )


def _messages(uow: UnitOfWork, case: Case) -> list[int]:
    """The messages a case holds and that are not done yet."""
    held = uow.outbox.of_case(case.id)
    if case.message_id is not None and case.message_id not in held:
        held.append(case.message_id)  # (a case of a message is its holder, linked or not)
    return held


def _all(uow: UnitOfWork, where: CaseFilter) -> list[Case]:
    found: list[Case] = []
    after = None
    while page := uow.cases.page(where, after=after, limit=500):
        found += page
        after = page[-1].id
    return found
