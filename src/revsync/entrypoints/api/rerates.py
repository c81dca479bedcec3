"""Shadow re-rating over HTTP: a plan over periods already billed, beside what was issued."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool

from revsync.application.rerates import MAX_ID, RerateRequest
from revsync.bootstrap import Container
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import InvoiceKind
from revsync.domain.rerating import DEFAULT_TOP, MAX_CUSTOMERS, MAX_DAYS, MAX_TOP
from revsync.entrypoints.api.access import Key, reach_of
from revsync.entrypoints.api.billing import PeriodOut, PlanIn
from revsync.entrypoints.api.bodies import json_response, object_of, read_body, required_date
from revsync.entrypoints.api.contract import DecimalText, body
from revsync.schemas.rerates_v1 import rerate_out

router = APIRouter(tags=["billing"])

Absent = SkipJsonSchema[None]
CustomerText = Annotated[str, Field(min_length=1, max_length=MAX_ID)]


class CandidatePlanIn(PlanIn):
    """A plan not stored: a definition as `PUT /v1/plans/{code}` takes it, with its code."""

    code: str


class RerateIn(BaseModel):
    """What to re-rate (docs/billing.md, "Shadow re-rating")."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    plan: str | CandidatePlanIn = Field(
        description="The candidate: a stored plan, `CODE` (its newest version) or "
        "`CODE@VERSION`; or a plan not stored, as an object.",
        examples=["pro@3"],
    )
    from_: date = Field(alias="from", description="The first day whose periods are rated.")
    to: date = Field(
        description=f"The last day (inclusive) whose periods are rated; at most {MAX_DAYS} days "
        "after `from`."
    )
    customers: list[CustomerText] | None = Field(
        default=None,
        max_length=MAX_CUSTOMERS,
        description="Only these customers (default: every customer on the plan replaced).",
    )
    replaces: str | None = Field(
        default=None,
        max_length=64,
        description="The plan code whose subscriptions the candidate takes (default: its own).",
    )
    top: int = Field(
        default=DEFAULT_TOP, ge=0, le=MAX_TOP, description="How many customers each ranking lists."
    )
    detail: bool = Field(
        default=True, description="false: each customer's totals only (no periods and lines)."
    )


class RerateLineOut(BaseModel):
    """One line key of a period, issued and re-rated."""

    key: str
    description: str
    issued_quantity: DecimalText
    issued: DecimalText
    rerated_quantity: DecimalText
    rerated: DecimalText
    difference: DecimalText


class ReratePeriodOut(BaseModel):
    """A period of a subscription: its advance or arrears invoice, issued and re-rated."""

    subscription_id: str
    kind: InvoiceKind
    period: PeriodOut
    invoice_id: str
    number: str | None = Field(description="The issued invoice's; null when none was issued.")
    issued: DecimalText
    rerated: DecimalText
    difference: DecimalText
    lines: list[RerateLineOut]


class RerateFigures(BaseModel):
    """What was issued, what the candidate rates, and the difference."""

    issued: DecimalText
    rerated: DecimalText
    difference: DecimalText
    difference_percent: DecimalText | None = Field(
        description="Of what was issued; null when nothing was."
    )


class RerateCustomerFigures(RerateFigures):
    customer_id: str


class RerateCustomerOut(RerateCustomerFigures):
    """A customer's figures and, with `detail`, its periods."""

    periods: list[ReratePeriodOut] | Absent = None


class RerateTotalsOut(RerateFigures):
    customers: int
    periods: int


class RerateTopOut(BaseModel):
    """The customers moved most (either way): in money, and in proportion of what they were
    issued."""

    by_amount: list[RerateCustomerFigures]
    by_percent: list[RerateCustomerFigures]


class RerateErrorOut(BaseModel):
    """A period that could not be rated again (left out of both sides)."""

    subscription_id: str
    customer_id: str
    period: str | None
    reason: str


class RerateOut(BaseModel):
    """A shadow re-rate: amounts before tax, in the candidate's currency; nothing written."""

    model_config = ConfigDict(populate_by_name=True)

    plan: str = Field(description="The candidate, `code@version`.")
    stored: bool = Field(description="false: a definition not stored (its would-be version).")
    replaces: str
    from_: date = Field(alias="from")
    to: date
    currency: str
    tax: str = Field(description="`excluded`: the figures are before tax.")
    usage_cutoff_seq: int = Field(description="The usage read: events up to this sequence.")
    totals: RerateTotalsOut
    top: RerateTopOut
    customers: list[RerateCustomerOut]
    errors: list[RerateErrorOut]


_FIELDS = frozenset({"plan", "from", "to", "customers", "replaces", "top", "detail"})
_EXAMPLE = {"plan": "pro@3", "from": "2026-10-01", "to": "2026-12-31", "top": 5}


@router.post(
    "/v1/rerates",
    summary="Shadow re-rate: a plan over periods already billed, beside what was issued",
    response_model=RerateOut,
    openapi_extra=body(RerateIn, example=_EXAMPLE),
)
async def rerate(request: Request, key: Key) -> Response:
    """Rate the periods billed in a range again on a candidate plan and compare them with the
    invoices issued, per customer and line, before tax. Nothing is written."""
    container: Container = request.app.state.container
    raw = await read_body(request)
    within = reach_of(request)

    def work() -> Response:
        data = object_of(raw, _FIELDS)
        detail = data.get("detail", True)
        if not isinstance(detail, bool):
            raise InvalidField("detail", "expected true or false")
        report = container.rerates().run(_request(data, within))
        return json_response(rerate_out(report, detail=detail))

    return await run_in_threadpool(work)


def _request(data: dict[str, Any], within: frozenset[str] | None) -> RerateRequest:
    plan = data.get("plan")
    if plan is None:
        raise InvalidField("plan", "required: CODE, CODE@VERSION or a plan definition")
    if not isinstance(plan, str | dict):
        raise InvalidField("plan", "expected CODE, CODE@VERSION or a plan definition (an object)")
    customers = data.get("customers")
    if customers is not None and not isinstance(customers, list):
        raise InvalidField("customers", "expected a list of customer ids")
    replaces = data.get("replaces")
    if replaces is not None and not isinstance(replaces, str):
        raise InvalidField("replaces", "expected a plan code")
    top = data.get("top", DEFAULT_TOP)
    if not isinstance(top, int) or isinstance(top, bool):
        raise InvalidField("top", "expected a whole number")
    return RerateRequest(
        start=required_date(data, "from"),
        end=required_date(data, "to"),
        plan=plan if isinstance(plan, str) else None,
        definition=plan if isinstance(plan, dict) else None,
        customers=customers,
        replaces=replaces,
        top=top,
        within=within,
    )
