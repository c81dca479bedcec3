"""Plans, coupons, subscriptions, billing runs, invoices, credit notes and prepaid credits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from revsync.application.subscriptions import AmendSubscription, CreateSubscription
from revsync.bootstrap import Container
from revsync.domain.apikeys import ApiKey, Scope
from revsync.domain.coupons import coupon_to_data
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import InvoiceKind, InvoiceStatus
from revsync.domain.pricing import exact_decimal
from revsync.domain.subscriptions import Change, Subscription
from revsync.domain.usage import from_micros
from revsync.entrypoints.api.auth import require
from revsync.entrypoints.api.bodies import (
    json_response,
    object_of,
    optional_date,
    plan_out,
    read_body,
    required_date,
)
from revsync.entrypoints.api.idempotency import idempotent
from revsync.ports.billing import InvoiceFilter
from revsync.schemas.invoices_v1 import invoice_out, line_out

router = APIRouter(tags=["billing"])
Admin = Annotated[ApiKey, Depends(require(Scope.ADMIN))]
Reader = Annotated[ApiKey, Depends(require(Scope.READ))]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _body_doc(description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"type": "object"}, "example": example}},
        }
    }


# --- plans and coupons ---------------------------------------------------------------------

_PLAN_EXAMPLE = {
    "name": "Pro",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "99.00",
        },
        {
            "key": "calls",
            "model": "graduated",
            "description": "API calls",
            "meter": "api_calls",
            "tiers": [
                {"up_to": "10000", "unit_amount": "0"},
                {"up_to": None, "unit_amount": "0.002"},
            ],
        },
    ],
}


@router.put(
    "/v1/plans/{code}",
    summary="Define a plan (a change makes a new version)",
    openapi_extra=_body_doc(
        "The plan: name, currency, interval, usage_interval, charges, minimum, maximum.",
        _PLAN_EXAMPLE,
    ),
)
async def put_plan(code: str, request: Request, key: Admin) -> Response:
    container = _container(request)
    body = await read_body(request)

    def work() -> Response:
        definition = object_of(body, None)  # the plan's own rules name unknown fields
        outcome = container.catalog.put_plan(code, definition, request.state.actor)
        return json_response(plan_out(outcome.plan), 201 if outcome.created else 200)

    return await run_in_threadpool(work)


@router.get("/v1/plans", summary="The newest version of every plan")
def list_plans(request: Request, key: Reader) -> Response:
    return json_response({"items": [plan_out(p) for p in _container(request).catalog.plans()]})


@router.get("/v1/plans/{code}", summary="A plan (newest version, or ?version=)")
def get_plan(
    code: str,
    request: Request,
    key: Reader,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    return json_response(plan_out(_container(request).catalog.plan(code, version)))


@router.put(
    "/v1/coupons/{code}",
    summary="Define a coupon",
    openapi_extra=_body_doc(
        "percent_off or amount_off (+ currency); duration once, repeating (+ periods) or forever.",
        {"description": "Launch offer", "percent_off": "20", "duration": "repeating", "periods": 3},
    ),
)
async def put_coupon(code: str, request: Request, key: Admin) -> Response:
    container = _container(request)
    body = await read_body(request)

    def work() -> Response:
        data = object_of(body, None)  # the coupon's own rules name unknown fields
        coupon = container.catalog.put_coupon({**data, "code": code}, request.state.actor)
        return json_response(coupon_to_data(coupon))

    return await run_in_threadpool(work)


# --- subscriptions -------------------------------------------------------------------------


def subscription_out(subscription: Subscription) -> dict[str, Any]:
    """A subscription with the history of its terms."""
    return {
        "id": subscription.id,
        "customer_id": subscription.customer_id,
        "anchor": subscription.anchor.isoformat(),
        "interval": subscription.interval.value,
        "usage_interval": subscription.usage_interval.value,
        "include_children": subscription.include_children,
        "renewal_date": subscription.renewal_date.isoformat()
        if subscription.renewal_date
        else None,
        "coupons": [{"code": c.code, "start": c.start.isoformat()} for c in subscription.coupons],
        "terms": [
            {
                "version": t.version,
                "effective": t.effective.isoformat(),
                "change": t.change.value,
                "plan": t.plan_code,
                "plan_version": t.plan_version,
                "seats": t.seats,
                "trial_end": t.trial_end.isoformat() if t.trial_end else None,
                "ends": t.ends.isoformat() if t.ends else None,
            }
            for t in subscription.terms
        ],
    }


@router.put(
    "/v1/subscriptions/{subscription_id}",
    summary="Create a subscription",
    openapi_extra=_body_doc(
        "customer_id, plan (code), plan_version (default newest), start, seats, anchor, trial_end, "
        "ends, include_children (bill the usage of child accounts), renewal_date, coupons.",
        {"customer_id": "acme", "plan": "pro", "start": "2026-11-01", "seats": 5},
    ),
)
async def put_subscription(subscription_id: str, request: Request, key: Admin) -> Response:
    container = _container(request)
    body = await read_body(request)
    return await run_in_threadpool(_put_subscription, container, subscription_id, body, request)


_SUBSCRIPTION_FIELDS = frozenset(
    {
        "customer_id",
        "plan",
        "plan_version",
        "start",
        "seats",
        "anchor",
        "trial_end",
        "ends",
        "include_children",
        "renewal_date",
        "coupons",
    }
)


def _put_subscription(
    container: Container, subscription_id: str, body: bytes, request: Request
) -> Response:
    data = object_of(body, _SUBSCRIPTION_FIELDS)
    coupons = _coupons(data.get("coupons", []))
    subscription, created = container.subscriptions.create(
        CreateSubscription(
            subscription_id=subscription_id,
            customer_id=_text(data, "customer_id"),
            plan_code=_text(data, "plan"),
            plan_version=_int(data, "plan_version"),
            start=required_date(data, "start"),
            seats=_int(data, "seats") or 1,
            anchor=optional_date(data, "anchor"),
            trial_end=optional_date(data, "trial_end"),
            ends=optional_date(data, "ends"),
            include_children=_flag(data, "include_children"),
            renewal_date=optional_date(data, "renewal_date"),
            coupons=coupons,
            actor=request.state.actor,
        )
    )
    return json_response(subscription_out(subscription), 201 if created else 200)


def _coupons(given: object) -> list[tuple[str, date | None]]:
    if not isinstance(given, list):
        raise InvalidField("coupons", "expected a list of {code, start}")
    found = []
    for index, item in enumerate(given):
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise InvalidField(f"coupons.{index}", "expected an object with a code")
        unknown = sorted(set(item) - {"code", "start"})
        if unknown:
            raise InvalidField(f"coupons.{index}.{unknown[0]}", "unknown field")
        found.append((item["code"], optional_date(item, "start")))
    return found


@router.get("/v1/subscriptions/{subscription_id}", summary="A subscription and its terms history")
def get_subscription(subscription_id: str, request: Request, key: Reader) -> Response:
    return json_response(subscription_out(_container(request).subscriptions.get(subscription_id)))


@router.post(
    "/v1/subscriptions/{subscription_id}/amendments",
    status_code=201,
    summary="Amend a subscription (a new version of its terms)",
    openapi_extra=_body_doc(
        "change: upgrade, downgrade, plan_change, seat_change, cancel, trial_change or renewal; "
        "effective (date); plan / plan_version, seats, trial_end, ends as the change needs.",
        {"change": "upgrade", "effective": "2026-11-16", "plan": "enterprise"},
    ),
)
async def amend_subscription(subscription_id: str, request: Request, key: Admin) -> Response:
    container = _container(request)
    body = await read_body(request)
    return await idempotent(
        request, key, body, lambda: _amend(container, subscription_id, body, request)
    )


_AMENDMENT_FIELDS = frozenset(
    {"change", "effective", "plan", "plan_version", "seats", "trial_end", "ends"}
)


def _amend(container: Container, subscription_id: str, body: bytes, request: Request) -> Response:
    data = object_of(body, _AMENDMENT_FIELDS)
    try:
        change = Change(str(data.get("change")))
    except ValueError:
        raise InvalidField("change", f"unknown change {data.get('change')!r}") from None
    plan = data.get("plan")
    if plan is not None and not isinstance(plan, str):
        raise InvalidField("plan", "expected a plan code (a string)")
    subscription = container.subscriptions.amend(
        AmendSubscription(
            subscription_id=subscription_id,
            change=change,
            effective=required_date(data, "effective"),
            plan_code=plan,
            plan_version=_int(data, "plan_version"),
            seats=_int(data, "seats"),
            trial_end=optional_date(data, "trial_end"),
            ends=optional_date(data, "ends"),
            actor=request.state.actor,
        )
    )
    return json_response(subscription_out(subscription), 201)


@router.post(
    "/v1/subscriptions/{subscription_id}/coupons", status_code=201, summary="Apply a coupon"
)
async def apply_coupon(subscription_id: str, request: Request, key: Admin) -> Response:
    container = _container(request)
    body = await read_body(request)

    def work() -> Response:
        data = object_of(body, {"code", "start"})
        subscription = container.subscriptions.add_coupon(
            subscription_id,
            _text(data, "code"),
            required_date(data, "start"),
            request.state.actor,
        )
        return json_response(subscription_out(subscription), 201)

    return await idempotent(request, key, body, work)


#: the largest whole number a field takes (counts, versions): 2^31 - 1
MAX_WHOLE = 2**31 - 1


def _int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidField(name, "must be a whole number")
    if not 0 <= value <= MAX_WHOLE:
        raise InvalidField(name, f"must be between 0 and {MAX_WHOLE}")
    return value


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise InvalidField(name, "expected true or false")
    return value


def _text(data: dict[str, Any], name: str, limit: int = 200) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise InvalidField(name, "expected a string")
    if len(value) > limit:
        raise InvalidField(name, f"longer than {limit} characters")
    return value


# --- billing runs and invoices -------------------------------------------------------------


@router.post("/v1/billing-runs", status_code=201, summary="Run billing as of a date")
async def post_billing_run(request: Request, key: Admin) -> Response:
    container = _container(request)
    body = await read_body(request)
    return await idempotent(request, key, body, lambda: _bill(container, body, request))


def _bill(container: Container, body: bytes, request: Request) -> Response:
    data = object_of(body, {"as_of"}, optional=True)
    report = container.billing.run(
        optional_date(data, "as_of"), request.state.actor, request.state.correlation_id
    )
    return json_response(
        {
            "id": report.id,
            "as_of": report.as_of.isoformat(),
            "created": report.created,
            "updated": report.updated,
            "unchanged": len(report.unchanged),
            "finalized": report.finalized,
            "adjusted": report.adjusted,
            "errors": [
                {
                    "subscription_id": e.subscription_id,
                    "customer_id": e.customer_id,
                    "period": str(e.period) if e.period else None,
                    "reason": e.reason,
                    "case_id": e.case_id,
                }
                for e in report.errors
            ],
        },
        201,
    )


@router.get("/v1/invoices", summary="List invoices")
def list_invoices(
    request: Request,
    key: Reader,
    customer: Annotated[str | None, Query()] = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    period: Annotated[date | None, Query(description="Period start date.")] = None,
    subscription: Annotated[str | None, Query()] = None,
    kind: Annotated[InvoiceKind | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    where = InvoiceFilter(customer, status, period, subscription, kind)
    found = _container(request).billing.invoices(where, after=cursor, limit=limit)
    return json_response(
        {
            "items": [invoice_out(i) for i in found],
            "next_cursor": found[-1].id if len(found) == limit else None,
        }
    )


@router.get("/v1/invoices/{invoice_id}", summary="An invoice or credit note")
def get_invoice(invoice_id: str, request: Request, key: Reader) -> Response:
    return json_response(invoice_out(_container(request).billing.invoice(invoice_id)))


@router.get(
    "/v1/invoices/{invoice_id}/lines/{key}/events", summary="The events behind a usage line"
)
def line_events(
    invoice_id: str,
    key: str,
    request: Request,
    auth: Reader,
    cursor: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The events that made a usage line (exactly those counted when it was rated)."""
    line, events, next_cursor = _container(request).billing.line_events(
        invoice_id, key, after_seq=cursor, limit=limit
    )
    return json_response(
        {
            "lineage": line_out(line)["lineage"],
            "items": [
                {
                    "id": e.event_id,
                    "source": e.source,
                    "type": e.type,
                    "subject": e.subject,
                    "time": from_micros(e.time_us).isoformat().replace("+00:00", "Z"),
                    "customer_id": e.customer_id,
                    "data": e.data,
                }
                for e in events
            ],
            "next_cursor": next_cursor,
        }
    )


@router.post(
    "/v1/invoices/{invoice_id}/void",
    status_code=201,
    summary="Void an invoice (issues a credit note)",
)
async def void_invoice(invoice_id: str, request: Request, key: Admin) -> Response:
    container = _container(request)
    body = await read_body(request)

    def work() -> Response:
        data = object_of(body, {"reason"}, optional=True)
        note = container.billing.void(
            invoice_id,
            _text(data, "reason", 2000),
            request.state.actor,
            request.state.correlation_id,
        )
        return json_response(invoice_out(note), 201)

    return await idempotent(request, key, body, work)


@router.post(
    "/v1/invoices/{invoice_id}/credit-notes",
    status_code=201,
    summary="Credit part of an invoice",
    openapi_extra=_body_doc(
        "lines: line key → amount to credit; reason.",
        {"lines": {"usage:calls:2026-11-01:tier-2": "10.00"}, "reason": "goodwill"},
    ),
)
async def credit_invoice(invoice_id: str, request: Request, key: Admin) -> Response:
    container = _container(request)
    body = await read_body(request)

    def work() -> Response:
        data = object_of(body, {"lines", "reason"})
        lines = data.get("lines")
        if not isinstance(lines, dict):
            raise InvalidField("lines", "expected an object of line key → amount")
        amounts = {str(k): _decimal(v, f"lines.{k}") for k, v in lines.items()}
        note = container.billing.credit(
            invoice_id,
            amounts,
            _text(data, "reason", 2000),
            request.state.actor,
            request.state.correlation_id,
        )
        return json_response(invoice_out(note), 201)

    return await idempotent(request, key, body, work)


def _decimal(value: object, name: str) -> Decimal:
    return exact_decimal(value, name)


@router.get(
    "/v1/customers/{customer_id}/upcoming-invoice", summary="The invoice of the open period so far"
)
def upcoming_invoice(customer_id: str, request: Request, key: Reader) -> Response:
    drafts = _container(request).billing.upcoming(customer_id)
    return json_response({"items": [invoice_out(i) for i in drafts]})


# --- prepaid credits ---------------------------------------------------------------------


@router.post(
    "/v1/customers/{customer_id}/credits",
    status_code=201,
    summary="Grant prepaid credit",
    openapi_extra=_body_doc(
        "amount, currency, expires_on, granted_on, reason.",
        {"amount": "500.00", "currency": "EUR", "expires_on": "2027-01-01", "reason": "prepaid"},
    ),
)
async def grant_credit(customer_id: str, request: Request, key: Admin) -> Response:
    container = _container(request)
    body = await read_body(request)

    def work() -> Response:
        data = object_of(body, {"amount", "currency", "granted_on", "expires_on", "reason"})
        grant = container.credits.grant(
            customer_id,
            _decimal(data.get("amount"), "amount"),
            _text(data, "currency", 3),
            granted_on=optional_date(data, "granted_on"),
            expires_on=optional_date(data, "expires_on"),
            reason=_text(data, "reason", 2000),
            actor=request.state.actor,
        )
        return json_response(_grant_out(grant), 201)

    return await idempotent(request, key, body, work)


@router.get(
    "/v1/customers/{customer_id}/credits", summary="Prepaid credit: grants and what is left"
)
def wallet(customer_id: str, request: Request, key: Reader) -> Response:
    wallet = _container(request).credits.wallet(customer_id)
    return json_response(
        {"balances": wallet.balances, "grants": [_grant_out(g) for g in wallet.grants]}
    )


def _grant_out(grant: Any) -> dict[str, Any]:
    return {
        "id": grant.id,
        "currency": grant.currency,
        "remaining": grant.remaining,
        "granted_on": grant.granted_on.isoformat(),
        "expires_on": grant.expires_on.isoformat() if grant.expires_on else None,
    }
