"""The collections ladder over HTTP: which customers stand on it, at which dunning level, with
what in force (docs/support.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from revsync.bootstrap import Container
from revsync.domain.collections import Policy
from revsync.entrypoints.api.access import Key
from revsync.entrypoints.api.bodies import json_response
from revsync.ports.collections import CollectionsRecord

router = APIRouter(tags=["collections"])


class RestrictionOut(BaseModel):
    policy: Policy
    features: list[str]


class StandingOut(BaseModel):
    """A customer on the collections ladder."""

    customer_id: str
    level: int = Field(description="The highest ERP dunning level among its overdue invoices.")
    since: date | None = Field(description="When this time on the ladder began.")
    tasks: list[int] = Field(description="The rungs whose CRM task is open.")
    tickets_flagged: bool
    restriction: RestrictionOut | None
    updated_at: datetime = Field(description="When it last moved.")


class StandingPageOut(BaseModel):
    items: list[StandingOut]
    next_cursor: str | None


def standing_out(record: CollectionsRecord) -> dict[str, Any]:
    standing = record.standing
    return {
        "customer_id": record.customer_id,
        "level": standing.level,
        "since": None if record.since is None else record.since.isoformat(),
        "tasks": list(standing.tasks),
        "tickets_flagged": standing.flagged,
        "restriction": None if standing.restriction is None else standing.restriction.as_dict(),
        "updated_at": record.updated_at.isoformat(),
    }


@router.get(
    "/v1/collections",
    summary="The customers on the collections ladder, by id",
    response_model=StandingPageOut,
)
def list_collections(
    request: Request,
    key: Key,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    container: Container = request.app.state.container
    found = container.collections().on_ladder(cursor, limit)
    return json_response(
        {
            "items": [standing_out(r) for r in found],
            "next_cursor": found[-1].customer_id if len(found) == limit else None,
        }
    )
