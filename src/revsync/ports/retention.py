"""Port of retention: what a prune may delete, and deleting it a batch at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from revsync.domain.retention import Cutoffs, Pruned


class RetentionStore(Protocol):
    """Finished records past their age, inside a unit of work (one batch per transaction).

    A message is finished when delivered, skipped, resolved or ignored; it stays while an
    exception case refers to it (holds it, or is its case), while it is about an invoice or
    credit note issued or dated in the ERP on or after ``documents_since`` (what
    reconciliation reads), and when its kind is announced once for ever (``ANNOUNCED_ONCE``).
    A quarantined dead letter stays until it is released."""

    def count(self, cutoffs: Cutoffs) -> Pruned:
        """What a prune at ``cutoffs`` would delete."""
        ...

    def prune_messages(self, cutoffs: Cutoffs, limit: int) -> Pruned:
        """Delete up to ``limit`` finished messages past ``cutoffs`` and their attempts."""
        ...

    def prune_dead_letters(self, before: datetime, limit: int) -> Pruned:
        """Delete up to ``limit`` dead letters received before ``before`` (not quarantined);
        they still count in their channel's total."""
        ...

    def prune_keys(self, before: datetime, limit: int) -> Pruned:
        """Delete up to ``limit`` idempotency keys created before ``before``."""
        ...
