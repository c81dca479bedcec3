"""The catalog: plans (versioned) and coupons, from the config and the API.

A plan never changes once written: putting a different definition under the same code makes
a new version, and subscriptions keep the version they are on until they are amended.
Putting the same definition again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from revsync.domain.audit import AuditRecord
from revsync.domain.billing import check_meters
from revsync.domain.coupons import Coupon, coupon_from_data, coupon_to_data
from revsync.domain.errors import NotFound
from revsync.domain.metering import Meter
from revsync.domain.posting import PostingRule, check_rules
from revsync.domain.pricing import Plan, plan_from_mapping, plan_to_mapping
from revsync.domain.scopes import check_scope
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class PutPlanOutcome:
    """The plan version now current and whether this put created it."""

    plan: Plan
    created: bool


class Catalog:
    """Plans and coupons."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        meters: Sequence[Meter],
        posting_rules: Sequence[PostingRule] | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._meters = {m.key: m for m in meters}
        self._posting_rules = posting_rules  # with an ERP: every plan line must have a rule

    def put_plan(
        self, code: str, definition: Mapping[str, Any], actor: str, source: str = "api"
    ) -> PutPlanOutcome:
        """Store a plan definition: a new version if it differs from the newest one."""
        candidate = plan_from_mapping(definition, code=code, version=1)
        check_meters(candidate, self._meters)
        if self._posting_rules is not None:
            check_rules(self._posting_rules, [candidate])
        with self._uow() as uow:
            latest = uow.plans.latest(code)
            if latest is not None and plan_to_mapping(latest) == plan_to_mapping(candidate):
                return PutPlanOutcome(latest, created=False)
            plan = replace(candidate, version=1 if latest is None else latest.version + 1)
            uow.plans.add(plan, source, self._clock.now())
            uow.audit.append(
                AuditRecord(
                    at=self._clock.now(),
                    actor=actor,
                    action="plan.version_created",
                    object_type="plan",
                    object_id=f"{plan.code}@{plan.version}",
                    before=None if latest is None else plan_to_mapping(latest),
                    after=plan_to_mapping(plan),
                )
            )
            uow.commit()
        return PutPlanOutcome(plan, created=True)

    def sync(self, plans: Sequence[Plan], coupons: Sequence[Coupon], actor: str) -> list[Plan]:
        """Bring the store in line with the plans and coupons declared in the config."""
        created = []
        for plan in plans:
            outcome = self.put_plan(plan.code, plan_to_mapping(plan), actor, source="config")
            if outcome.created:
                created.append(outcome.plan)
        for coupon in coupons:
            self.put_coupon(coupon_to_data(coupon), actor)
        return created

    def plan(self, code: str, version: int | None = None) -> Plan:
        """A plan version (the newest when ``version`` is None)."""
        with self._uow(write=False) as uow:
            plan = uow.plans.latest(code) if version is None else uow.plans.get(code, version)
        if plan is None:
            raise NotFound("plan", code if version is None else f"{code}@{version}")
        return plan

    def versions(self, code: str) -> list[Plan]:
        """Every version of a plan, oldest first."""
        with self._uow(write=False) as uow:
            found = uow.plans.versions(code)
        if not found:
            raise NotFound("plan", code)
        return found

    def plans(self) -> list[Plan]:
        """The newest version of every plan."""
        with self._uow(write=False) as uow:
            return uow.plans.all_latest()

    def put_coupon(self, data: Mapping[str, Any], actor: str) -> Coupon:
        """Create or replace a coupon definition (the plans and meters it is limited to must
        exist)."""
        coupon = coupon_from_data(data)
        with self._uow() as uow:
            given = data.get("applies_to")
            check_scope(
                coupon.applies_to,
                given if isinstance(given, Mapping) else None,
                plan_exists=lambda code: uow.plans.latest(code) is not None,
                meters=self._meters,
            )
            before = uow.coupons.get(coupon.code)
            if before == coupon:
                return coupon
            uow.coupons.put(coupon, self._clock.now())
            uow.audit.append(
                AuditRecord(
                    at=self._clock.now(),
                    actor=actor,
                    action="coupon.created" if before is None else "coupon.updated",
                    object_type="coupon",
                    object_id=coupon.code,
                    before=None if before is None else coupon_to_data(before),
                    after=coupon_to_data(coupon),
                )
            )
            uow.commit()
        return coupon

    def coupon(self, code: str) -> Coupon:
        """A coupon."""
        with self._uow(write=False) as uow:
            coupon = uow.coupons.get(code)
        if coupon is None:
            raise NotFound("coupon", code)
        return coupon
