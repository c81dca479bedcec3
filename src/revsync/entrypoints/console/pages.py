"""The console's pages: overview, exception cases with their actions, customers, invoices
with their lineage, reconciliations; and signing in and out. Thin: each page asks the same
services the API routes do, and each action goes through the same use case, audited alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from revsync.application.cases import ReplaySelection
from revsync.application.console import SignInRefused
from revsync.application.usage import UsageRequest
from revsync.bootstrap import Container
from revsync.domain.delivery import CaseKind, CaseStatus, MessageStatus
from revsync.domain.errors import DomainError, InvalidField, NotFound
from revsync.domain.identity import Customer
from revsync.domain.invoicing import InvoiceStatus
from revsync.domain.kpis import TRENDS
from revsync.domain.metering import Window
from revsync.domain.usage import from_micros
from revsync.entrypoints.api.cases import MAX_REASON
from revsync.entrypoints.console.charts import bar_chart, line_chart
from revsync.entrypoints.console.web import (
    COOKIE,
    HEADERS,
    SIGN_IN_COOKIE,
    ConsoleRoute,
    Viewer,
    back_to,
    checked_form,
    container_of,
    form_of,
    local,
    render,
)
from revsync.ports.billing import InvoiceFilter
from revsync.ports.delivery import Case, CaseFilter

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

#: rows per page of a list
PAGE = 50
#: how far back the KPI charts and the usage charts reach
KPI_DAYS, USAGE_DAYS = 7, 30
#: the cases whose message an operator may queue again
RETRYABLE = frozenset({CaseKind.DELIVERY, CaseKind.OUTAGE})


# --- signing in and out ----------------------------------------------------------------


@router.get("/console/sign-in")
def sign_in_page(
    request: Request, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    return _sign_in_form(request, local(next), None)


@router.post("/console/sign-in")
async def sign_in(request: Request) -> Response:
    values = await form_of(request)
    target = local(values.get("next"))
    state = request.cookies.get(SIGN_IN_COOKIE, "")
    error = None
    if not state or state != values.get("state"):
        error = "the sign-in form expired: try again"
    else:
        try:
            done = await run_in_threadpool(
                container_of(request).console_sessions.sign_in, values.get("key", "")[:500]
            )
        except SignInRefused as refused:
            error = str(refused)
    if error is not None:
        return _sign_in_form(request, target, error)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        done.token,
        max_age=int((done.session.expires_at - done.session.created_at).total_seconds()),
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/console/sign-in")
    return response


def _sign_in_form(request: Request, target: str, error: str | None) -> Response:
    """The sign-in form with a fresh form token (also in its cookie), and why the last try
    was refused (401)."""
    state = container_of(request).ids.new_secret()
    status = 200 if error is None else 401
    page = render(request, "sign_in.html", status, next=target, state=state, error=error)
    page.set_cookie(
        SIGN_IN_COOKIE,
        state,
        max_age=900,
        path="/console/sign-in",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return page


@router.post("/console/sign-out")
async def sign_out(request: Request, viewer: Viewer) -> Response:
    await checked_form(request, viewer)
    await run_in_threadpool(container_of(request).console_sessions.sign_out, viewer)
    response = back_to("/console/sign-in")
    response.delete_cookie(COOKIE, path="/console")
    return response


@cache
def _style() -> bytes:
    return files("revsync.entrypoints.console").joinpath("console.css").read_bytes()


@router.get("/console/console.css")
def style() -> Response:
    return Response(
        _style(),
        media_type="text/css",
        headers={**HEADERS, "Cache-Control": "public, max-age=3600"},
    )


# --- overview ----------------------------------------------------------------------------


@router.get("/console/")
async def overview(request: Request, viewer: Viewer) -> Response:
    container = container_of(request)
    health = await run_in_threadpool(container.operations.health)
    kpis = await run_in_threadpool(container.kpis.read)
    since = health.at - timedelta(days=KPI_DAYS)
    history = await run_in_threadpool(container.kpis.measurements, since)
    unbilled = line_chart(
        [(m.at, float(sum(m.unbilled_events.values()))) for m in history],
        "Unbilled usage events over time",
    )
    currencies = sorted({c for m in history for c in m.unbilled_amount})
    amounts = {
        currency: line_chart(
            [(m.at, float(m.unbilled_amount.get(currency, Decimal(0)))) for m in history],
            f"Unbilled usage amount in {currency} over time",
        )
        for currency in currencies
    }
    trends = {
        _trend_label(name): line_chart(
            [(m.at, m.trend[name]) for m in history if name in m.trend],
            f"{_trend_label(name)} over time",
        )
        for name in sorted({n for m in history for n in m.trend})
    }
    lag = kpis.event_lag
    events = sum(lag.counts)
    return render(
        request,
        "overview.html",
        health=health,
        kpis=kpis,
        unbilled_chart=unbilled,
        amount_charts=amounts,
        trend_charts=trends,
        lag_events=events,
        lag_mean=(lag.sum_us / events / 1e6) if events else None,
        unfinished=(MessageStatus.PENDING, MessageStatus.IN_FLIGHT, MessageStatus.FAILED),
    )


def _trend_label(name: str) -> str:
    """``sync_completeness:books`` → "Sync completeness (share) of books"."""
    kind, _, connector = name.partition(":")
    label = TRENDS.get(kind, kind)
    return f"{label} of {connector}" if connector else label


# --- exception cases ---------------------------------------------------------------------


@router.get("/console/cases")
async def cases(
    request: Request,
    viewer: Viewer,
    status: Annotated[CaseStatus | None, Query()] = CaseStatus.OPEN,
    kind: Annotated[CaseKind | None, Query()] = None,
    destination: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    replayed: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    where = CaseFilter(status, kind, destination or None)
    found = await run_in_threadpool(
        container_of(request).cases.find, where, after=after, limit=PAGE
    )
    return render(
        request,
        "cases.html",
        cases=found,
        status=status,
        kind=kind,
        destination=destination or "",
        statuses=list(CaseStatus),
        kinds=list(CaseKind),
        next_after=found[-1].id if len(found) == PAGE else None,
        replayed=replayed,
    )


@router.get("/console/cases/{case_id}")
async def case(request: Request, viewer: Viewer, case_id: str) -> Response:
    return await _case_page(request, case_id)


async def _case_page(request: Request, case_id: str, error: str | None = None) -> Response:
    view = await run_in_threadpool(container_of(request).cases.show, case_id)
    done = request.query_params.get("done")
    return render(
        request,
        "case.html",
        422 if error else 200,
        view=view,
        done=done if done in ("retry", "approve", "resolve", "ignore") else None,
        error=error,
        retryable=view.case.kind in RETRYABLE,
        max_reason=MAX_REASON,
    )


async def _act(
    request: Request,
    viewer: Viewer,
    case_id: str,
    name: str,
    action: Callable[[str, str, str], Case],
    reason_required: bool,
) -> Response:
    values = await checked_form(request, viewer)
    reason = values.get("reason", "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidField("reason", f"longer than {MAX_REASON} characters")
    if reason_required and not reason:
        return await _case_page(request, case_id, f"{name}: a reason is required")
    try:
        await run_in_threadpool(action, case_id, request.state.actor, reason)
    except NotFound:
        raise
    except DomainError as refused:
        return await _case_page(request, case_id, f"{name}: {refused}")
    return back_to(f"/console/cases/{case_id}?done={name}")


@router.post("/console/cases/{case_id}/retry")
async def retry(request: Request, viewer: Viewer, case_id: str) -> Response:
    action = container_of(request).cases.retry
    return await _act(request, viewer, case_id, "retry", action, False)


@router.post("/console/cases/{case_id}/approve")
async def approve(request: Request, viewer: Viewer, case_id: str) -> Response:
    action = container_of(request).cases.approve
    return await _act(request, viewer, case_id, "approve", action, True)


@router.post("/console/cases/{case_id}/resolve")
async def resolve(request: Request, viewer: Viewer, case_id: str) -> Response:
    action = container_of(request).cases.resolve
    return await _act(request, viewer, case_id, "resolve", action, True)


@router.post("/console/cases/{case_id}/ignore")
async def ignore(request: Request, viewer: Viewer, case_id: str) -> Response:
    action = container_of(request).cases.ignore
    return await _act(request, viewer, case_id, "ignore", action, True)


@router.post("/console/cases/replay")
async def replay(request: Request, viewer: Viewer) -> Response:
    values = await checked_form(request, viewer)
    destination = values.get("destination", "").strip()
    if not destination:
        raise InvalidField("destination", "required: the destination whose cases to replay")
    reason = values.get("reason", "").strip()
    replayed = await run_in_threadpool(
        container_of(request).cases.replay,
        ReplaySelection(destination=destination),
        request.state.actor,
        reason,
    )
    target = quote(destination, safe="")
    return back_to(f"/console/cases?status=retrying&destination={target}&replayed={len(replayed)}")


# --- customers and invoices --------------------------------------------------------------


@router.get("/console/customers")
async def customers(
    request: Request,
    viewer: Viewer,
    after: Annotated[str | None, Query(max_length=128)] = None,
    find: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    if find and find.strip():
        return back_to(f"/console/customers/{quote(find.strip(), safe='')}")
    found = await run_in_threadpool(container_of(request).customers.page, after=after, limit=PAGE)
    return render(
        request,
        "customers.html",
        customers=found,
        next_after=found[-1].id if len(found) == PAGE else None,
    )


@router.get("/console/customers/{customer_id}")
async def customer(request: Request, viewer: Viewer, customer_id: str) -> Response:
    container = container_of(request)
    found = await run_in_threadpool(container.customers.get, customer_id)
    invoices = await run_in_threadpool(
        container.billing.invoices, InvoiceFilter(customer_id=customer_id), after=None, limit=500
    )
    invoices.sort(key=lambda i: (i.period.start, i.issue_date, i.id), reverse=True)
    shown = invoices[:PAGE]
    postings = await run_in_threadpool(container.console_views.postings, [i.id for i in shown])
    signals = await run_in_threadpool(container.console_views.signals, customer_id)
    open_cases = await run_in_threadpool(
        container.console_views.open_cases, {customer_id, *(i.id for i in invoices)}
    )
    charts, quiet = await run_in_threadpool(_usage_charts, container, found)
    entitled = await run_in_threadpool(container.entitlements.snapshot, customer_id)
    alerts = await run_in_threadpool(container.thresholds.crossings, {customer_id}, None, PAGE)
    return render(
        request,
        "customer.html",
        customer=found,
        invoices=shown,
        more_invoices=len(invoices) - len(shown),
        postings=postings,
        signals=signals,
        cases=open_cases,
        charts=charts,
        quiet=quiet,
        entitled=entitled,
        alerts=alerts,
    )


def _usage_charts(container: Container, customer: Customer) -> tuple[dict[str, Markup], list[str]]:
    """A bar per day of the last :data:`USAGE_DAYS` days (in the customer's time zone) for each
    meter the customer used in them; the meters it did not use."""
    zone = ZoneInfo(customer.timezone)
    now = container.clock.now()
    first = (now - timedelta(days=USAGE_DAYS - 1)).astimezone(zone).date()
    start = datetime.combine(first, time(), zone)
    days = [first + timedelta(days=n) for n in range(USAGE_DAYS)]
    charts: dict[str, Markup] = {}
    quiet: list[str] = []
    for meter in container.settings.meters:
        request = UsageRequest([customer.id], meter.key, start, now, Window.DAY, customer.timezone)
        buckets = container.usage.usage(request)
        if not buckets:
            quiet.append(meter.key)
            continue
        by_day: dict[date, Decimal] = {}
        for bucket in buckets:  # one group: the meter's whole value per day
            day = bucket.start.astimezone(zone).date()
            by_day[day] = by_day.get(day, Decimal(0)) + bucket.value
        charts[meter.key] = bar_chart(
            [(f"{day:%Y-%m-%d}", float(by_day.get(day, 0))) for day in days],
            f"{meter.key} per day, last {USAGE_DAYS} days",
        )
    return charts, quiet


@router.get("/console/invoices")
async def invoices(
    request: Request,
    viewer: Viewer,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    container = container_of(request)
    found = await run_in_threadpool(
        container.billing.invoices, InvoiceFilter(status=status), after=after, limit=PAGE
    )
    postings = await run_in_threadpool(container.console_views.postings, [i.id for i in found])
    return render(
        request,
        "invoices.html",
        invoices=found,
        postings=postings,
        status=status,
        statuses=list(InvoiceStatus),
        next_after=found[-1].id if len(found) == PAGE else None,
    )


@router.get("/console/invoices/{invoice_id}")
async def invoice(request: Request, viewer: Viewer, invoice_id: str) -> Response:
    container = container_of(request)
    found = await run_in_threadpool(container.billing.invoice, invoice_id)
    postings = await run_in_threadpool(container.console_views.postings, [invoice_id])
    open_cases = await run_in_threadpool(container.console_views.open_cases, {invoice_id})
    return render(
        request,
        "invoice.html",
        invoice=found,
        posting=postings.get(invoice_id),
        cases=open_cases,
    )


@router.get("/console/invoices/{invoice_id}/lines/{key}/events")
async def line_events(
    request: Request,
    viewer: Viewer,
    invoice_id: str,
    key: str,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    line, events, next_seq = await run_in_threadpool(
        lambda: container_of(request).billing.line_events(
            invoice_id, key, after_seq=after, limit=PAGE
        )
    )
    return render(
        request,
        "line_events.html",
        invoice_id=invoice_id,
        line=line,
        events=[(e, from_micros(e.time_us)) for e in events],
        next_after=next_seq,
    )


# --- reconciliations ---------------------------------------------------------------------


@router.get("/console/reconciliations")
async def reconciliations(
    request: Request,
    viewer: Viewer,
    before: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    runs = await run_in_threadpool(
        container_of(request).reconciliation.runs, before=before, limit=PAGE
    )
    return render(
        request,
        "reconciliations.html",
        runs=runs,
        next_before=runs[-1].id if len(runs) == PAGE else None,
    )


@router.get("/console/reconciliations/{run_id}")
async def reconciliation(request: Request, viewer: Viewer, run_id: str) -> Response:
    run = await run_in_threadpool(container_of(request).reconciliation.get, run_id)
    if run is None:
        raise NotFound("reconciliation run", run_id)
    return render(request, "reconciliation.html", run=run)
