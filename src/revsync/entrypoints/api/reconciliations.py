"""Reconciliation over HTTP: run one, list the runs, read one with its findings."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from revsync.bootstrap import Container
from revsync.domain.errors import InvalidField, NotFound
from revsync.domain.reconciliation import Check
from revsync.entrypoints.api.access import Key
from revsync.entrypoints.api.bodies import json_response, object_of, read_body
from revsync.entrypoints.api.contract import answers, body
from revsync.entrypoints.api.errors import ApiError
from revsync.entrypoints.api.idempotency import idempotent
from revsync.ports.crm import CrmRefused, CrmUnavailable
from revsync.ports.erp import ErpRefused, ErpUnavailable
from revsync.schemas.reconciliation_v1 import run_out

router = APIRouter(tags=["reconciliation"])

#: how far back a run looks when the body names no ``since``
DEFAULT_DAYS = 90


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


class ReconciliationIn(BaseModel):
    """What to compare."""

    model_config = ConfigDict(extra="forbid")

    checks: list[Check] | None = Field(
        default=None,
        description="Default: `usage`, and `erp` and `crm` when they are configured.",
    )
    since: date | None = Field(
        default=None,
        description=f"Documents issued on or after (default: {DEFAULT_DAYS} days ago).",
    )


class FindingOut(BaseModel):
    """One discrepancy with both sides' values."""

    key: str = Field(description="Names the discrepancy from run to run (and its case).")
    kind: str
    object_type: str
    object_id: str
    message: str
    ours: dict[str, str]
    theirs: dict[str, str]


class ReconciliationOut(BaseModel):
    """A reconciliation run."""

    id: str
    started_at: str
    finished_at: str
    since: date
    actor: str
    checks: list[Check]
    checked: dict[str, int] = Field(description="Per check, the documents or lines compared.")
    clean: bool
    counts: dict[str, int] = Field(description="Findings per kind.")
    findings: list[FindingOut]
    cases_opened: list[str]
    cases_closed: list[str]


class ReconciliationPage(BaseModel):
    items: list[ReconciliationOut]
    next_cursor: str | None


@router.post(
    "/v1/reconciliations",
    summary="Reconcile: usage lines with their events, invoices with the ERP, fields with the CRM",
    response_model=ReconciliationOut,
    status_code=201,
    openapi_extra=body(
        ReconciliationIn, example={"checks": ["usage", "erp"]}, required=False, idempotent=True
    ),
    responses=answers({503: "the ERP or the CRM did not answer"}),
)
async def run_reconciliation(request: Request, key: Key) -> Response:
    container = _container(request)
    raw = await read_body(request)

    def work() -> Response:
        checks, since = _read(raw, container)
        actor = request.state.actor
        try:
            run = asyncio.run(container.reconcile(checks, since, actor))
        except (ErpUnavailable, ErpRefused) as error:
            raise ApiError(503, "erp_unavailable", f"the ERP: {error}") from None
        except (CrmUnavailable, CrmRefused) as error:
            raise ApiError(503, "crm_unavailable", f"the CRM: {error}") from None
        return json_response(run_out(run), status=201)

    return await idempotent(request, key, raw, work)


@router.get(
    "/v1/reconciliations",
    summary="Reconciliation runs, newest first",
    response_model=ReconciliationPage,
)
def list_reconciliations(
    request: Request,
    key: Key,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    runs = _container(request).reconciliation.runs(before=cursor, limit=limit)
    return json_response(
        {
            "items": [run_out(r) for r in runs],
            "next_cursor": runs[-1].id if len(runs) == limit else None,
        }
    )


@router.get(
    "/v1/reconciliations/{run_id}",
    summary="A reconciliation run with its findings",
    response_model=ReconciliationOut,
)
def get_reconciliation(run_id: str, request: Request, key: Key) -> Response:
    run = _container(request).reconciliation.get(run_id)
    if run is None:
        raise NotFound("reconciliation", run_id)
    return json_response(run_out(run))


def _read(raw: bytes, container: Container) -> tuple[list[Check] | None, date]:
    data: dict[str, Any] = object_of(raw, ("checks", "since"), optional=True)
    checks = None
    if data.get("checks") is not None:
        named = data["checks"]
        if not isinstance(named, list) or not named or len(named) > len(Check):
            raise InvalidField("checks", f"a list of one or more of {[c.value for c in Check]}")
        try:
            checks = [Check(c) for c in named]
        except (TypeError, ValueError):
            raise InvalidField(
                "checks", f"each check is one of {[c.value for c in Check]}"
            ) from None
    since = container.clock.now().date() - timedelta(days=DEFAULT_DAYS)
    if data.get("since") is not None:
        try:
            since = date.fromisoformat(data["since"])
        except (TypeError, ValueError):
            raise InvalidField("since", "a date, YYYY-MM-DD") from None
    return checks, since
