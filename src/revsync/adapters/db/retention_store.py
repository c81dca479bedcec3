""":class:`~revsync.ports.retention.RetentionStore` in SQL: finished outbox messages, dead
letters and idempotency keys past their age, selected a batch at a time and deleted by key."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from revsync.adapters.db.delivery_repositories import _insert
from revsync.adapters.db.tables import (
    dead_letters,
    dead_letters_pruned,
    erp_postings,
    exception_cases,
    idempotency_keys,
    invoices,
    outbox_attempts,
    outbox_messages,
)
from revsync.domain.delivery import TERMINAL, MessageStatus
from revsync.domain.problems import Code
from revsync.domain.retention import ANNOUNCED_ONCE, Cutoffs, Pruned

#: keys bound per statement (within SQLite's variable limit, whatever its build)
_PER_STATEMENT = 400
#: finished statuses other than delivered: a message's last attempt tells when it finished
_OTHER_FINISHED = sorted(s.value for s in TERMINAL if s is not MessageStatus.DELIVERED)
#: what a message is about when reconciliation reads it beside the ERP's documents
_DOCUMENTS = ("invoice", "credit_note")

_T = TypeVar("_T")


class SqlRetentionStore:
    """Finished records past their age, on one connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def count(self, cutoffs: Cutoffs) -> Pruned:
        messages = attempts = letters = 0
        if cutoffs.messages_before is not None:
            found = sa.union_all(*_finished(cutoffs)).subquery()
            messages = self._scalar(sa.select(sa.func.count()).select_from(found))
            a = outbox_attempts.c
            attempts = self._scalar(
                sa.select(sa.func.count()).where(a.message_id.in_(sa.select(found.c.id)))
            )
        if cutoffs.dead_letters_before is not None:
            old = _old_letters(cutoffs.dead_letters_before).subquery()
            letters = self._scalar(sa.select(sa.func.count()).select_from(old))
        k = idempotency_keys.c
        keys = self._scalar(sa.select(sa.func.count()).where(k.created_at < cutoffs.keys_before))
        return Pruned(messages, attempts, letters, keys)

    def prune_messages(self, cutoffs: Cutoffs, limit: int) -> Pruned:
        if cutoffs.messages_before is None:
            return Pruned()
        ids: list[int] = []
        for query in _finished(cutoffs):  # delivered first: the index finds the oldest
            if len(ids) < limit:
                ids += [int(i) for i in self._conn.execute(query.limit(limit - len(ids))).scalars()]
        a, m = outbox_attempts.c, outbox_messages.c
        attempts = messages = 0
        for chunk in _chunks(ids):
            attempts += self._delete(outbox_attempts.delete().where(a.message_id.in_(chunk)))
            messages += self._delete(outbox_messages.delete().where(m.id.in_(chunk)))
        return Pruned(messages=messages, attempts=attempts)

    def prune_dead_letters(self, before: datetime, limit: int) -> Pruned:
        d = dead_letters.c
        ids = [int(i) for i in self._conn.execute(_old_letters(before).limit(limit)).scalars()]
        by_channel: dict[str, int] = {}
        for chunk in _chunks(ids):  # counted as deleted here (a twin prune deletes the rest)
            deleted = dead_letters.delete().where(d.id.in_(chunk)).returning(d.channel)
            for channel in self._conn.execute(deleted).scalars():
                by_channel[channel] = by_channel.get(channel, 0) + 1
        p = dead_letters_pruned.c
        for channel, n in sorted(by_channel.items()):
            self._conn.execute(
                _insert(self._conn, dead_letters_pruned)
                .values(channel=channel, total=n)
                .on_conflict_do_update(index_elements=["channel"], set_={"total": p.total + n})
            )
        return Pruned(dead_letters=sum(by_channel.values()))

    def prune_keys(self, before: datetime, limit: int) -> Pruned:
        k = idempotency_keys.c
        found = self._conn.execute(
            sa.select(k.scope, k.key).where(k.created_at < before).limit(limit)
        ).all()
        pruned = 0
        for chunk in _chunks([(row.scope, row.key) for row in found], _PER_STATEMENT // 2):
            pruned += self._delete(
                idempotency_keys.delete().where(
                    sa.tuple_(k.scope, k.key).in_(chunk), k.created_at < before
                )
            )
        return Pruned(idempotency_keys=pruned)

    def _scalar(self, query: sa.Select[Any]) -> int:
        return int(self._conn.execute(query).scalar_one())

    def _delete(self, statement: sa.Delete) -> int:
        return int(self._conn.execute(statement).rowcount)


def _finished(cutoffs: Cutoffs) -> list[sa.Select[Any]]:
    """The ids of the messages a prune at ``cutoffs`` deletes: delivered before the cut-off;
    skipped (or closed by a case) with its last attempt due, and every attempt ended, before
    it — in both cases unless something still needs them."""
    before = cutoffs.messages_before
    assert before is not None
    m, a = outbox_messages.c, outbox_attempts.c
    delivered = sa.select(m.id).where(
        m.status == MessageStatus.DELIVERED.value,
        m.delivered_at < before,
        *_needed_by_none(cutoffs),
    )
    others = sa.select(m.id).where(
        m.status.in_(_OTHER_FINISHED),
        m.next_attempt_at < before,  # its last attempt was due then (the due index finds it)
        ~sa.exists().where(a.message_id == m.id, a.finished_at >= before),
        *_needed_by_none(cutoffs),
    )
    return [delivered, others]


def _needed_by_none(cutoffs: Cutoffs) -> list[sa.ColumnElement[bool]]:
    """No case refers to the message (holds it, or is its case), it is not about a document of
    the reconciliation window (issued then, or dated then in the ERP: rolled forward), and its
    kind is not announced once for ever."""
    m, c, i, p = outbox_messages.c, exception_cases.c, invoices.c, erp_postings.c
    since = cutoffs.documents_since
    recent = sa.or_(
        sa.exists().where(i.id == m.object_id, i.issue_date >= since),
        sa.exists().where(p.invoice_id == m.object_id, p.invoice_date >= since),
    )
    return [
        m.case_id.is_(None),
        ~sa.exists().where(c.message_id == m.id),
        ~sa.and_(m.object_type.in_(_DOCUMENTS), recent),
        m.kind.not_in(sorted(ANNOUNCED_ONCE)),
    ]


def _old_letters(before: datetime) -> sa.Select[Any]:
    """Dead letters received before ``before``, save quarantined events (still to release)."""
    d = dead_letters.c
    return sa.select(d.id).where(
        d.received_at < before,
        sa.or_(d.code.is_(None), d.code != Code.QUARANTINED.value),
    )


def _chunks(items: Sequence[_T], size: int = _PER_STATEMENT) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
