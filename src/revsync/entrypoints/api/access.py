"""Who may call what: one table of every route's role and customer reach.

Every route but those in :data:`PUBLIC` is in :data:`RULES`, the API's and the console's; a
test checks that the table and the application's routes are the same set. The dependency
:func:`authorised` finds the route's rule, checks the key's roles and reach and its rate limit,
and hands the key to the route; routes that read or write one customer's data check it with
:func:`check_customer`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Final

import structlog
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from revsync.application.ingestion import PreparedBatch
from revsync.bootstrap import Container
from revsync.domain.apikeys import ApiKey, Role
from revsync.domain.errors import NotFound
from revsync.domain.problems import Code, Problem
from revsync.entrypoints.api.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="revsync"'}


class Reach(Enum):
    """How a route stands towards keys limited to some customers."""

    #: no customer's data (the plan catalogue, the API's document): open to them
    NONE = "none"
    #: one customer's data, or a list the route narrows to the key's customers: open to them
    CHECKED = "checked"
    #: acts on, or shows, every customer's data: refused to them
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Rule:
    """The role a route needs and how it treats customer-limited keys."""

    role: Role
    reach: Reach


_R, _F, _O, _A = Role.READ, Role.FINANCE, Role.OPS, Role.ADMIN

#: (method, path) → rule, for every route that needs a key
RULES: Final[dict[tuple[str, str], Rule]] = {
    # usage in
    ("POST", "/v1/events"): Rule(Role.INGEST, Reach.CHECKED),
    ("GET", "/v1/customers/{customer_id}/usage"): Rule(_R, Reach.CHECKED),
    ("GET", "/v1/usage/unmapped"): Rule(_O, Reach.ALL),
    ("POST", "/v1/usage/corrections"): Rule(_F, Reach.ALL),
    # customers
    ("GET", "/v1/customers"): Rule(_R, Reach.CHECKED),
    ("GET", "/v1/customers/{customer_id}"): Rule(_R, Reach.CHECKED),
    ("PUT", "/v1/customers/{customer_id}"): Rule(_A, Reach.ALL),
    # the catalogue
    ("GET", "/v1/plans"): Rule(_R, Reach.NONE),
    ("GET", "/v1/plans/{code}"): Rule(_R, Reach.NONE),
    ("PUT", "/v1/plans/{code}"): Rule(_A, Reach.ALL),
    ("PUT", "/v1/coupons/{code}"): Rule(_A, Reach.ALL),
    # subscriptions and billing
    ("GET", "/v1/subscriptions/{subscription_id}"): Rule(_R, Reach.CHECKED),
    ("PUT", "/v1/subscriptions/{subscription_id}"): Rule(_F, Reach.ALL),
    ("POST", "/v1/subscriptions/{subscription_id}/amendments"): Rule(_F, Reach.ALL),
    ("POST", "/v1/subscriptions/{subscription_id}/coupons"): Rule(_F, Reach.ALL),
    ("PUT", "/v1/subscriptions/{subscription_id}/thresholds"): Rule(_F, Reach.ALL),
    ("GET", "/v1/alerts"): Rule(_R, Reach.CHECKED),
    ("POST", "/v1/billing-runs"): Rule(_F, Reach.ALL),
    ("GET", "/v1/invoices"): Rule(_R, Reach.CHECKED),
    ("GET", "/v1/invoices/{invoice_id}"): Rule(_R, Reach.CHECKED),
    ("GET", "/v1/invoices/{invoice_id}/lines/{key}/events"): Rule(_R, Reach.CHECKED),
    ("POST", "/v1/invoices/{invoice_id}/void"): Rule(_F, Reach.ALL),
    ("POST", "/v1/invoices/{invoice_id}/credit-notes"): Rule(_F, Reach.ALL),
    ("GET", "/v1/customers/{customer_id}/upcoming-invoice"): Rule(_R, Reach.CHECKED),
    # a shadow re-rate reads invoices and plans and writes nothing; a limited key re-rates
    # its own customers only
    ("POST", "/v1/rerates"): Rule(_R, Reach.CHECKED),
    ("GET", "/v1/customers/{customer_id}/credits"): Rule(_R, Reach.CHECKED),
    # entitlements (a product checks with a read key, limited to its customers or not)
    ("GET", "/v1/customers/{customer_id}/entitlements"): Rule(_R, Reach.CHECKED),
    ("POST", "/v1/entitlements/check"): Rule(_R, Reach.CHECKED),
    ("POST", "/v1/customers/{customer_id}/credits"): Rule(_F, Reach.ALL),
    ("GET", "/v1/reports/deferred-revenue"): Rule(_R, Reach.ALL),
    ("GET", "/v1/collections"): Rule(_R, Reach.ALL),
    ("GET", "/v1/renewals"): Rule(_R, Reach.ALL),
    # exception cases and operations
    ("GET", "/v1/cases"): Rule(_R, Reach.ALL),
    ("GET", "/v1/cases/{case_id}"): Rule(_R, Reach.ALL),
    ("POST", "/v1/cases/{case_id}/approve"): Rule(_F, Reach.ALL),
    ("POST", "/v1/cases/{case_id}/retry"): Rule(_O, Reach.ALL),
    ("POST", "/v1/cases/{case_id}/resolve"): Rule(_O, Reach.ALL),
    ("POST", "/v1/cases/{case_id}/ignore"): Rule(_O, Reach.ALL),
    ("POST", "/v1/cases/replay"): Rule(_O, Reach.ALL),
    ("GET", "/v1/dead-letters"): Rule(_O, Reach.ALL),
    ("GET", "/metrics"): Rule(Role.METRICS, Reach.ALL),
    ("GET", "/v1/operations/kpis"): Rule(_R, Reach.ALL),
    # administration
    ("GET", "/v1/api-keys"): Rule(_A, Reach.ALL),
    ("POST", "/v1/api-keys"): Rule(_A, Reach.ALL),
    ("DELETE", "/v1/api-keys/{key_id}"): Rule(_A, Reach.ALL),
    ("GET", "/v1/audit"): Rule(_A, Reach.ALL),
    ("GET", "/v1/openapi.json"): Rule(_R, Reach.NONE),
    # the schema registry (no customer's data, but it decides what every customer's usage is)
    ("GET", "/v1/schemas"): Rule(_R, Reach.NONE),
    ("GET", "/v1/schemas/{event_type}/versions/{version}"): Rule(_R, Reach.NONE),
    ("PUT", "/v1/schemas/{event_type}/versions/{version}"): Rule(_A, Reach.NONE),
    ("POST", "/v1/schemas/quarantine/release"): Rule(_O, Reach.ALL),
    # reconciliation (every customer's documents)
    ("POST", "/v1/reconciliations"): Rule(_O, Reach.ALL),
    ("GET", "/v1/reconciliations"): Rule(_R, Reach.ALL),
    ("GET", "/v1/reconciliations/{run_id}"): Rule(_R, Reach.ALL),
    # the operations console (entrypoints/console: signed in with a key, session cookie);
    # every page shows or acts on every customer's data, and each action needs the role its
    # API route needs
    ("GET", "/console/"): Rule(_R, Reach.ALL),
    ("GET", "/console/cases"): Rule(_R, Reach.ALL),
    ("GET", "/console/cases/{case_id}"): Rule(_R, Reach.ALL),
    ("POST", "/console/cases/{case_id}/retry"): Rule(_O, Reach.ALL),
    ("POST", "/console/cases/{case_id}/approve"): Rule(_F, Reach.ALL),
    ("POST", "/console/cases/{case_id}/resolve"): Rule(_O, Reach.ALL),
    ("POST", "/console/cases/{case_id}/ignore"): Rule(_O, Reach.ALL),
    ("POST", "/console/cases/replay"): Rule(_O, Reach.ALL),
    ("GET", "/console/customers"): Rule(_R, Reach.ALL),
    ("GET", "/console/customers/{customer_id}"): Rule(_R, Reach.ALL),
    ("GET", "/console/invoices"): Rule(_R, Reach.ALL),
    ("GET", "/console/invoices/{invoice_id}"): Rule(_R, Reach.ALL),
    ("GET", "/console/invoices/{invoice_id}/lines/{key}/events"): Rule(_R, Reach.ALL),
    ("GET", "/console/reconciliations"): Rule(_R, Reach.ALL),
    ("GET", "/console/reconciliations/{run_id}"): Rule(_R, Reach.ALL),
    ("POST", "/console/sign-out"): Rule(_R, Reach.ALL),
}

#: routes that answer without a key (``/docs`` is a page that asks for one to load the document;
#: the console's sign-in form and its style sheet)
PUBLIC: Final = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/docs"),
        ("GET", "/console/sign-in"),
        ("POST", "/console/sign-in"),
        ("GET", "/console/console.css"),
        # the support tool's webhook: signed with the webhook's secret, not a key
        ("POST", "/v1/support/webhook"),
    }
)

log = structlog.get_logger("revsync.access")


def rule_for(request: Request) -> Rule:
    """The rule of the route this request matched."""
    route = request.scope.get("route")
    # the request's URL only when no route matched: building it costs more than the rest
    path = getattr(route, "path", None) or request.url.path
    method = "GET" if request.method == "HEAD" else request.method
    rule = RULES.get((method, path))
    if rule is None:  # a route missing from the table is a bug: refuse rather than open it
        log.error("route without an access rule", method=method, path=path)
        raise ApiError(403, "forbidden", f"{method} {path} is open to no key")
    return rule


async def authorised(request: Request) -> ApiKey:
    """The dependency of every keyed route: an active key whose roles grant the route's role
    and, for a key limited to customers, a route open to it (401 / 403 / 429 otherwise)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "missing API key: send 'Authorization: Bearer <key>'",
            headers=_CHALLENGE,
        )
    container: Container = request.app.state.container
    presented = token.strip()
    key = container.api_keys.remembered(presented)
    if key is None:  # the database, off the event loop
        key = await run_in_threadpool(container.api_keys.authenticate, presented)
    if key is None:
        raise ApiError(401, "unauthorized", "invalid or revoked API key", headers=_CHALLENGE)
    await admit(request, key)
    return key


async def admit(request: Request, key: ApiKey) -> None:
    """Let ``key`` through to the route this request matched: its roles grant the route's
    role, its reach allows the route, and it is within its rate limit (403 / 429 otherwise).
    The API's keyed routes and the console's pages both come through here."""
    container: Container = request.app.state.container
    request.state.actor = f"api_key:{key.id}"
    structlog.contextvars.bind_contextvars(api_key=key.id)
    rule = rule_for(request)
    if not key.allows(rule.role):
        raise ApiError(403, "forbidden", f"this API key lacks the '{rule.role.value}' role")
    request.state.reach = None
    if key.limited:
        if rule.reach is Reach.ALL:
            raise ApiError(
                403,
                "forbidden",
                "this API key is limited to some customers, and this route acts on every "
                "customer's data",
            )
        request.state.reach = await run_in_threadpool(container.api_keys.reach, key)
    verdict = await container.rate_limits.admit_key(key.id)
    if verdict is not None:
        request.state.rate_limit = verdict.headers()  # put on the answer by Announcements
        if not verdict.allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"this API key is over its limit of {verdict.limit} requests per "
                f"{verdict.window_seconds} s; retry after {verdict.headers()['Retry-After']} s",
                headers=verdict.headers(),
            )


#: a route parameter holding the caller's key, authorised by :data:`RULES`
Key = Annotated[ApiKey, Depends(authorised)]


def reach_of(request: Request) -> frozenset[str] | None:
    """The customers the caller's key reaches, ``None`` for all."""
    reach: frozenset[str] | None = getattr(request.state, "reach", None)
    return reach


def check_reach(request: Request, customer_id: str, kind: str, ident: str) -> None:
    """Answer 404 for the ``kind`` ``ident``, as if it did not exist, when it belongs to a
    customer beyond the key's reach: a limited key learns nothing of other customers."""
    reach = reach_of(request)
    if reach is not None and customer_id not in reach:
        raise NotFound(kind, ident)


async def admit_tenants(container: Container, batch: PreparedBatch) -> PreparedBatch:
    """The batch without the events of product tenants over their rate limit (each refused
    in the report, ``rate_limited``); a tenant's events in one batch are counted together."""
    counts = Counter(c.event.subject for c in batch.candidates)
    over: dict[str, Problem] = {}
    for tenant, count in counts.items():
        verdict = await container.rate_limits.admit_events(tenant, count)
        if verdict is None:
            return batch  # no per-tenant limit configured
        if not verdict.allowed:
            over[tenant] = Problem(
                Code.RATE_LIMITED,
                f"subject: tenant {tenant!r} is over its limit of {verdict.limit} events per "
                f"{verdict.window_seconds} s; send them again in {max(1, verdict.reset_seconds)} s",
            )
    return container.ingestion.refuse_tenants(batch, over) if over else batch
