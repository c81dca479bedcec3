"""Won CRM opportunities as revsync keeps them: taken (the subscription made of one, the ERP
sale order placed for it) or refused (why), one row per opportunity."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from revsync.domain.deals import SaleLink


class DealStatus(StrEnum):
    TAKEN = "taken"  # its subscription is made (or amended)
    REFUSED = "refused"  # it could not be billed: an exception case says why


@dataclass(frozen=True, slots=True)
class DealRecord:
    """One won opportunity and what revsync made of it."""

    opportunity_id: str
    account_id: str
    status: DealStatus
    customer_id: str | None = None
    subscription_id: str | None = None
    kind: str | None = None  # new, add_on
    start: date | None = None
    #: what it sold, as announced (``deal.taken``'s lines)
    lines: tuple[Mapping[str, Any], ...] = ()
    reason: str | None = None
    erp_sale_id: str | None = None
    erp_sale_number: str | None = None
    #: the ERP's sale line ids by revsync's line key
    sale_lines: Mapping[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None


class DealRepository(Protocol):
    """Deals inside a unit of work."""

    def get(self, opportunity_id: str) -> DealRecord | None: ...

    def many(self, opportunity_ids: Collection[str]) -> dict[str, DealRecord]:
        """The deals of these opportunities, by opportunity id (unknown ones left out)."""
        ...

    def save(self, deal: DealRecord, at: datetime) -> None:
        """Keep the deal as it now stands (taken or refused), its sale kept."""
        ...

    def delete(self, opportunity_id: str) -> None:
        """Forget a deal (a refused one the CRM no longer has won)."""
        ...

    def refused(self, limit: int) -> list[str]:
        """Opportunities refused, oldest first, to try again."""
        ...

    def record_sale(
        self, opportunity_id: str, sale_id: str, number: str, lines: Mapping[str, str], at: datetime
    ) -> bool:
        """Keep the ERP sale order placed for a deal; False when it had one (kept as it is)."""
        ...

    def sale_links(self, subscription_ids: Collection[str]) -> dict[str, list[SaleLink]]:
        """The sale lines placed for these subscriptions' deals, by subscription id."""
        ...

    def page(self, *, status: DealStatus | None, after: str | None, limit: int) -> list[DealRecord]:
        """Deals by opportunity id, after ``after``."""
        ...
