"""What reconciliation reads and keeps: what revsync sent to the ERP, and the runs."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Protocol

from revsync.domain.reconciliation import (
    Booked,
    ReconciliationRun,
    SentSignals,
    SubscriptionView,
)


class ReconciliationStore(Protocol):
    """Reconciliation runs, and what revsync booked in the ERP."""

    def booked(self, destination: str, since: date, keys: Collection[str] = ()) -> list[Booked]:
        """Every invoice and credit note issued ``since`` or later, or announced under one of
        ``keys``, that was announced to the ERP ``destination``, with its key, amounts,
        delivery and last known payment state."""
        ...

    def sent_signals(self, destination: str) -> list[SentSignals]:
        """The account fields last sent to each customer's CRM account, for the customers no
        signals message to ``destination`` still waits for (pending, in flight or failed)."""
        ...

    def contract_subscriptions(self) -> dict[str, SubscriptionView]:
        """The subscriptions revsync made from CRM contracts, by id, with their customer's CRM
        accounts and their latest terms (in service: not cancelled)."""
        ...

    def save(self, run: ReconciliationRun) -> None: ...

    def get(self, run_id: str) -> ReconciliationRun | None: ...

    def page(self, *, before: str | None, limit: int) -> list[ReconciliationRun]:
        """Runs, newest first, after the cursor ``before`` (a run id)."""
        ...
