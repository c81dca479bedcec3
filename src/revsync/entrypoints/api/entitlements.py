"""Entitlements over HTTP: what a customer's plan entitles it to, and checks by the product."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from revsync.application.entitlements import Snapshot
from revsync.bootstrap import Container
from revsync.domain.collections import Policy
from revsync.domain.entitlements import MAX_LIMIT, Decision, EntitlementReason, FeatureKind
from revsync.domain.errors import InvalidField
from revsync.domain.pricing import exact_decimal
from revsync.entrypoints.api.access import Key, check_reach
from revsync.entrypoints.api.bodies import json_response, object_of, read_body
from revsync.entrypoints.api.contract import CustomerId, DecimalIn, DecimalText, answers, body

router = APIRouter(tags=["entitlements"])

#: the longest feature key, tenant or customer id a check may name
_MAX_TEXT = 200


class EntitlementCheckIn(BaseModel):
    """Who (``customer_id`` or the product's ``tenant``), which feature, and how much more."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = None
    tenant: str | None = None
    feature: str
    quantity: DecimalIn = Field(
        default="1", description="How much more would be used (default 1; 0 asks for the state)."
    )


class EntitlementOut(BaseModel):
    """One feature: whether it may be used (``quantity`` more, for a check), and why."""

    feature: str
    kind: FeatureKind | None = Field(description="Null when the plan does not have it.")
    allowed: bool
    reason: EntitlementReason
    limit: DecimalText | None
    used: DecimalText | None = Field(description="This usage period so far.")
    remaining: DecimalText | None
    restriction: Policy | None = Field(
        default=None,
        description="The collections restriction in force on the feature while invoices are "
        "overdue (soft_limit: held to the plan's limits; suspend: refused), null when none.",
    )


class EntitlementCheckOut(EntitlementOut):
    customer_id: str
    as_of: datetime = Field(description="When the usage and the plan were read.")


class EntitlementPlanOut(BaseModel):
    code: str
    version: int


class EntitlementPeriodOut(BaseModel):
    start: str
    end: str


class CustomerEntitlementsOut(BaseModel):
    """What the plan in service today entitles the customer to, as read at ``as_of``."""

    customer_id: str
    as_of: datetime
    subscription_id: str | None
    plan: EntitlementPlanOut | None
    period: EntitlementPeriodOut | None
    features: list[EntitlementOut]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def decision_out(decision: Decision) -> dict[str, Any]:
    return {
        "feature": decision.feature,
        "kind": None if decision.kind is None else decision.kind.value,
        "allowed": decision.allowed,
        "reason": decision.reason.value,
        "limit": decision.limit,
        "used": decision.used,
        "remaining": decision.remaining,
        "restriction": None if decision.restriction is None else decision.restriction.value,
    }


async def _snapshot(container: Container, customer_id: str) -> Snapshot:
    """The customer's snapshot: from memory when fresh, else read in a thread."""
    found = container.entitlements.cached(customer_id)
    if found is None:
        found = await run_in_threadpool(container.entitlements.snapshot, customer_id)
    return found


@router.get(
    "/v1/customers/{customer_id}/entitlements",
    summary="What the customer's plan entitles it to, and its usage against each quota",
    response_model=CustomerEntitlementsOut,
)
async def customer_entitlements(customer_id: CustomerId, request: Request, key: Key) -> Response:
    check_reach(request, customer_id, "customer", customer_id)
    snapshot = await _snapshot(_container(request), customer_id)
    plan, period = snapshot.plan, snapshot.period
    return json_response(
        {
            "customer_id": customer_id,
            "as_of": snapshot.as_of.isoformat(),
            "subscription_id": snapshot.subscription_id,
            "plan": None if plan is None else {"code": plan.code, "version": plan.version},
            "period": None
            if period is None
            else {"start": period.start.isoformat(), "end": period.end.isoformat()},
            "features": [decision_out(d) for d in snapshot.every()],
        }
    )


@router.post(
    "/v1/entitlements/check",
    summary="May the customer (or the product tenant's customer) use a feature, or this much "
    "more of it?",
    response_model=EntitlementCheckOut,
    responses=answers({404: "No such customer, or no customer has the tenant."}),
    openapi_extra=body(
        EntitlementCheckIn, example={"tenant": "acme-prod", "feature": "api_calls", "quantity": 1}
    ),
)
async def check_entitlement(request: Request, key: Key) -> Response:
    data = object_of(await read_body(request), {"customer_id", "tenant", "feature", "quantity"})
    customer_id, tenant = _text(data, "customer_id"), _text(data, "tenant")
    feature = _text(data, "feature")
    if feature is None:
        raise InvalidField("feature", "required: the feature to check")
    if (customer_id is None) == (tenant is None):
        raise InvalidField("customer_id", "give customer_id or tenant, one of them")
    quantity = _quantity(data.get("quantity", 1))
    container = _container(request)
    owner: str
    if tenant is not None:
        known = container.entitlements.cached_tenant(tenant)
        if known is None:
            known = await run_in_threadpool(container.entitlements.owner, tenant)
        owner = known
        check_reach(request, owner, "tenant", tenant)
    else:
        assert customer_id is not None
        owner = customer_id
        check_reach(request, owner, "customer", owner)
    snapshot = await _snapshot(container, owner)
    answer = decision_out(snapshot.decide(feature, quantity))
    answer.update(customer_id=owner, as_of=snapshot.as_of.isoformat())
    return json_response(answer)


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(name, "must be non-empty text")
    if len(value) > _MAX_TEXT:
        raise InvalidField(name, f"longer than {_MAX_TEXT} characters")
    return value


def _quantity(value: object) -> Decimal:
    quantity = exact_decimal(value, "quantity")
    if quantity < 0 or quantity > MAX_LIMIT:
        raise InvalidField("quantity", f"must be between 0 and {MAX_LIMIT:f}")
    return quantity
