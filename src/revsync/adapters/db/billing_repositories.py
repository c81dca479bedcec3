"""SQL repositories for plans, coupons, subscriptions, invoices, credits and billing runs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from revsync.adapters.db.bulk import insert_rows
from revsync.adapters.db.engine import BILLING_LOCK
from revsync.adapters.db.tables import (
    billing_runs,
    coupons,
    credit_grants,
    credit_uses,
    invoice_lines,
    invoice_taxes,
    invoices,
    number_series,
    plans,
    subscription_coupons,
    subscription_terms,
    subscriptions,
)
from revsync.domain.coupons import Coupon, coupon_from_data, coupon_to_data
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import (
    ZERO,
    CreditGrant,
    CreditUse,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Line,
    Lineage,
    LineKind,
    TaxLine,
    Totals,
)
from revsync.domain.periods import Interval, Period
from revsync.domain.pricing import Plan, plan_from_mapping, plan_to_mapping
from revsync.domain.scopes import scope_from_data, scope_to_data
from revsync.domain.subscriptions import Change, CouponUse, Subscription, Terms
from revsync.domain.thresholds import Threshold, check_thresholds, threshold_to_mapping
from revsync.ports.billing import BillingRunRecord, InvoiceFilter


class SqlPlanRepository:
    """Plan versions."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def latest(self, code: str) -> Plan | None:
        row = self._conn.execute(
            sa.select(plans).where(plans.c.code == code).order_by(plans.c.version.desc()).limit(1)
        ).first()
        return None if row is None else _plan(row)

    def get(self, code: str, version: int) -> Plan | None:
        row = self._conn.execute(
            sa.select(plans).where(plans.c.code == code, plans.c.version == version)
        ).first()
        return None if row is None else _plan(row)

    def versions(self, code: str) -> list[Plan]:
        rows = self._conn.execute(
            sa.select(plans).where(plans.c.code == code).order_by(plans.c.version)
        )
        return [_plan(row) for row in rows]

    def all_latest(self) -> list[Plan]:
        newest = (
            sa.select(plans.c.code, sa.func.max(plans.c.version).label("version"))
            .group_by(plans.c.code)
            .subquery()
        )
        query = sa.select(plans).join(
            newest, sa.and_(plans.c.code == newest.c.code, plans.c.version == newest.c.version)
        )
        return [_plan(row) for row in self._conn.execute(query.order_by(plans.c.code))]

    def add(self, plan: Plan, source: str, at: datetime) -> None:
        self._conn.execute(
            plans.insert().values(
                code=plan.code,
                version=plan.version,
                definition=plan_to_mapping(plan),
                created_at=at,
                source=source,
            )
        )


def _plan(row: sa.Row[Any]) -> Plan:
    return plan_from_mapping(row.definition, code=row.code, version=row.version)


class SqlCouponRepository:
    """Coupon definitions."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def get(self, code: str) -> Coupon | None:
        row = self._conn.execute(sa.select(coupons).where(coupons.c.code == code)).first()
        return None if row is None else coupon_from_data({**row.definition, "code": row.code})

    def put(self, coupon: Coupon, at: datetime) -> None:
        definition = {k: v for k, v in coupon_to_data(coupon).items() if k != "code"}
        updated = self._conn.execute(
            coupons.update().where(coupons.c.code == coupon.code).values(definition=definition)
        )
        if updated.rowcount == 0:
            self._conn.execute(
                coupons.insert().values(code=coupon.code, definition=definition, created_at=at)
            )


class SqlSubscriptionRepository:
    """Subscriptions with their terms history and coupons."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def lock(self, subscription_id: str) -> None:
        # SQLite: the unit of work holds the write lock already
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(
                sa.select(subscriptions.c.id)
                .where(subscriptions.c.id == subscription_id)
                .with_for_update()
            )

    def get(self, subscription_id: str) -> Subscription | None:
        found = self._load(subscriptions.c.id == subscription_id)
        return found[0] if found else None

    def billable(self, as_of: date) -> list[Subscription]:
        return [s for s in self._load(sa.true()) if s.start <= as_of]

    def of_customer(self, customer_id: str) -> list[Subscription]:
        return self._load(subscriptions.c.customer_id == customer_id)

    def of_customers(self, customer_ids: Collection[str]) -> list[Subscription]:
        found: list[Subscription] = []
        for chunk in _chunks(sorted(customer_ids)):
            found += self._load(subscriptions.c.customer_id.in_(chunk))
        return found

    def add(self, subscription: Subscription, at: datetime, actor: str) -> None:
        self._conn.execute(
            subscriptions.insert().values(
                id=subscription.id,
                customer_id=subscription.customer_id,
                anchor=subscription.anchor,
                interval=subscription.interval.value,
                usage_interval=subscription.usage_interval.value,
                include_children=subscription.include_children,
                renewal_date=subscription.renewal_date,
                thresholds=[threshold_to_mapping(t) for t in subscription.thresholds] or None,
                created_at=at,
                updated_at=at,
            )
        )
        for terms in subscription.terms:
            self.add_terms(subscription.id, terms, at, actor)
        for use in subscription.coupons:
            self.add_coupon(subscription.id, use)

    def add_terms(self, subscription_id: str, terms: Terms, at: datetime, actor: str) -> None:
        self._conn.execute(
            subscription_terms.insert().values(
                subscription_id=subscription_id,
                version=terms.version,
                effective=terms.effective,
                change=terms.change.value,
                plan_code=terms.plan_code,
                plan_version=terms.plan_version,
                seats=terms.seats,
                trial_end=terms.trial_end,
                ends=terms.ends,
                recorded_at=at,
                actor=actor,
            )
        )
        self._conn.execute(
            subscriptions.update()
            .where(subscriptions.c.id == subscription_id)
            .values(updated_at=at)
        )

    def set_thresholds(
        self, subscription_id: str, thresholds: Sequence[Threshold], at: datetime
    ) -> None:
        self._conn.execute(
            subscriptions.update()
            .where(subscriptions.c.id == subscription_id)
            .values(thresholds=[threshold_to_mapping(t) for t in thresholds] or None, updated_at=at)
        )

    def add_coupon(self, subscription_id: str, use: CouponUse) -> None:
        self._conn.execute(
            subscription_coupons.insert().values(
                subscription_id=subscription_id, code=use.code, start=use.start
            )
        )

    def recheck_from(self, subscription_id: str) -> date | None:
        day: date | None = self._conn.execute(
            sa.select(subscriptions.c.recheck_from).where(subscriptions.c.id == subscription_id)
        ).scalar()
        return day

    def recheck_dates(self) -> dict[str, date]:
        query = sa.select(subscriptions.c.id, subscriptions.c.recheck_from).where(
            subscriptions.c.recheck_from.is_not(None)
        )
        return {sid: day for sid, day in self._conn.execute(query)}

    def set_recheck(self, subscription_id: str, day: date | None) -> None:
        self._conn.execute(
            subscriptions.update()
            .where(subscriptions.c.id == subscription_id)
            .values(recheck_from=day)
        )

    def clear_recheck(self, subscription_id: str, day: date) -> None:
        self._conn.execute(
            subscriptions.update()
            .where(subscriptions.c.id == subscription_id, subscriptions.c.recheck_from == day)
            .values(recheck_from=None)
        )

    def _load(self, where: sa.ColumnElement[bool]) -> list[Subscription]:
        heads = list(
            self._conn.execute(sa.select(subscriptions).where(where).order_by(subscriptions.c.id))
        )
        if not heads:
            return []
        ids = [row.id for row in heads]
        terms: dict[str, list[Terms]] = {i: [] for i in ids}
        uses: dict[str, list[CouponUse]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            rows = list(
                self._conn.execute(
                    sa.select(subscription_terms)
                    .where(subscription_terms.c.subscription_id.in_(chunk))
                    .order_by(subscription_terms.c.subscription_id, subscription_terms.c.version)
                )
            )
            cycles = self._intervals({(row.plan_code, row.plan_version) for row in rows})
            for row in rows:
                interval, usage_interval = cycles.get(
                    (row.plan_code, row.plan_version), (None, None)
                )
                terms[row.subscription_id].append(
                    Terms(
                        version=row.version,
                        effective=row.effective,
                        change=Change(row.change),
                        plan_code=row.plan_code,
                        plan_version=row.plan_version,
                        seats=row.seats,
                        trial_end=row.trial_end,
                        ends=row.ends,
                        interval=interval,
                        usage_interval=usage_interval,
                    )
                )
            for row in self._conn.execute(
                sa.select(subscription_coupons)
                .where(subscription_coupons.c.subscription_id.in_(chunk))
                .order_by(subscription_coupons.c.start, subscription_coupons.c.code)
            ):
                uses[row.subscription_id].append(CouponUse(row.code, row.start))
        return [
            Subscription(
                id=row.id,
                customer_id=row.customer_id,
                anchor=row.anchor,
                interval=Interval(row.interval),
                usage_interval=Interval(row.usage_interval),
                terms=tuple(terms[row.id]),
                include_children=row.include_children,
                renewal_date=row.renewal_date,
                coupons=tuple(uses[row.id]),
                thresholds=check_thresholds(row.thresholds),
            )
            for row in heads
        ]

    def _intervals(
        self, refs: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[Interval, Interval]]:
        """The intervals of plan versions (a version never changes): what each version of the
        terms bills on, so the subscription's calendars follow its plan changes."""
        found: dict[tuple[str, int], tuple[Interval, Interval]] = {}
        ordered = sorted(refs)
        for start in range(0, len(ordered), 400):
            query = sa.select(plans.c.code, plans.c.version, plans.c.definition).where(
                sa.tuple_(plans.c.code, plans.c.version).in_(ordered[start : start + 400])
            )
            for code, version, definition in self._conn.execute(query):
                interval = Interval(definition["interval"])
                usage = definition.get("usage_interval")
                found[(code, version)] = (interval, Interval(usage) if usage else interval)
        return found


def _chunks(values: Sequence[str], size: int = 900) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class SqlInvoiceRepository:
    """Invoices, lines, taxes and the number series."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def lock(self) -> None:
        """Hold the invoice write lock until the transaction ends. On SQLite the write
        transaction (``BEGIN IMMEDIATE``) already excludes every other writer."""
        if self._conn.dialect.name != "sqlite":
            self._conn.execute(sa.select(sa.func.pg_advisory_xact_lock(BILLING_LOCK)))

    def credit_notes_of(self, invoice_id: str) -> list[Invoice]:
        return self._load(invoices.c.credits_invoice == invoice_id)

    def parts_of(self, invoice_id: str) -> list[Invoice]:
        return self._load(invoices.c.consolidated_into == invoice_id)

    def get(self, invoice_id: str) -> Invoice | None:
        found = self._load(invoices.c.id == invoice_id)
        return found[0] if found else None

    def of_subscriptions(self, subscription_ids: Collection[str]) -> dict[str, list[Invoice]]:
        result: dict[str, list[Invoice]] = {sid: [] for sid in subscription_ids}
        for chunk in _chunks(sorted(subscription_ids)):
            for invoice in self._load(invoices.c.subscription_id.in_(chunk)):
                if invoice.subscription_id is not None:
                    result[invoice.subscription_id].append(invoice)
        return result

    def page(self, where: InvoiceFilter, *, after: str | None, limit: int) -> list[Invoice]:
        conditions: list[sa.ColumnElement[bool]] = []
        if where.customer_id is not None:
            conditions.append(invoices.c.customer_id == where.customer_id)
        if where.customer_ids is not None:
            conditions.append(invoices.c.customer_id.in_(sorted(where.customer_ids)))
        if where.status is not None:
            conditions.append(invoices.c.status == where.status.value)
        if where.period_start is not None:
            conditions.append(invoices.c.period_start == where.period_start)
        if where.subscription_id is not None:
            conditions.append(invoices.c.subscription_id == where.subscription_id)
        if where.kind is not None:
            conditions.append(invoices.c.kind == where.kind.value)
        if after is not None:
            conditions.append(invoices.c.id > after)
        return self._load(sa.and_(sa.true(), *conditions), limit=limit)

    def interims_of(self, subscription_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(subscription_ids)):
            query = sa.select(invoices.c.id).where(
                invoices.c.subscription_id.in_(chunk),
                invoices.c.kind == InvoiceKind.INTERIM.value,
            )
            found.update(self._conn.execute(query).scalars())
        return found

    def statuses(self, invoice_ids: Collection[str]) -> dict[str, InvoiceStatus]:
        found: dict[str, InvoiceStatus] = {}
        for chunk in _chunks(sorted(invoice_ids)):
            query = sa.select(invoices.c.id, invoices.c.status).where(invoices.c.id.in_(chunk))
            found.update({i: InvoiceStatus(s) for i, s in self._conn.execute(query)})
        return found

    def save_many(self, batch: Sequence[Invoice], existing: Collection[str], at: datetime) -> None:
        """Insert new drafts and replace existing drafts (headers, lines, taxes) in bulk."""
        if not batch:
            return
        new = [i for i in batch if i.id not in existing]
        old = [i for i in batch if i.id in existing]
        if new:
            insert_rows(
                self._conn,
                invoices,
                [
                    {
                        "id": i.id,
                        "created_at": at,
                        "updated_at": at,
                        "finalized_at": None if i.status is InvoiceStatus.DRAFT else at,
                        **_invoice_values(i),
                    }
                    for i in new
                ],
            )
        if old:
            ids = [i.id for i in old]
            for chunk in _chunks(ids):
                self._conn.execute(
                    invoice_lines.delete().where(invoice_lines.c.invoice_id.in_(chunk))
                )
                self._conn.execute(
                    invoice_taxes.delete().where(invoice_taxes.c.invoice_id.in_(chunk))
                )
            values = [
                {
                    "target": i.id,
                    "updated_at": at,
                    "finalized_at": None if i.status is InvoiceStatus.DRAFT else at,
                    **_invoice_values(i),
                }
                for i in old
            ]
            update = (
                invoices.update()
                .where(
                    invoices.c.id == sa.bindparam("target"),
                    invoices.c.status == InvoiceStatus.DRAFT.value,
                )
                .values({name: sa.bindparam(name) for name in values[0] if name != "target"})
            )
            if self._conn.execute(update, values).rowcount != len(values):
                raise InvalidField("status", "an invoice being replaced is no longer a draft")
        lines = [_line_values(i.id, n, line) for i in batch for n, line in enumerate(i.lines)]
        insert_rows(self._conn, invoice_lines, lines)
        taxes = [
            {
                "invoice_id": i.id,
                "tax_code": t.tax_code,
                "rate": t.rate,
                "base": t.base,
                "amount": t.amount,
            }
            for i in batch
            for t in i.taxes
        ]
        insert_rows(self._conn, invoice_taxes, taxes)

    def finalize_many(self, batch: Sequence[Invoice], at: datetime) -> None:
        """Finalize drafts (numbers and credits already on them) in bulk."""
        if not batch:
            return
        values = [
            {
                "target": i.id,
                "number": i.number,
                "credits": i.totals.credits,
                "finalized_at": at,
                "updated_at": at,
            }
            for i in batch
        ]
        update = (
            invoices.update()
            .where(
                invoices.c.id == sa.bindparam("target"),
                invoices.c.status == InvoiceStatus.DRAFT.value,
            )
            .values(
                status=InvoiceStatus.FINALIZED.value,
                number=sa.bindparam("number"),
                credits=sa.bindparam("credits"),
                finalized_at=sa.bindparam("finalized_at"),
                updated_at=sa.bindparam("updated_at"),
            )
        )
        if self._conn.execute(update, values).rowcount != len(values):
            raise InvalidField("status", "an invoice being finalized is no longer a draft")

    def reserve_numbers(self, series: str, count: int) -> int:
        """Reserve ``count`` consecutive numbers of a series; returns the first."""
        first = self._conn.execute(
            sa.select(number_series.c.next).where(number_series.c.name == series).with_for_update()
        ).scalar_one()
        self._conn.execute(
            number_series.update().where(number_series.c.name == series).values(next=first + count)
        )
        return int(first)

    def set_recheck(self, invoice_ids: Collection[str], flag: bool) -> None:
        for chunk in _chunks(sorted(invoice_ids)):
            self._conn.execute(
                invoices.update().where(invoices.c.id.in_(chunk)).values(recheck=flag)
            )

    def save(self, invoice: Invoice, at: datetime) -> None:
        status = self._conn.execute(
            sa.select(invoices.c.status).where(invoices.c.id == invoice.id)
        ).scalar()
        values = _invoice_values(invoice)
        if status is None:
            self._conn.execute(
                invoices.insert().values(id=invoice.id, created_at=at, updated_at=at, **values)
            )
        elif status != InvoiceStatus.DRAFT.value:
            raise InvalidField("status", f"invoice {invoice.id} is {status}; only drafts change")
        else:
            self._conn.execute(
                invoices.update().where(invoices.c.id == invoice.id).values(updated_at=at, **values)
            )
            self._conn.execute(
                invoice_lines.delete().where(invoice_lines.c.invoice_id == invoice.id)
            )
            self._conn.execute(
                invoice_taxes.delete().where(invoice_taxes.c.invoice_id == invoice.id)
            )
        if invoice.lines:
            self._conn.execute(
                invoice_lines.insert(),
                [
                    _line_values(invoice.id, position, line)
                    for position, line in enumerate(invoice.lines)
                ],
            )
        if invoice.taxes:
            self._conn.execute(
                invoice_taxes.insert(),
                [
                    {
                        "invoice_id": invoice.id,
                        "tax_code": t.tax_code,
                        "rate": t.rate,
                        "base": t.base,
                        "amount": t.amount,
                    }
                    for t in invoice.taxes
                ],
            )

    def finalize(self, invoice: Invoice, number: str, at: datetime) -> None:
        updated = self._conn.execute(
            invoices.update()
            .where(invoices.c.id == invoice.id, invoices.c.status == InvoiceStatus.DRAFT.value)
            .values(
                status=InvoiceStatus.FINALIZED.value,
                number=number,
                finalized_at=at,
                updated_at=at,
                credits=invoice.totals.credits,
            )
        )
        if updated.rowcount != 1:
            raise InvalidField("status", f"invoice {invoice.id} is not a draft")

    def set_status(self, invoice_id: str, status: InvoiceStatus, at: datetime) -> None:
        self._conn.execute(
            invoices.update()
            .where(invoices.c.id == invoice_id)
            .values(status=status.value, updated_at=at)
        )

    def next_number(self, series: str) -> int:
        return self.reserve_numbers(series, 1)

    def adjusted(self, invoice_id: str) -> dict[str, tuple[Decimal, Decimal]]:
        prefix = f"{invoice_id}/"
        query = (
            sa.select(invoice_lines.c.adjusts, invoice_lines.c.quantity, invoice_lines.c.amount)
            .join(invoices, invoices.c.id == invoice_lines.c.invoice_id)
            .where(
                invoice_lines.c.adjusts.startswith(prefix, autoescape=True),
                invoices.c.status.in_(
                    [
                        InvoiceStatus.FINALIZED.value,
                        InvoiceStatus.POSTED.value,
                        InvoiceStatus.PAID.value,
                    ]
                ),
            )
        )
        totals: dict[str, tuple[Decimal, Decimal]] = {}
        for adjusts, quantity, amount in self._conn.execute(query):
            key = adjusts[len(prefix) :]
            qty, amt = totals.get(key, (ZERO, ZERO))
            totals[key] = (qty + quantity, amt + amount)
        return totals

    def _load(self, where: sa.ColumnElement[bool], limit: int | None = None) -> list[Invoice]:
        query = sa.select(invoices).where(where).order_by(invoices.c.id)
        if limit is not None:
            query = query.limit(limit)
        heads = list(self._conn.execute(query))
        ids = [row.id for row in heads]
        lines: dict[str, list[Line]] = {i: [] for i in ids}
        taxes: dict[str, list[TaxLine]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            for row in self._conn.execute(
                sa.select(invoice_lines)
                .where(invoice_lines.c.invoice_id.in_(chunk))
                .order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)
            ):
                lines[row.invoice_id].append(_line(row))
            for row in self._conn.execute(
                sa.select(invoice_taxes)
                .where(invoice_taxes.c.invoice_id.in_(chunk))
                .order_by(invoice_taxes.c.invoice_id, invoice_taxes.c.tax_code)
            ):
                taxes[row.invoice_id].append(TaxLine(row.tax_code, row.rate, row.base, row.amount))
        return [
            Invoice(
                id=row.id,
                customer_id=row.customer_id,
                subscription_id=row.subscription_id,
                kind=InvoiceKind(row.kind),
                period=Period(row.period_start, row.period_end),
                currency=row.currency,
                status=InvoiceStatus(row.status),
                issue_date=row.issue_date,
                lines=tuple(lines[row.id]),
                taxes=tuple(taxes[row.id]),
                totals=Totals(row.subtotal, row.discount, row.tax, row.total, row.credits),
                number=row.number,
                basis_version=row.basis_version,
                credits_invoice=row.credits_invoice,
                recheck=row.recheck,
                consolidated_into=row.consolidated_into,
            )
            for row in heads
        ]


def _invoice_values(invoice: Invoice) -> dict[str, Any]:
    return {
        "number": invoice.number,
        "customer_id": invoice.customer_id,
        "subscription_id": invoice.subscription_id,
        "kind": invoice.kind.value,
        "period_start": invoice.period.start,
        "period_end": invoice.period.end,
        "currency": invoice.currency,
        "status": invoice.status.value,
        "issue_date": invoice.issue_date,
        "subtotal": invoice.totals.subtotal,
        "discount": invoice.totals.discount,
        "tax": invoice.totals.tax,
        "total": invoice.totals.total,
        "credits": invoice.totals.credits,
        "basis_version": invoice.basis_version,
        "credits_invoice": invoice.credits_invoice,
        "recheck": invoice.recheck,
        "consolidated_into": invoice.consolidated_into,
    }


def _line_values(invoice_id: str, position: int, line: Line) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "key": line.key,
        "position": position,
        "kind": line.kind.value,
        "charge": line.charge,
        "description": line.description,
        "quantity": line.quantity,
        "unit_amount": line.unit_amount,
        "amount": line.amount,
        "service_start": line.service.start,
        "service_end": line.service.end,
        "tax_code": line.tax_code,
        "lineage": None if line.lineage is None else lineage_to_mapping(line.lineage),
        "adjusts": line.adjusts,
    }


def lineage_to_mapping(lineage: Lineage) -> dict[str, Any]:
    """Lineage as plain data."""
    return {
        "meter": lineage.meter,
        "start": lineage.start.isoformat(),
        "end": lineage.end.isoformat(),
        "customer_ids": list(lineage.customer_ids),
        "group": [list(pair) for pair in lineage.group],
        "events": lineage.events,
        "events_hash": lineage.events_hash,
        "cutoff_seq": lineage.cutoff_seq,
    }


def _line(row: sa.Row[Any]) -> Line:
    lineage = None
    if row.lineage is not None:
        data = row.lineage
        lineage = Lineage(
            meter=data["meter"],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            customer_ids=tuple(data["customer_ids"]),
            group=tuple((str(a), str(b)) for a, b in data["group"]),
            events=int(data["events"]),
            events_hash=data["events_hash"],
            cutoff_seq=int(data["cutoff_seq"]),
        )
    return Line(
        key=row.key,
        kind=LineKind(row.kind),
        charge=row.charge,
        description=row.description,
        quantity=row.quantity,
        unit_amount=row.unit_amount,
        amount=row.amount,
        service=Period(row.service_start, row.service_end),
        tax_code=row.tax_code,
        lineage=lineage,
        adjusts=row.adjusts,
    )


def _grant(row: sa.Row[Any]) -> CreditGrant:
    return CreditGrant(
        row.id,
        row.currency,
        row.remaining,
        row.granted_on,
        row.expires_on,
        scope_from_data(row.applies_to),
    )


class SqlCreditRepository:
    """Prepaid credit grants and what invoices took from them."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def grants_of(self, customer_ids: Collection[str]) -> dict[str, list[CreditGrant]]:
        found: dict[str, list[CreditGrant]] = {}
        for chunk in _chunks(sorted(customer_ids)):
            rows = self._conn.execute(
                sa.select(credit_grants)
                .where(credit_grants.c.customer_id.in_(chunk))
                .order_by(credit_grants.c.granted_on, credit_grants.c.id)
            )
            for r in rows:
                found.setdefault(r.customer_id, []).append(_grant(r))
        return found

    def grants(self, customer_id: str) -> list[CreditGrant]:
        rows = self._conn.execute(
            sa.select(credit_grants)
            .where(credit_grants.c.customer_id == customer_id)
            .order_by(credit_grants.c.granted_on, credit_grants.c.id)
        )
        return [_grant(r) for r in rows]

    def add(self, customer_id: str, grant: CreditGrant, reason: str, at: datetime) -> None:
        self._conn.execute(
            credit_grants.insert().values(
                id=grant.id,
                customer_id=customer_id,
                currency=grant.currency,
                amount=grant.remaining,
                remaining=grant.remaining,
                granted_on=grant.granted_on,
                expires_on=grant.expires_on,
                reason=reason,
                created_at=at,
                applies_to=scope_to_data(grant.scope),
            )
        )

    def use(self, invoice_id: str, uses: Sequence[CreditUse]) -> None:
        for use in uses:
            remaining = self._conn.execute(
                sa.select(credit_grants.c.remaining)
                .where(credit_grants.c.id == use.grant_id)
                .with_for_update()
            ).scalar_one()
            if remaining < use.amount:
                raise InvalidField("credits", f"grant {use.grant_id} has only {remaining} left")
            self._conn.execute(
                credit_grants.update()
                .where(credit_grants.c.id == use.grant_id)
                .values(remaining=remaining - use.amount)
            )
            self._conn.execute(
                credit_uses.insert().values(
                    grant_id=use.grant_id, invoice_id=invoice_id, amount=use.amount
                )
            )

    def uses_of(self, invoice_id: str) -> list[CreditUse]:
        rows = self._conn.execute(
            sa.select(credit_uses.c.grant_id, credit_uses.c.amount).where(
                credit_uses.c.invoice_id == invoice_id
            )
        )
        return [CreditUse(grant, amount) for grant, amount in rows]

    def restore(self, invoice_id: str) -> None:
        for use in self.uses_of(invoice_id):
            remaining = self._conn.execute(
                sa.select(credit_grants.c.remaining).where(credit_grants.c.id == use.grant_id)
            ).scalar_one()
            self._conn.execute(
                credit_grants.update()
                .where(credit_grants.c.id == use.grant_id)
                .values(remaining=remaining + use.amount)
            )
        self._conn.execute(credit_uses.delete().where(credit_uses.c.invoice_id == invoice_id))


class SqlBillingRunRepository:
    """Billing runs."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def last(self) -> BillingRunRecord | None:
        row = self._conn.execute(
            sa.select(billing_runs).order_by(billing_runs.c.number.desc()).limit(1)
        ).first()
        return None if row is None else _run(row)

    def get(self, run_id: str) -> BillingRunRecord | None:
        row = self._conn.execute(sa.select(billing_runs).where(billing_runs.c.id == run_id)).first()
        return None if row is None else _run(row)

    def add(self, run: BillingRunRecord) -> int:
        """Record a finished run (under :meth:`lock`); returns its number."""
        number = (
            int(
                self._conn.execute(
                    sa.select(sa.func.coalesce(sa.func.max(billing_runs.c.number), 0))
                ).scalar_one()
            )
            + 1
        )
        self._conn.execute(
            billing_runs.insert().values(
                id=run.id,
                number=number,
                as_of=run.as_of,
                started_at=run.started_at,
                finished_at=run.finished_at,
                usage_cutoff_seq=run.usage_cutoff_seq,
                summary=dict(run.summary) if run.summary is not None else None,
                actor=run.actor,
            )
        )
        return number


def _run(row: sa.Row[Any]) -> BillingRunRecord:
    return BillingRunRecord(
        id=row.id,
        number=row.number,
        as_of=row.as_of,
        started_at=row.started_at,
        usage_cutoff_seq=row.usage_cutoff_seq,
        finished_at=row.finished_at,
        summary=row.summary,
        actor=row.actor,
    )
