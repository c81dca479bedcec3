"""Renewal intelligence over HTTP: the subscriptions renewing soon, each assessed with its
reasons (docs/quote-to-cash.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from revsync.application.renewals import parse_within
from revsync.bootstrap import Container
from revsync.domain.errors import InvalidField
from revsync.domain.renewals import RenewalAssessment, Verdict
from revsync.entrypoints.api.access import Key
from revsync.entrypoints.api.bodies import json_response

router = APIRouter(tags=["renewals"])


class RenewalOut(BaseModel):
    """A subscription's renewal, assessed today."""

    customer_id: str
    subscription_id: str
    renewal_date: date
    days: int = Field(description="Days from today to the renewal.")
    horizon: int = Field(description="The nearest horizon (days) the renewal is within.")
    verdict: Verdict
    reasons: list[str]


class RenewalsOut(BaseModel):
    within_days: int
    items: list[RenewalOut]


def renewal_out(assessment: RenewalAssessment) -> dict[str, Any]:
    return {
        "customer_id": assessment.customer_id,
        "subscription_id": assessment.subscription_id,
        "renewal_date": assessment.renewal_date.isoformat(),
        "days": assessment.days,
        "horizon": assessment.horizon,
        "verdict": assessment.verdict.value,
        "reasons": list(assessment.reasons),
    }


@router.get(
    "/v1/renewals",
    summary="The subscriptions renewing within a number of days, each assessed",
    response_model=RenewalsOut,
)
async def list_renewals(
    request: Request,
    key: Key,
    within: Annotated[
        str, Query(max_length=8, description="Days ahead: `90d` or `90` (0 to 730).")
    ] = "90d",
) -> Response:
    try:
        days = parse_within(within)
    except ValueError as error:
        raise InvalidField("within", str(error)) from None
    container: Container = request.app.state.container
    found = await run_in_threadpool(container.renewals().upcoming, days)
    return json_response({"within_days": days, "items": [renewal_out(a) for a in found]})
