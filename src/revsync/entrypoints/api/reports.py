"""Reports over HTTP."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from revsync.bootstrap import Container
from revsync.domain.apikeys import ApiKey, Scope
from revsync.entrypoints.api.auth import require
from revsync.entrypoints.api.bodies import json_response

router = APIRouter(tags=["reports"])
Reader = Annotated[ApiKey, Depends(require(Scope.READ))]


@router.get(
    "/v1/reports/deferred-revenue",
    summary="Revenue billed in advance and not yet recognised, with its schedule per customer",
)
def deferred_revenue(
    request: Request,
    key: Reader,
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
