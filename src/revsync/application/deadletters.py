"""Dead letters: everything revsync refused, with the reason, kept and listable."""

from __future__ import annotations

from collections.abc import Sequence

from revsync.ports.repositories import DeadLetter, StoredDeadLetter, UnitOfWorkFactory


class DeadLetters:
    """Records and lists dead letters."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def record(self, letters: Sequence[DeadLetter]) -> None:
        """Store refused inputs that never reached the usage ledger (e.g. an unreadable body)."""
        with self._uow() as uow:
            uow.dead_letters.add(letters)
            uow.commit()

    def page(
        self, *, channel: str | None, after_id: int | None, limit: int
    ) -> list[StoredDeadLetter]:
        """Dead letters in the order they arrived."""
        with self._uow(write=False) as uow:
            return uow.dead_letters.page(channel=channel, after_id=after_id, limit=limit)
