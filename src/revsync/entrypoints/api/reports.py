"""Reports over HTTP."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from revsync.bootstrap import Container
from revsync.entrypoints.api.access import Key
from revsync.entrypoints.api.bodies import json_response
from revsync.entrypoints.api.contract import DecimalText

router = APIRouter(tags=["reports"])


class ServicePeriod(BaseModel):
    start: date
    end: date


class MonthAmount(BaseModel):
    month: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$", examples=["2026-11"])
    amount: DecimalText


class DeferredLineOut(BaseModel):
    """A fee recognised over its service period."""

    invoice_id: str
    number: str | None
    line_key: str
    description: str
    amount: DecimalText
    service: ServicePeriod
    recognised: DecimalText = Field(description="In the months before as_of's month.")
    deferred: DecimalText = Field(description="Left to recognise.")


class CustomerDeferralsOut(BaseModel):
    """A customer's deferred revenue in one currency."""

    customer_id: str
    currency: str
    deferred: DecimalText
    schedule: list[MonthAmount]
    lines: list[DeferredLineOut]


class DeferredRevenueOut(BaseModel):
    as_of: date
    customers: list[CustomerDeferralsOut]


@router.get(
    "/v1/reports/deferred-revenue",
    summary="Revenue billed in advance and not yet recognised, with its schedule per customer",
    response_model=DeferredRevenueOut,
)
def deferred_revenue(
    request: Request,
    key: Key,
    as_of: Annotated[date | None, Query(description="Default: today (UTC).")] = None,
    customer: Annotated[str | None, Query()] = None,
) -> Response:
    container: Container = request.app.state.container
    day = as_of or container.clock.now().date()
    found = container.reports.deferred_revenue(day, customer)
    return json_response(
        {
            "as_of": day.isoformat(),
            "customers": [
                {
                    "customer_id": c.customer_id,
                    "currency": c.currency,
                    "deferred": c.deferred,
                    "schedule": [
                        {"month": r.month.isoformat()[:7], "amount": r.amount} for r in c.by_month()
                    ],
                    "lines": [
                        {
                            "invoice_id": line.invoice_id,
                            "number": line.number,
                            "line_key": line.line_key,
                            "description": line.description,
                            "amount": line.amount,
                            "service": {
                                "start": line.service.start.isoformat(),
                                "end": line.service.end.isoformat(),
                            },
                            "recognised": line.recognised,
                            "deferred": line.deferred,
                        }
                        for line in c.lines
                    ],
                }
                for c in found
            ],
        }
    )
