"""The KPI queries, the event-lag histogram and the KPI job's measurements, in SQL."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from revsync.adapters.connectors.crm.destination import SIGNALS
from revsync.adapters.db.tables import (
    audit_log,
    crm_signals,
    customer_refs,
    invoice_lines,
    invoices,
    job_runs,
    kpi_counters,
    kpi_measurements,
    outbox_messages,
    subscriptions,
    usage_events,
)
from revsync.domain.delivery import MessageStatus
from revsync.domain.identity import System
from revsync.domain.invoicing import InvoiceStatus
from revsync.domain.kpis import LAG_BOUNDS, JobStat, LagHistogram, Measurement, Window
from revsync.domain.usage import from_micros, to_micros, utc_day

#: audit actions that replay something, by the kind the metric names
REPLAY_ACTIONS = {"case.replayed": "delivery", "schema.quarantine_released": "quarantine"}

_UNFINISHED = (
    MessageStatus.PENDING.value,
    MessageStatus.IN_FLIGHT.value,
    MessageStatus.FAILED.value,
)
_FINISHED = (MessageStatus.DELIVERED.value, MessageStatus.SKIPPED.value)
_CURSOR = "event_lag.cursor"
_SUM = "event_lag.sum_us"
_BUCKETS = [f"event_lag.bucket.{i}" for i in range(len(LAG_BOUNDS) + 1)]


class SqlKpiStore:
    """:class:`~revsync.ports.kpis.KpiStore` on one connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def billed_windows(self, since_us: int) -> Iterator[tuple[str, Window]]:
        i, li = invoices.c, invoice_lines.c
        query = (
            sa.select(li.lineage)
            .join(invoices, i.id == li.invoice_id)
            .where(
                i.status != InvoiceStatus.DRAFT.value,
                li.lineage.is_not(None),
                # a window ends at most a day past its invoice's period (time zones)
                i.period_end >= _day(since_us) - timedelta(days=1),
            )
        )
        for (lineage,) in self._conn.execute(query):
            end_us = to_micros(datetime.fromisoformat(lineage["end"]))
            if end_us <= since_us:
                continue
            window = Window(
                to_micros(datetime.fromisoformat(lineage["start"])),
                end_us,
                int(lineage.get("cutoff_seq", 0)),
            )
            for customer_id in lineage["customer_ids"]:
                yield customer_id, window

    def usage(self, types: Collection[str], since_us: int) -> Iterator[tuple[str | None, int, int]]:
        e = usage_events.c
        query = sa.select(e.customer_id, e.time_us, e.seq).where(
            e.type.in_(sorted(types)), e.day >= utc_day(since_us), e.time_us >= since_us
        )
        result = self._conn.execution_options(yield_per=10_000).execute(query)
        for customer_id, time_us, seq in result:  # noqa: UP028 - rows to plain tuples
            yield customer_id, time_us, seq

    def unmapped_tenants(self) -> int:
        e = usage_events.c
        query = sa.select(sa.func.count(sa.distinct(e.subject))).where(e.customer_id.is_(None))
        return int(self._conn.execute(query).scalar_one())

    def oldest_unfinished(self, destination: str, kinds: Collection[str]) -> datetime | None:
        m = outbox_messages.c
        query = sa.select(sa.func.min(m.created_at)).where(
            m.destination == destination,
            m.status.in_(_UNFINISHED),
            m.kind.in_(sorted(kinds)),
        )
        found: datetime | None = self._conn.execute(query).scalar()
        return found

    def finished_share(self, destination: str, since: datetime) -> tuple[int, int]:
        m = outbox_messages.c
        done = sa.func.sum(sa.case((m.status.in_(_FINISHED), 1), else_=0))
        query = sa.select(done, sa.func.count()).where(
            m.destination == destination, m.created_at >= since
        )
        finished, every = self._conn.execute(query).one()
        return int(finished or 0), int(every)

    def renewals_without_signals(self, first: date, last: date, destination: str) -> int:
        s, r, sig, m = subscriptions.c, customer_refs.c, crm_signals.c, outbox_messages.c
        renewing = self._conn.execute(
            sa.select(s.customer_id, sig.customer_id.is_not(None))
            .join(customer_refs, r.customer_id == s.customer_id)
            .outerjoin(crm_signals, sig.customer_id == s.customer_id)
            .where(r.system == System.CRM.value, s.renewal_date.between(first, last))
            .distinct()
        ).all()
        if not renewing:
            return 0
        waiting = {
            str(account["customer_id"])
            for (payload,) in self._conn.execute(
                sa.select(m.payload).where(
                    m.destination == destination, m.kind == SIGNALS, m.status.in_(_UNFINISHED)
                )
            )
            for account in payload.get("accounts", ())
        }
        return sum(1 for customer_id, held in renewing if not held or customer_id in waiting)

    def replays(self) -> dict[str, int]:
        a = audit_log.c
        query = (
            sa.select(a.action, sa.func.count())
            .where(a.action.in_(sorted(REPLAY_ACTIONS)))
            .group_by(a.action)
        )
        found = {REPLAY_ACTIONS[action]: int(n) for action, n in self._conn.execute(query)}
        return {kind: found.get(kind, 0) for kind in REPLAY_ACTIONS.values()}

    def job_stats(self) -> list[JobStat]:
        j = job_runs.c
        ok = sa.func.sum(sa.case((j.outcome == "ok", 1), else_=0))
        failed = sa.func.sum(sa.case((j.outcome == "failed", 1), else_=0))
        last_ok = sa.func.max(sa.case((j.outcome == "ok", j.finished_at), else_=None))
        query = sa.select(j.name, last_ok, ok, failed).group_by(j.name).order_by(j.name)
        return [
            JobStat(name, _utc(last), int(n_ok or 0), int(n_failed or 0))
            for name, last, n_ok, n_failed in self._conn.execute(query)
        ]

    def lag_histogram(self) -> LagHistogram:
        c = kpi_counters.c
        stored = {name: value for name, value in self._conn.execute(sa.select(c.name, c.value))}
        return LagHistogram(
            [int(stored.get(name, 0)) for name in _BUCKETS],
            int(stored.get(_SUM, 0)),
            int(stored.get(_CURSOR, 0)),
        )

    def lags(self, after_seq: int, limit: int) -> list[tuple[int, int]]:
        e = usage_events.c
        query = (
            sa.select(e.seq, e.received_us - e.time_us)
            .where(e.seq > after_seq)
            .order_by(e.seq)
            .limit(limit)
        )
        return [(int(seq), int(lag)) for seq, lag in self._conn.execute(query)]

    def save_lag(self, histogram: LagHistogram, counted_from: int) -> bool:
        c = kpi_counters.c
        stored = self._conn.execute(sa.select(c.value).where(c.name == _CURSOR)).scalar()
        if stored is None:
            if counted_from != 0:
                return False
            self._conn.execute(
                kpi_counters.insert(),
                [{"name": name, "value": 0} for name in (_CURSOR, _SUM, *_BUCKETS)],
            )
        claimed = self._conn.execute(
            kpi_counters.update()
            .where(c.name == _CURSOR, c.value == counted_from)
            .values(value=histogram.cursor_seq)
        )
        if claimed.rowcount != 1:
            return False
        values = {_SUM: histogram.sum_us} | dict(zip(_BUCKETS, histogram.counts, strict=True))
        for name, value in values.items():
            self._conn.execute(kpi_counters.update().where(c.name == name).values(value=value))
        return True

    def save_measurement(self, measurement: Measurement) -> None:
        self._conn.execute(
            kpi_measurements.insert().values(at=measurement.at, figures=_figures(measurement))
        )

    def latest_measurement(self) -> Measurement | None:
        k = kpi_measurements.c
        row = self._conn.execute(sa.select(kpi_measurements).order_by(k.at.desc()).limit(1)).first()
        return None if row is None else _measurement(row)

    def measurements(self, since: datetime) -> list[Measurement]:
        k = kpi_measurements.c
        rows = self._conn.execute(sa.select(kpi_measurements).where(k.at >= since).order_by(k.at))
        return [_measurement(row) for row in rows]

    def prune_measurements(self, before: datetime) -> int:
        result = self._conn.execute(kpi_measurements.delete().where(kpi_measurements.c.at < before))
        return int(result.rowcount or 0)


def _figures(measurement: Measurement) -> dict[str, Any]:
    return {
        "unbilled_events": dict(measurement.unbilled_events),
        "unbilled_amount": {c: str(a) for c, a in measurement.unbilled_amount.items()},
        "event_types": list(measurement.event_types),
        "trend": dict(measurement.trend),
    }


def _measurement(row: sa.Row[Any]) -> Measurement:
    figures = row.figures
    return Measurement(
        row.at,
        {str(k): int(v) for k, v in figures["unbilled_events"].items()},
        {str(c): Decimal(a) for c, a in figures["unbilled_amount"].items()},
        tuple(figures.get("event_types", ())),
        {str(k): float(v) for k, v in figures.get("trend", {}).items()},
    )


def _utc(value: datetime | str | None) -> datetime | None:
    """A timestamp read through ``max()`` (SQLite gives the stored text back)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _day(since_us: int) -> date:
    """The UTC day of ``since_us``."""
    return from_micros(since_us).date()
