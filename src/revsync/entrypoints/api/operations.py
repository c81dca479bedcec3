"""The business KPIs over HTTP (``GET /v1/operations/kpis``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from revsync.bootstrap import Container
from revsync.entrypoints.api.access import Key
from revsync.entrypoints.api.bodies import json_response
from revsync.schemas.kpis_v1 import kpis_out

router = APIRouter(tags=["operations"])


class KpiUnbilledUsageOut(BaseModel):
    """Usage on no finalized invoice, as the KPI job last measured it (null: never)."""

    measured_at: str | None
    events: dict[str, int] | None = Field(description="Events by age of their time.")
    amount: dict[str, str] | None = Field(
        description="Currency → what the next invoices will bill for it (decimal string)."
    )


class KpiLagBucketOut(BaseModel):
    le: float | str = Field(description="Upper bound in seconds, or `+Inf`.")
    count: int = Field(description="Events with a lag at or under it (cumulative).")


class KpiEventLagOut(BaseModel):
    """Event time to receipt over the stored events counted so far."""

    count: int
    sum_seconds: float
    buckets: list[KpiLagBucketOut]


class KpiJobOut(BaseModel):
    name: str
    last_success_at: str | None
    ok: int
    failed: int


class KpiBillingRunOut(BaseModel):
    finished_at: str
    duration_seconds: float


class KpisOut(BaseModel):
    """Every KPI now (docs/operations.md); null where it does not apply."""

    at: str
    unbilled_usage: KpiUnbilledUsageOut
    unmapped_tenants: int
    erp_posting_delay_seconds: float | None = Field(
        description="Age of the oldest invoice or credit note not yet in the ERP; null: no ERP."
    )
    renewals_missing_adoption: int | None = Field(description="Null: no CRM.")
    sync_completeness: dict[str, float] = Field(
        description="Per connector, the share of the messages of the KPI window it has."
    )
    invoice_accuracy_ratio: float | None = Field(
        description="From the latest ERP reconciliation; null: none ran."
    )
    replays: dict[str, int]
    event_lag: KpiEventLagOut
    jobs: list[KpiJobOut]
    billing_run: KpiBillingRunOut | None


@router.get(
    "/v1/operations/kpis",
    summary="Business KPIs: unbilled usage, unmapped tenants, posting delay, completeness …",
    response_model=KpisOut,
)
async def get_kpis(request: Request, key: Key) -> Response:
    container: Container = request.app.state.container
    report = await run_in_threadpool(container.kpis.read)
    return json_response(kpis_out(report))
