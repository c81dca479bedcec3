"""Plans, coupons, subscriptions, billing runs, invoices, credit notes and prepaid credits."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool

from revsync.application.subscriptions import AmendSubscription, CreateSubscription
from revsync.bootstrap import Container
from revsync.domain.coupons import Duration, coupon_to_data
from revsync.domain.entitlements import Enforcement, FeatureKind
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import InvoiceKind, InvoiceStatus, LineKind
from revsync.domain.periods import Interval
from revsync.domain.pricing import ChargeModel, Timing, exact_decimal
from revsync.domain.scopes import MAX_SCOPE_ITEMS, MAX_SCOPE_NAME, scope_from_data, scope_to_data
from revsync.domain.subscriptions import Change, Subscription
from revsync.domain.thresholds import ThresholdKind, threshold_to_mapping
from revsync.domain.usage import from_micros
from revsync.entrypoints.api.access import Key, check_reach, reach_of
from revsync.entrypoints.api.bodies import (
    json_response,
    object_of,
    optional_date,
    plan_out,
    read_body,
    required_date,
)
from revsync.entrypoints.api.contract import CustomerId, DecimalIn, DecimalText, answers, body
from revsync.entrypoints.api.idempotency import idempotent
from revsync.ports.billing import InvoiceFilter
from revsync.schemas.invoices_v1 import invoice_out, line_out

router = APIRouter(tags=["billing"])


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


# --- what goes in and out (the routes read bodies raw: their 422s name the field) --------------

#: a field left out when it has no value
Absent = SkipJsonSchema[None]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TierIn(_In):
    """A tier; the last one has no ``up_to``."""

    up_to: DecimalIn | None = None
    unit_amount: DecimalIn
    flat_amount: DecimalIn | None = None


class ChargeIn(_In):
    """A priced item; which fields it needs depends on its ``model`` (docs/billing.md)."""

    key: str
    model: ChargeModel
    description: str
    timing: Timing | None = None
    amount: DecimalIn | None = None
    meter: str | None = None
    tiers: list[TierIn] | None = None
    package_size: DecimalIn | None = None
    included: DecimalIn | None = None
    dimension: str | None = None
    prices: dict[str, DecimalIn] | None = Field(default=None, description="dimension value → price")
    default_price: DecimalIn | None = None
    tax_code: str | None = None
    flat_fee_at_zero: bool | None = Field(
        default=None, description="graduated: the first tier's flat amount at zero usage too"
    )
    rate: DecimalIn | None = Field(default=None, description="percentage: percent per transaction")
    fixed_amount: DecimalIn | None = Field(
        default=None, description="percentage: a fixed amount per charged transaction"
    )
    free_transactions: int | None = Field(
        default=None, ge=0, le=10**12, description="percentage: the period's first free ones"
    )
    free_amount: DecimalIn | None = Field(
        default=None, description="percentage: the period's first free transaction amount"
    )
    min_per_transaction: DecimalIn | None = None
    max_per_transaction: DecimalIn | None = None
    minimum: DecimalIn | None = Field(
        default=None, description="usage charges: the least it bills per usage period"
    )


class FeatureIn(_In):
    """What the plan entitles to (docs/entitlements.md): ``boolean``; ``quota`` of a meter per
    usage period (``limit``, ``hard`` or ``soft``); ``seats`` (optionally counted by a meter)."""

    key: str
    kind: FeatureKind
    meter: str | None = None
    limit: DecimalIn | None = None
    enforcement: Enforcement | None = None


class ThresholdIn(_In):
    """A point in the usage period at which revsync tells once (docs/thresholds.md): ``usage``
    of a meter, ``percent`` of what the plan includes of a meter, or ``spend`` so far in the
    plan's currency (``invoice``: bill it at once on an interim invoice)."""

    key: str
    kind: ThresholdKind
    value: DecimalIn
    meter: str | None = None
    invoice: bool | None = None


class PlanIn(_In):
    """A plan definition (its code is in the path)."""

    name: str
    currency: str = Field(description="ISO 4217 code, e.g. EUR.")
    interval: Interval
    usage_interval: Interval | None = None
    charges: list[ChargeIn]
    minimum: DecimalIn | None = None
    maximum: DecimalIn | None = None
    minimum_includes_fees: bool | None = Field(
        default=None, description="the minimum counts the recurring fees as well as usage"
    )
    features: list[FeatureIn] | None = None
    thresholds: list[ThresholdIn] | None = None


class TierOut(BaseModel):
    up_to: DecimalText | None
    unit_amount: DecimalText
    flat_amount: DecimalText


class ChargeOut(BaseModel):
    """A charge as stored; fields without a value are left out."""

    key: str
    model: ChargeModel
    description: str
    timing: Timing
    amount: DecimalText | Absent = None
    package_size: DecimalText | Absent = None
    included: DecimalText | Absent = None
    default_price: DecimalText | Absent = None
    meter: str | Absent = None
    dimension: str | Absent = None
    tiers: list[TierOut] | Absent = None
    prices: dict[str, DecimalText] | Absent = None
    flat_fee_at_zero: bool | Absent = None
    rate: DecimalText | Absent = None
    fixed_amount: DecimalText | Absent = None
    free_transactions: int | Absent = None
    free_amount: DecimalText | Absent = None
    min_per_transaction: DecimalText | Absent = None
    max_per_transaction: DecimalText | Absent = None
    minimum: DecimalText | Absent = None
    tax_code: str


class FeatureOut(BaseModel):
    """A feature of the plan; ``limit`` and ``enforcement`` for a quota, ``meter`` where one
    counts it."""

    key: str
    kind: FeatureKind
    meter: str | Absent = None
    limit: DecimalText | Absent = None
    enforcement: Enforcement | Absent = None


class ThresholdOut(BaseModel):
    """A threshold; ``meter`` for usage and percent, ``invoice`` when it bills at once."""

    key: str
    kind: ThresholdKind
    value: DecimalText
    meter: str | Absent = None
    invoice: bool | Absent = None


class PlanOut(BaseModel):
    """A version of a plan."""

    code: str
    version: int
    name: str
    currency: str
    interval: Interval
    usage_interval: Interval
    charges: list[ChargeOut]
    minimum: DecimalText | Absent = None
    maximum: DecimalText | Absent = None
    minimum_includes_fees: bool | Absent = None
    features: list[FeatureOut] | Absent = None
    thresholds: list[ThresholdOut] | Absent = None


class PlanList(BaseModel):
    items: list[PlanOut]


ScopeName = Annotated[str, Field(min_length=1, max_length=MAX_SCOPE_NAME)]


class ScopeIn(_In):
    """What a coupon or a prepaid credit grant is limited to: lines of these plans (codes,
    every version: fees, prorations, usage, minimum and cap) and usage lines of these meters
    (docs/billing.md, "Scopes"). Name at least one; leave the field out for the whole invoice."""

    plans: list[ScopeName] | None = Field(default=None, max_length=MAX_SCOPE_ITEMS)
    meters: list[ScopeName] | None = Field(default=None, max_length=MAX_SCOPE_ITEMS)


class ScopeOut(BaseModel):
    plans: list[str] | Absent = None
    meters: list[str] | Absent = None


class CouponIn(_In):
    """A coupon definition (its code is in the path): ``percent_off``, or ``amount_off`` with
    ``currency``; ``applies_to`` limits it to plans and meters."""

    description: str = ""
    percent_off: DecimalIn | None = None
    amount_off: DecimalIn | None = None
    currency: str | None = None
    duration: Duration = Duration.ONCE
    periods: int | None = Field(default=None, ge=1, le=1200, description="With repeating.")
    applies_to: ScopeIn | None = None


class CouponOut(BaseModel):
    code: str
    description: str
    duration: Duration
    percent_off: DecimalText | Absent = None
    amount_off: DecimalText | Absent = None
    currency: str | Absent = None
    periods: int | Absent = None
    applies_to: ScopeOut | Absent = Field(
        default=None, description="Left out when the coupon reaches the whole invoice."
    )


Whole = Annotated[int, Field(ge=0, le=2**31 - 1)]
Text = Annotated[str, Field(max_length=200)]
Reason = Annotated[str, Field(max_length=2000)]


class CouponUse(_In):
    code: Text
    start: date | None = None


class SubscriptionIn(_In):
    """A subscription to create (its id is in the path)."""

    customer_id: Text
    plan: Text = Field(description="The plan's code.")
    plan_version: Whole | None = Field(default=None, description="Default: the newest.")
    start: date
    seats: Whole | None = None
    anchor: date | None = None
    trial_end: date | None = None
    ends: date | None = None
    include_children: bool = Field(default=False, description="Bill child accounts' usage.")
    renewal_date: date | None = None
    coupons: list[CouponUse] = Field(default_factory=list)


class AmendmentIn(_In):
    """A change of the terms from ``effective`` on; ``plan``, ``seats``, ``trial_end`` or
    ``ends`` as the change needs."""

    change: Change
    effective: date
    plan: Text | None = None
    plan_version: Whole | None = None
    seats: Whole | None = None
    trial_end: date | None = None
    ends: date | None = None


class CouponApplication(_In):
    code: Text
    start: date


class CouponStart(BaseModel):
    code: str
    start: date


class TermsOut(BaseModel):
    """A version of a subscription's terms."""

    version: int
    effective: date
    change: Change
    plan: str
    plan_version: int
    seats: int
    trial_end: date | None
    ends: date | None


class CalendarOut(BaseModel):
    """Periods of ``interval`` from ``anchor`` (usage periods of ``usage_interval``), in force
    from ``start`` until the next calendar's start."""

    start: date
    anchor: date
    interval: Interval
    usage_interval: Interval


class SubscriptionOut(BaseModel):
    """A subscription with the history of its terms."""

    id: str
    customer_id: str
    anchor: date = Field(description="The anchor of the newest calendar (see ``calendars``).")
    interval: Interval = Field(description="The newest calendar's interval.")
    usage_interval: Interval = Field(description="The newest calendar's usage interval.")
    calendars: list[CalendarOut] = Field(
        description="Every calendar of its periods, in order: a plan change to another "
        "interval starts a new one on its effective date."
    )
    include_children: bool
    renewal_date: date | None
    coupons: list[CouponStart]
    terms: list[TermsOut]
    thresholds: list[ThresholdOut] = Field(
        description="The subscription's own (its plan's are on the plan)."
    )


class BillingRunIn(_In):
    as_of: date | None = Field(default=None, description="Default: today (UTC).")


class BillingErrorOut(BaseModel):
    """A subscription the run could not bill; its case."""

    subscription_id: str
    customer_id: str
    period: str | None = Field(description="start/end, e.g. 2026-11-01/2026-12-01")
    reason: str
    case_id: str | None


class BillingRunOut(BaseModel):
    """What a billing run did (invoice ids)."""

    id: str
    as_of: date
    created: list[str]
    updated: list[str]
    unchanged: int
    finalized: list[str]
    adjusted: list[str]
    errors: list[BillingErrorOut]


class PeriodOut(BaseModel):
    start: date
    end: date


class WindowOut(BaseModel):
    start: datetime
    end: datetime


class LineageOut(BaseModel):
    """The usage behind a line."""

    meter: str
    window: WindowOut
    customer_ids: list[str]
    group: dict[str, str]
    events: int
    events_hash: str


class LineOut(BaseModel):
    key: str
    kind: LineKind
    charge: str
    description: str
    quantity: DecimalText
    unit_amount: DecimalText
    amount: DecimalText
    service: PeriodOut
    tax_code: str
    lineage: LineageOut | None
    adjusts: str | None = Field(description="<invoice id>/<line key> of an adjusted line")


class TaxOut(BaseModel):
    tax_code: str
    rate: DecimalText
    base: DecimalText
    amount: DecimalText


class TotalsOut(BaseModel):
    subtotal: DecimalText
    discount: DecimalText
    tax: DecimalText
    total: DecimalText
    credits: DecimalText
    amount_due: DecimalText


class InvoiceOut(BaseModel):
    """An invoice or a credit note."""

    id: str
    number: str | None = Field(description="Once finalized.")
    document: Literal["invoice", "credit_note"]
    kind: InvoiceKind
    status: InvoiceStatus
    customer_id: str
    subscription_id: str | None
    currency: str
    period: PeriodOut
    issue_date: date
    lines: list[LineOut]
    taxes: list[TaxOut]
    totals: TotalsOut
    credits_invoice: str | None = Field(description="A credit note: the invoice it credits.")
    consolidated_into: str | None = Field(
        description="Billed on a consolidated invoice (billing.consolidate): its id. Such an "
        "invoice has no number of its own; the consolidated one is voided and credited."
    )


class InvoicePage(BaseModel):
    items: list[InvoiceOut]
    next_cursor: str | None


class InvoiceList(BaseModel):
    items: list[InvoiceOut]


class LineEventOut(BaseModel):
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    customer_id: str | None
    data: dict[str, Any]


class LineEventsOut(BaseModel):
    """A page of the events a usage line counted."""

    lineage: LineageOut | None
    items: list[LineEventOut]
    next_cursor: int | None


class VoidIn(_In):
    reason: Reason = ""


class CreditNoteIn(_In):
    lines: dict[str, DecimalIn] = Field(description="line key → amount to credit")
    reason: Reason = ""


class CreditGrantIn(_In):
    amount: DecimalIn
    currency: str = Field(max_length=3)
    granted_on: date | None = None
    expires_on: date | None = None
    reason: Reason = ""
    applies_to: ScopeIn | None = None


class CreditGrantOut(BaseModel):
    id: str
    currency: str
    remaining: DecimalText
    granted_on: date
    expires_on: date | None
    applies_to: ScopeOut | None = Field(description="null: the grant pays any invoice line.")


class WalletOut(BaseModel):
    balances: dict[str, DecimalText] = Field(description="currency → usable credit")
    grants: list[CreditGrantOut]


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
    response_model=PlanOut,
    response_description="The same definition as the newest version: nothing changed.",
    responses={201: {"model": PlanOut, "description": "A new version."}},
    openapi_extra=body(PlanIn, example=_PLAN_EXAMPLE),
)
async def put_plan(code: str, request: Request, key: Key) -> Response:
    container = _container(request)
    body = await read_body(request)

    def work() -> Response:
        definition = object_of(body, None)  # the plan's own rules name unknown fields
        outcome = container.catalog.put_plan(code, definition, request.state.actor)
        return json_response(plan_out(outcome.plan), 201 if outcome.created else 200)

    return await run_in_threadpool(work)


@router.get("/v1/plans", summary="The newest version of every plan", response_model=PlanList)
def list_plans(request: Request, key: Key) -> Response:
    return json_response({"items": [plan_out(p) for p in _container(request).catalog.plans()]})


@router.get(
    "/v1/plans/{code}", summary="A plan (newest version, or ?version=)", response_model=PlanOut
)
def get_plan(
    code: str,
    request: Request,
    key: Key,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    return json_response(plan_out(_container(request).catalog.plan(code, version)))


@router.put(
    "/v1/coupons/{code}",
    summary="Define a coupon",
    response_model=CouponOut,
    openapi_extra=body(
        CouponIn,
        example={
            "description": "Launch offer",
            "percent_off": "20",
            "duration": "repeating",
            "periods": 3,
        },
    ),
)
async def put_coupon(code: str, request: Request, key: Key) -> Response:
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
    calendars = [
        {
            "start": c.start.isoformat(),
            "anchor": c.anchor.isoformat(),
            "interval": c.interval.value,
            "usage_interval": c.usage_interval.value,
        }
        for c in subscription.calendars
    ]
    return {
        "id": subscription.id,
        "customer_id": subscription.customer_id,
        **{k: v for k, v in calendars[-1].items() if k != "start"},
        "calendars": calendars,
        "include_children": subscription.include_children,
        "renewal_date": subscription.renewal_date.isoformat()
        if subscription.renewal_date
        else None,
        "coupons": [{"code": c.code, "start": c.start.isoformat()} for c in subscription.coupons],
        "thresholds": [threshold_to_mapping(t) for t in subscription.thresholds],
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
    response_model=SubscriptionOut,
    response_description="The same subscription already exists: nothing changed.",
    responses={
        201: {"model": SubscriptionOut, "description": "Created."},
        **answers({409: "The subscription exists with other terms (amend it instead)."}),
    },
    openapi_extra=body(
        SubscriptionIn,
        example={"customer_id": "acme", "plan": "pro", "start": "2026-11-01", "seats": 5},
    ),
)
async def put_subscription(subscription_id: str, request: Request, key: Key) -> Response:
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
    container.entitlements.forget(subscription.customer_id)  # its plan or seats may differ
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


@router.get(
    "/v1/subscriptions/{subscription_id}",
    summary="A subscription and its terms history",
    response_model=SubscriptionOut,
)
def get_subscription(subscription_id: str, request: Request, key: Key) -> Response:
    subscription = _container(request).subscriptions.get(subscription_id)
    check_reach(request, subscription.customer_id, "subscription", subscription_id)
    return json_response(subscription_out(subscription))


@router.post(
    "/v1/subscriptions/{subscription_id}/amendments",
    status_code=201,
    summary="Amend a subscription (a new version of its terms)",
    response_model=SubscriptionOut,
    openapi_extra=body(
        AmendmentIn,
        example={"change": "upgrade", "effective": "2026-11-16", "plan": "enterprise"},
        idempotent=True,
    ),
)
async def amend_subscription(subscription_id: str, request: Request, key: Key) -> Response:
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
    container.entitlements.forget(subscription.customer_id)  # its plan or seats may differ
    return json_response(subscription_out(subscription), 201)


@router.post(
    "/v1/subscriptions/{subscription_id}/coupons",
    status_code=201,
    summary="Apply a coupon",
    response_model=SubscriptionOut,
    openapi_extra=body(CouponApplication, idempotent=True),
)
async def apply_coupon(subscription_id: str, request: Request, key: Key) -> Response:
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


@router.post(
    "/v1/billing-runs",
    status_code=201,
    summary="Run billing as of a date",
    response_model=BillingRunOut,
    openapi_extra=body(BillingRunIn, required=False, idempotent=True),
)
async def post_billing_run(request: Request, key: Key) -> Response:
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


@router.get("/v1/invoices", summary="List invoices", response_model=InvoicePage)
def list_invoices(
    request: Request,
    key: Key,
    customer: Annotated[str | None, Query()] = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    period: Annotated[date | None, Query(description="Period start date.")] = None,
    subscription: Annotated[str | None, Query()] = None,
    kind: Annotated[InvoiceKind | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    where = InvoiceFilter(customer, status, period, subscription, kind, reach_of(request))
    found = _container(request).billing.invoices(where, after=cursor, limit=limit)
    return json_response(
        {
            "items": [invoice_out(i) for i in found],
            "next_cursor": found[-1].id if len(found) == limit else None,
        }
    )


@router.get(
    "/v1/invoices/{invoice_id}", summary="An invoice or credit note", response_model=InvoiceOut
)
def get_invoice(invoice_id: str, request: Request, key: Key) -> Response:
    invoice = _container(request).billing.invoice(invoice_id)
    check_reach(request, invoice.customer_id, "invoice", invoice_id)
    return json_response(invoice_out(invoice))


@router.get(
    "/v1/invoices/{invoice_id}/lines/{key}/events",
    summary="The events behind a usage line",
    response_model=LineEventsOut,
)
def line_events(
    invoice_id: str,
    key: str,
    request: Request,
    auth: Key,
    cursor: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The events that made a usage line (exactly those counted when it was rated)."""
    line, events, next_cursor = _container(request).billing.line_events(
        invoice_id,
        key,
        after_seq=cursor,
        limit=limit,
        check=lambda invoice: check_reach(request, invoice.customer_id, "invoice", invoice_id),
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
    response_model=InvoiceOut,
    response_description="The credit note.",
    openapi_extra=body(VoidIn, required=False, idempotent=True),
)
async def void_invoice(invoice_id: str, request: Request, key: Key) -> Response:
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
    response_model=InvoiceOut,
    response_description="The credit note.",
    openapi_extra=body(
        CreditNoteIn,
        example={"lines": {"usage:calls:2026-11-01:tier-2": "10.00"}, "reason": "goodwill"},
        idempotent=True,
    ),
)
async def credit_invoice(invoice_id: str, request: Request, key: Key) -> Response:
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
    "/v1/customers/{customer_id}/upcoming-invoice",
    summary="The invoice of the open period so far",
    response_model=InvoiceList,
)
def upcoming_invoice(customer_id: CustomerId, request: Request, key: Key) -> Response:
    check_reach(request, customer_id, "customer", customer_id)
    drafts = _container(request).billing.upcoming(customer_id)
    return json_response({"items": [invoice_out(i) for i in drafts]})


# --- prepaid credits ---------------------------------------------------------------------


@router.post(
    "/v1/customers/{customer_id}/credits",
    status_code=201,
    summary="Grant prepaid credit",
    response_model=CreditGrantOut,
    openapi_extra=body(
        CreditGrantIn,
        example={
            "amount": "500.00",
            "currency": "EUR",
            "expires_on": "2027-01-01",
            "reason": "prepaid",
        },
        idempotent=True,
    ),
)
async def grant_credit(customer_id: CustomerId, request: Request, key: Key) -> Response:
    container = _container(request)
    body = await read_body(request)

    def work() -> Response:
        data = object_of(
            body, {"amount", "currency", "granted_on", "expires_on", "reason", "applies_to"}
        )
        scope = data.get("applies_to")
        grant = container.credits.grant(
            customer_id,
            _decimal(data.get("amount"), "amount"),
            _text(data, "currency", 3),
            granted_on=optional_date(data, "granted_on"),
            expires_on=optional_date(data, "expires_on"),
            reason=_text(data, "reason", 2000),
            actor=request.state.actor,
            applies_to=scope_from_data(scope),
            given=scope if isinstance(scope, dict) else None,
        )
        return json_response(_grant_out(grant), 201)

    return await idempotent(request, key, body, work)


@router.get(
    "/v1/customers/{customer_id}/credits",
    summary="Prepaid credit: grants and what is left",
    response_model=WalletOut,
)
def wallet(customer_id: CustomerId, request: Request, key: Key) -> Response:
    check_reach(request, customer_id, "customer", customer_id)
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
        "applies_to": scope_to_data(grant.scope),
    }
