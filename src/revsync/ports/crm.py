"""The CRM port: what revsync needs from a CRM, whichever it is. Every adapter passes the
contract suite in ``tests/contract/test_crm_contract.py``.

revsync reads accounts (with their hierarchy) and contracts incrementally, and writes only the
fields it owns: signal fields on accounts, and tasks and opportunities it creates under its
own keys. What the CRM owns is never written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from revsync.domain.crm import ContractSeen
from revsync.ports.remote import Unavailable


class CrmRefused(Exception):
    """The CRM refused the request (a validation rule, a field revsync may not write, an
    unknown record): an operator must look. The message says why, in the CRM's words."""


class CrmUnavailable(Unavailable):
    """The CRM could not be reached, is busy or has no request budget left; retry later
    (see :class:`~revsync.ports.remote.Unavailable`)."""


class OwnershipViolation(CrmRefused):
    """revsync was asked to write a field the CRM owns (refused before any request)."""


@dataclass(frozen=True, slots=True, order=True)
class Watermark:
    """Where an incremental pull stopped: the last change seen, by modification stamp then
    id (records changed at the same instant are told apart by id)."""

    modstamp: datetime
    record_id: str


@dataclass(frozen=True, slots=True)
class CrmRecord:
    """One record as pulled: its id, its modification stamp, whether it was deleted, and the
    requested fields (values as the CRM gives them: str, int, Decimal, bool, date, None)."""

    id: str
    modstamp: datetime
    deleted: bool
    fields: Mapping[str, Any]

    @property
    def watermark(self) -> Watermark:
        return Watermark(self.modstamp, self.id)


@dataclass(frozen=True, slots=True)
class Pulled:
    """The records changed since a watermark, oldest first, and the watermark to continue from
    (None when nothing changed)."""

    records: list[CrmRecord]
    watermark: Watermark | None


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """revsync-owned field values to write on one account."""

    account_id: str
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """How one account update of a batch ended."""

    account_id: str
    ok: bool
    error: str | None = None  # the CRM's code and message when refused


@dataclass(frozen=True, slots=True)
class KeyedRecord:
    """A task or opportunity revsync creates once under its own ``key``: ``create_values``
    are written only when the record is created (the CRM owns them afterwards), ``values``
    (revsync-owned fields only) on every push."""

    key: str
    account_id: str
    create_values: Mapping[str, Any]
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class KeyedResult:
    """What became of a keyed record: its CRM id, and whether this push created it."""

    key: str
    record_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class ApiBudget:
    """The CRM's request budget as last reported (requests used of the daily maximum)."""

    used: int
    maximum: int

    @property
    def remaining(self) -> int:
        return max(self.maximum - self.used, 0)


class CrmStateRepository(Protocol):
    """Where the CRM sync stands, inside a unit of work."""

    def watermark(self, sobject: str) -> Watermark | None: ...

    def set_watermark(self, sobject: str, watermark: Watermark, at: datetime) -> None: ...

    def pushed_digest(self, customer_id: str) -> str | None:
        """The digest of the signals last announced for the customer."""
        ...

    def set_pushed(
        self, customer_id: str, digest: str, values: dict[str, Any], at: datetime
    ) -> None: ...

    def pushed(self, customer_id: str) -> dict[str, Any] | None:
        """The signal values last announced for the customer."""
        ...

    def contract_seen(self, contract_id: str) -> ContractSeen | None:
        """The contract's plan and seats as the last pull read them (None before)."""
        ...

    def set_contract_seen(self, contract_id: str, seen: ContractSeen, at: datetime) -> None: ...


class Crm(Protocol):
    """A CRM revsync syncs with. Calls raise :class:`CrmRefused` or :class:`CrmUnavailable`."""

    async def pull(
        self,
        sobject: str,
        fields: Sequence[str],
        since: Watermark | None,
        *,
        overlap_seconds: float = 0,
    ) -> Pulled:
        """Every record of ``sobject`` changed after ``since`` (all when None), deleted ones
        included (``deleted``), oldest first, each once. ``overlap_seconds`` re-reads that much
        before the watermark (changes committed late); callers write idempotently by id."""
        ...

    async def update_accounts(self, updates: Sequence[AccountUpdate]) -> list[UpdateResult]:
        """Write revsync-owned fields on accounts, in batches (one result per update, in
        order; one refused record does not stop the others). Raises
        :class:`OwnershipViolation` before any request if a field is not revsync's."""
        ...

    async def put_keyed(self, sobject: str, record: KeyedRecord) -> KeyedResult:
        """Create the task or opportunity with ``record.key`` once; when it exists, write
        only ``record.values``. Never creates a second record for a key."""
        ...

    async def find_keyed(self, sobject: str, key: str) -> str | None:
        """The id of the record revsync created under ``key``, if any."""
        ...

    async def read(self, sobject: str, record_id: str, fields: Sequence[str]) -> dict[str, Any]:
        """One record's fields, as the CRM holds them."""
        ...

    async def update_record(self, sobject: str, record_id: str, values: Mapping[str, Any]) -> None:
        """Write revsync-owned fields on one record of the CRM's (an opportunity revsync took);
        writing the same values again changes nothing. Raises :class:`OwnershipViolation`
        before any request if a field is not revsync's."""
        ...

    async def children(
        self, sobject: str, parent_field: str, parent_ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """The records of ``sobject`` whose ``parent_field`` is one of ``parent_ids`` (an
        opportunity's product lines), by parent id, each with its ``Id`` and ``fields`` (a
        parent's field as ``"Product2.ProductCode"``), in id order."""
        ...

    def budget(self) -> ApiBudget | None:
        """The request budget as of the last response (None before any call)."""
        ...

    async def accounts(
        self, account_ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """These accounts' fields as the CRM holds them, by account id (an account that is
        gone is left out)."""
        ...

    async def aclose(self) -> None: ...
