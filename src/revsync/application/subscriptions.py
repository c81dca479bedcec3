"""Subscriptions: create one, amend it (each amendment a new version of its terms), read it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from revsync.application.announcements import Announcer
from revsync.domain.audit import AuditRecord
from revsync.domain.errors import Conflict, InvalidField, NotFound
from revsync.domain.invoicing import InvoiceKind, InvoiceStatus
from revsync.domain.periods import Interval
from revsync.domain.pricing import Plan, check_plan_thresholds
from revsync.domain.subscriptions import (
    Amendment,
    Change,
    CouponUse,
    Subscription,
    Terms,
    amend,
    new_subscription,
)
from revsync.domain.thresholds import threshold_to_mapping
from revsync.domain.usage_months import first_kept
from revsync.ports.billing import InvoiceFilter
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CreateSubscription:
    """A new subscription on a plan version (the newest when ``plan_version`` is None)."""

    subscription_id: str
    customer_id: str
    plan_code: str
    start: date
    actor: str
    plan_version: int | None = None
    seats: int = 1
    anchor: date | None = None
    trial_end: date | None = None
    ends: date | None = None
    include_children: bool = False
    renewal_date: date | None = None
    coupons: Sequence[tuple[str, date | None]] = ()


@dataclass(frozen=True, slots=True)
class AmendSubscription:
    """A change to a subscription from a day on."""

    subscription_id: str
    change: Change
    effective: date
    actor: str
    plan_code: str | None = None
    plan_version: int | None = None
    seats: int | None = None
    trial_end: date | None = None
    ends: date | None = None


def terms_snapshot(terms: Terms) -> dict[str, Any]:
    """A version of the terms as plain data."""
    return {
        "version": terms.version,
        "effective": terms.effective.isoformat(),
        "change": terms.change.value,
        "plan": f"{terms.plan_code}@{terms.plan_version}",
        "seats": terms.seats,
        "trial_end": terms.trial_end.isoformat() if terms.trial_end else None,
        "ends": terms.ends.isoformat() if terms.ends else None,
    }


class Subscriptions:
    """Handlers for subscription commands and queries."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        announcer: Announcer | None = None,
        meters: Collection[str] | None = None,
        archive_after_months: int | None = None,
    ) -> None:
        """``meters``: the declared meters' keys (thresholds must watch one of them);
        ``archive_after_months``: months of usage are archived after this many
        (``usage_storage.archive_after_months``): no amendment may reach back into one."""
        self._uow = unit_of_work
        self._clock = clock
        self._announcer = announcer or Announcer()
        self._meters = None if meters is None else frozenset(meters)
        self._archive_after = archive_after_months

    def create(self, command: CreateSubscription) -> tuple[Subscription, bool]:
        """Create the subscription; the same request again changes nothing (False)."""
        with self._uow() as uow:
            subscription, created = self.create_in(uow, command)
            if created:
                uow.commit()
        return subscription, created

    def create_in(self, uow: UnitOfWork, command: CreateSubscription) -> tuple[Subscription, bool]:
        """:meth:`create` inside the caller's unit of work (the caller commits)."""
        customer = uow.customers.get(command.customer_id)
        if customer is None:
            raise InvalidField("customer_id", f"no customer {command.customer_id!r}")
        plan = _plan(uow, command.plan_code, command.plan_version)
        if plan.currency != customer.currency:
            raise InvalidField(
                "plan",
                f"plan {plan.code!r} is priced in {plan.currency}; customer "
                f"{customer.id!r} is invoiced in {customer.currency}",
            )
        coupons = [CouponUse(code, start or command.start) for code, start in command.coupons]
        for use in coupons:
            if uow.coupons.get(use.code) is None:
                raise InvalidField("coupons", f"no coupon {use.code!r}")
        subscription = new_subscription(
            subscription_id=command.subscription_id,
            customer_id=command.customer_id,
            start=command.start,
            plan=(plan.code, plan.version),
            interval=plan.interval,
            usage_interval=plan.usage_interval,
            seats=command.seats,
            anchor=command.anchor,
            trial_end=command.trial_end,
            ends=command.ends,
            include_children=command.include_children,
            renewal_date=command.renewal_date,
            coupons=coupons,
        )
        existing = uow.subscriptions.get(subscription.id)
        if existing is not None:
            if existing == subscription:
                return existing, False
            raise Conflict(
                f"subscription {subscription.id!r} exists with other terms; "
                "change it with an amendment"
            )
        now = self._clock.now()
        uow.subscriptions.add(subscription, now, command.actor)
        uow.outbox.add(self._announcer.customer_activated(customer, subscription), now)
        uow.audit.append(
            AuditRecord(
                now,
                command.actor,
                "subscription.created",
                "subscription",
                subscription.id,
                None,
                {
                    "customer_id": subscription.customer_id,
                    **terms_snapshot(subscription.current),
                },
            )
        )
        return subscription, True

    def set_thresholds(self, subscription_id: str, raw: object, actor: str) -> Subscription:
        """Replace the subscription's own thresholds (beside its plan's; one of the same key
        replaces the plan's), checked against the plan in service at its latest terms and the
        declared meters; audited."""
        with self._uow() as uow:
            uow.subscriptions.lock(subscription_id)
            subscription = uow.subscriptions.get(subscription_id)
            if subscription is None:
                raise NotFound("subscription", subscription_id)
            plan = _plan(uow, *subscription.current.plan)
            thresholds = check_plan_thresholds(plan, raw)
            for index, threshold in enumerate(thresholds):
                if self._meters is not None and threshold.meter not in (None, *self._meters):
                    raise InvalidField(
                        f"thresholds.{index}.meter", f"no meter {threshold.meter!r} is declared"
                    )
            if thresholds == subscription.thresholds:
                return subscription
            now = self._clock.now()
            uow.subscriptions.set_thresholds(subscription_id, thresholds, now)
            uow.audit.append(
                AuditRecord(
                    now,
                    actor,
                    "subscription.thresholds_set",
                    "subscription",
                    subscription_id,
                    {"thresholds": [threshold_to_mapping(t) for t in subscription.thresholds]},
                    {"thresholds": [threshold_to_mapping(t) for t in thresholds]},
                )
            )
            uow.commit()
        return replace(subscription, thresholds=thresholds)

    def amend(self, command: AmendSubscription) -> Subscription:
        """Add a version of the terms; a change that reaches back into invoiced periods makes
        the next billing run adjust them."""
        with self._uow() as uow:
            subscription = uow.subscriptions.get(command.subscription_id)
            if subscription is None:
                raise NotFound("subscription", command.subscription_id)
            amended = self._amend(uow, subscription, command)
            uow.commit()
        return amended

    def amend_to(
        self,
        subscription_id: str,
        changes: Callable[[Subscription], Sequence[AmendSubscription]],
    ) -> list[AmendSubscription]:
        """Read the subscription and apply the amendments ``changes`` finds it needs, in one
        transaction that holds the subscription: two processes bringing it to the same terms
        amend it once. Returns the amendments made."""
        with self._uow() as uow:
            uow.subscriptions.lock(subscription_id)
            subscription = uow.subscriptions.get(subscription_id)
            if subscription is None:
                raise NotFound("subscription", subscription_id)
            made = list(changes(subscription))
            for command in made:
                subscription = self._amend(uow, subscription, command)
            uow.commit()
        return made

    def amend_in(
        self, uow: UnitOfWork, subscription: Subscription, command: AmendSubscription
    ) -> Subscription:
        """Add a version of the terms inside the caller's unit of work, which holds the
        subscription (the caller commits)."""
        return self._amend(uow, subscription, command)

    def _amend(
        self, uow: UnitOfWork, subscription: Subscription, command: AmendSubscription
    ) -> Subscription:
        plan_ref = None
        intervals: tuple[Interval | None, Interval | None] = (None, None)
        if command.plan_code is not None:
            plan = _plan(uow, command.plan_code, command.plan_version)
            current = _plan(uow, *subscription.current.plan)
            if plan.currency != current.currency:
                raise InvalidField(
                    "plan",
                    f"plan {plan.code!r} is priced in {plan.currency}, not {current.currency}",
                )
            plan_ref = (plan.code, plan.version)
            intervals = (plan.interval, plan.usage_interval)
        amended = amend(
            subscription,
            Amendment(
                change=command.change,
                effective=command.effective,
                plan=plan_ref,
                seats=command.seats,
                trial_end=command.trial_end,
                ends=command.ends,
                interval=intervals[0],
                usage_interval=intervals[1],
            ),
        )
        if amended.calendars != subscription.calendars:
            _check_recut(uow, amended)
        now = self._clock.now()
        # a change on the day service ends is billed on the usage period that ends that day
        reach = command.effective
        if amended.ends is not None and amended.ends <= reach:
            reach = amended.ends - timedelta(days=1)
        if self._archive_after is not None:
            closed = first_kept(now, self._archive_after).start().date()
            if reach < closed:  # its periods would be rated again without their usage
                raise InvalidField(
                    "effective",
                    f"{reach.isoformat()} is before {closed.isoformat()}: the usage of that "
                    "month is archived and closed (usage_storage.archive_after_months)",
                )
        uow.subscriptions.add_terms(subscription.id, amended.current, now, command.actor)
        if _reaches_finalized(uow, subscription.id, reach):
            earlier = uow.subscriptions.recheck_from(subscription.id)
            day = reach if earlier is None else min(earlier, reach)
            uow.subscriptions.set_recheck(subscription.id, day)
        before, after = terms_snapshot(subscription.current), terms_snapshot(amended.current)
        uow.outbox.add(self._announcer.subscription_amended(amended, before, after), now)
        uow.audit.append(
            AuditRecord(
                now,
                command.actor,
                f"subscription.{command.change.value}",
                "subscription",
                subscription.id,
                before,
                after,
            )
        )
        return amended

    def add_coupon(self, subscription_id: str, code: str, start: date, actor: str) -> Subscription:
        """Apply a coupon from ``start``."""
        with self._uow() as uow:
            subscription = uow.subscriptions.get(subscription_id)
            if subscription is None:
                raise NotFound("subscription", subscription_id)
            if uow.coupons.get(code) is None:
                raise InvalidField("code", f"no coupon {code!r}")
            if any(use.code == code for use in subscription.coupons):
                raise Conflict(f"coupon {code!r} is already applied to {subscription_id!r}")
            uow.subscriptions.add_coupon(subscription_id, CouponUse(code, start))
            uow.audit.append(
                AuditRecord(
                    self._clock.now(),
                    actor,
                    "subscription.coupon_applied",
                    "subscription",
                    subscription_id,
                    None,
                    {"coupon": code, "start": start.isoformat()},
                )
            )
            uow.commit()
            found = uow.subscriptions.get(subscription_id)
        assert found is not None
        return found

    def get(self, subscription_id: str) -> Subscription:
        """A subscription with its whole history."""
        with self._uow(write=False) as uow:
            subscription = uow.subscriptions.get(subscription_id)
        if subscription is None:
            raise NotFound("subscription", subscription_id)
        return subscription


def _plan(uow: UnitOfWork, code: str, version: int | None) -> Plan:
    plan = uow.plans.latest(code) if version is None else uow.plans.get(code, version)
    if plan is None:
        raise InvalidField(
            "plan", f"no plan {code!r}" + ("" if version is None else f" version {version}")
        )
    return plan


#: the invoices whose period is one of the subscription's calendar periods
_CALENDAR_KINDS = frozenset({InvoiceKind.ADVANCE, InvoiceKind.ARREARS, InvoiceKind.INTERIM})


def _check_recut(uow: UnitOfWork, amended: Subscription) -> None:
    """Refuse a change of calendar that would leave an invoice (draft or final) of the
    subscription with a period it no longer has: periods already invoiced keep their dates."""
    lost = [
        invoice
        for invoice in uow.invoices.of_subscriptions([amended.id]).get(amended.id, [])
        if invoice.status is not InvoiceStatus.VOID
        and invoice.kind in _CALENDAR_KINDS
        and not amended.is_period(invoice.period, usage=invoice.kind is not InvoiceKind.ADVANCE)
    ]
    if lost:
        last = max(invoice.period.start for invoice in lost)
        raise InvalidField(
            "effective",
            f"the subscription is invoiced for {', '.join(sorted(str(i.period) for i in lost))}: "
            f"a change of billing interval takes effect after {last.isoformat()}, the start of "
            "the last period invoiced",
        )


def _reaches_finalized(uow: UnitOfWork, subscription_id: str, day: date) -> bool:
    """True when an invoice of the subscription for a period ending after ``day`` is final."""
    for status in (InvoiceStatus.FINALIZED, InvoiceStatus.POSTED, InvoiceStatus.PAID):
        where = InvoiceFilter(
            subscription_id=subscription_id, status=status, kind=InvoiceKind.ARREARS
        )
        if any(
            invoice.period.end > day
            for invoice in uow.invoices.page(where, after=None, limit=10_000)
        ):
            return True
    return False
