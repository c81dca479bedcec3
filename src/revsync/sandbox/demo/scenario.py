"""The demo's world: a B2B SaaS company's last quarter — its plans and meters, the CRM's
accounts and contracts (seeded, then dated into the quarter), and daily usage by tenant,
feature and environment, with the faults a real quarter brings (duplicates, malformed events,
a tenant nobody mapped yet, a late event)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from revsync.domain.periods import shift_months

#: the product's features and environments; usage is reported per day for each pair
FEATURES = ("search", "export", "assistant")
ENVIRONMENTS = ("production", "staging")
#: CRM plan names → revsync plans
CRM_PLANS = {"starter": "starter", "growth": "growth", "enterprise": "enterprise"}
#: what each plan includes of api_calls a month (the usage profiles are drawn against it)
INCLUDED = {"starter": 10_000, "growth": 200_000, "enterprise": 2_000_000}
#: the growth plan's usage thresholds: its customers' account owners hear, once a month each,
#: when 80% and when all of the API calls the plan includes are used (docs/thresholds.md)
THRESHOLDS: list[dict[str, Any]] = [
    {"key": "calls-80pct", "kind": "percent", "meter": "api_calls", "value": "80"},
    {"key": "calls-100pct", "kind": "percent", "meter": "api_calls", "value": "100"},
]
#: this month so far, for two growth customers: the share of the included API calls each
#: batch brings (the first customer reaches 80% in the first batch and stays below 100%, the
#: second reaches both thresholds at once in the second)
MONTH_SO_FAR = ((0.85, 0.05), (0.60, 0.45))
#: standard VAT / sales tax of the seeded countries
TAX_RATES = {
    "AU": "10",
    "CA": "5",
    "DE": "19",
    "ES": "21",
    "FR": "20",
    "GB": "20",
    "JP": "10",
    "NL": "21",
    "SE": "25",
    "US": "0",
}

METERS: list[dict[str, Any]] = [
    {
        "key": "api_calls",
        "event_type": "api.usage",
        "aggregation": "sum",
        "value": "calls",
        "group_by": ["feature", "environment"],
    },
    {
        "key": "llm_tokens",
        "event_type": "llm.usage",
        "aggregation": "sum",
        "value": "tokens",
        "filters": {"environment": "production"},
    },
]

#: what every plan lets a customer do besides its usage: the collections ladder suspends the
#: data export of a customer at dunning level 3 until it pays
FEATURE_GRANTS: list[dict[str, Any]] = [
    {"key": "sso", "kind": "boolean"},
    {"key": "data_export", "kind": "boolean"},
]
#: the demo's dunning levels, in days past due: short enough that the oldest unpaid invoice
#: (dated the quarter's second month: the first month's are rolled forward into it) passes all
#: three before today, whatever the day of the month
DUNNING_DAYS = [5, 15, 25]
#: the collections ladder: a task for the owner, then one for the success manager and the
#: tickets flagged, then the data export suspended
RUNGS: list[dict[str, Any]] = [
    {"level": 1, "task": "owner"},
    {"level": 2, "task": "success_manager", "flag_tickets": True},
    {"level": 3, "entitlements": "suspend", "features": ["data_export"]},
]

PLANS: list[dict[str, Any]] = [
    {
        "code": "starter",
        "name": "Starter",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {"key": "platform", "model": "flat", "description": "Platform", "amount": "49.00"},
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
        "features": FEATURE_GRANTS,
    },
    {
        "code": "growth",
        "name": "Growth",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {"key": "seats", "model": "per_seat", "description": "Seats", "amount": "12.00"},
            {
                "key": "calls",
                "model": "allowance",
                "description": "API calls",
                "meter": "api_calls",
                "included": "200000",
                "amount": "0.0015",
            },
            {
                "key": "tokens",
                "model": "per_unit",
                "description": "Assistant tokens",
                "meter": "llm_tokens",
                "amount": "0.000002",
            },
        ],
        "thresholds": THRESHOLDS,
        "features": FEATURE_GRANTS,
    },
    {
        "code": "enterprise",
        "name": "Enterprise (annual)",
        "currency": "EUR",
        "interval": "year",
        "usage_interval": "month",
        "charges": [
            {
                "key": "platform",
                "model": "flat",
                "description": "Enterprise platform, annual",
                "timing": "in_advance",
                "amount": "24000.00",
            },
            {
                "key": "calls",
                "model": "allowance",
                "description": "API calls",
                "meter": "api_calls",
                "included": "2000000",
                "amount": "0.001",
            },
        ],
        "features": FEATURE_GRANTS,
    },
]

#: the CRM's products, each a recurring charge of a plan (``quote_to_cash.products``)
DEAL_PRODUCTS = {
    "GROWTH-SEAT": {"plan": "growth", "charge": "seats"},
    "STARTER-PLATFORM": {"plan": "starter", "charge": "platform"},
}

POSTING_RULES = [
    {"product": "SAAS", "account": "4.1.2"},
    {"product": "USAGE", "account": "4.1.2", "kind": "usage"},
    {"product": "ANNUAL", "account": "4.2.2", "charge": "enterprise:platform"},
]


@dataclass(frozen=True, slots=True)
class Quarter:
    """The three complete months before today's month."""

    start: date
    end: date  # exclusive: the first day of this month

    @classmethod
    def before(cls, today: date) -> Quarter:
        end = today.replace(day=1)
        return cls(shift_months(end, -3), end)

    @property
    def months(self) -> list[date]:
        return [shift_months(self.start, n) for n in range(3)]

    def days(self) -> Iterator[date]:
        day = self.start
        while day < self.end:
            yield day
            day += timedelta(days=1)


def write_config(
    path: Path,
    *,
    erp_url: str,
    erp_database: str,
    crm_url: str,
    crm_cert: Path,
    support_url: str,
    support_cert: Path,
    support_email: str,
    quarter: Quarter,
    today: date,
    events: dict[str, Any] | None = None,
) -> None:
    """The demo's revsync.yaml: SQLite beside it, the meters and plans, tax, the local ERP, the
    CRM and support sandboxes and the collections ladder (secrets come from the environment,
    written by the demo); with ``events``
    (the ``events`` section: ``nats_url``…), revsync's event stream too."""
    config = {
        "database": {"url": "sqlite:///revsync.db"},
        "logging": {"level": "WARNING", "format": "console"},
        "plans": PLANS,
        "billing": {"grace_period_hours": 0},
        "tax": {"rates": {country: {"standard": rate} for country, rate in TAX_RATES.items()}},
        "erp": {
            "url": erp_url,
            "database": erp_database,
            "password_env": "REVSYNC_DEMO_ERP_PASSWORD",
            "company": "Nimbus SaaS",
            "fiscal_years": sorted({quarter.start.year, today.year, today.year + 1}),
            "posting_rules": POSTING_RULES,
            "retry": {"base_seconds": 0.2, "max_delay_seconds": 1},
            "circuit": {"failure_threshold": 5, "open_seconds": 2},
            "sync_interval_seconds": 60,
            "dunning_days": DUNNING_DAYS,
        },
        "crm": {
            "url": crm_url,
            "ca_file": str(crm_cert),
            "client_secret_env": "REVSYNC_DEMO_CRM_SECRET",
            "plans": CRM_PLANS,
            "overlap_seconds": 0,
            "limit_pause_seconds": 0.5,
            "retry": {"base_seconds": 0.2, "max_delay_seconds": 1},
        },
        "support": {
            "url": support_url,
            "ca_file": str(support_cert),
            "email": support_email,
            "token_env": "REVSYNC_DEMO_SUPPORT_TOKEN",
            "overlap_seconds": 0,
            "retry": {"base_seconds": 0.2, "max_delay_seconds": 1},
        },
        "collections": {"rungs": RUNGS},
        "quote_to_cash": {"products": DEAL_PRODUCTS, "won_since": quarter.start.isoformat()},
        "outbox": {"allow_private_hosts": ["127.0.0.1"]},
        "worker": {"lease_seconds": 60, "poll_seconds": 0.02},
        **({"events": events} if events else {}),
        "meters": METERS,  # last, so that a meter can be added at the end of the file
    }
    path.write_text(
        "# written by `revsync demo`: the demo's own install (docs/configuration.md)\n"
        + yaml.safe_dump(config, sort_keys=False)
    )


def date_contracts(
    contracts: Sequence[dict[str, Any]], quarter: Quarter, today: date
) -> dict[str, dict[str, Any]]:
    """New contract dates: most started at the quarter's start, some were signed during it; a
    third renew within the next three months (so renewal readiness has something to say)."""
    rng = random.Random("revsync-demo-contracts")
    changes: dict[str, dict[str, Any]] = {}
    for number, contract in enumerate(sorted(contracts, key=lambda c: c["Id"])):
        start = quarter.start
        if number % 5 == 3:  # signed during the quarter
            start = quarter.start + timedelta(days=rng.randrange(20, 60))
        term = 12
        renewal = shift_months(start, term)
        if number % 3 == 0:
            renewal = today + timedelta(days=rng.randrange(20, 85))
        changes[contract["Id"]] = {
            "StartDate": start.isoformat(),
            "ContractTerm": term,
            "Renewal_Date__c": renewal.isoformat(),
        }
    return changes


def tenant_of(customer_id: str) -> str:
    """The product tenant of a demo customer."""
    return f"t-{customer_id}"


@dataclass(frozen=True, slots=True)
class Profile:
    """How much of its plan a tenant uses a month (a share of what the plan includes), and how
    that moves over the quarter."""

    share: float
    growth: float  # month over month


def profiles(customers: Sequence[tuple[str, str]]) -> dict[str, Profile]:
    """customer → profile: most use 40–110% of their plan, some run well above it (expansion),
    some hardly use it (adoption risk)."""
    rng = random.Random("revsync-demo-usage")
    found = {}
    for number, (customer, _plan) in enumerate(sorted(customers)):
        if number % 7 == 2:
            profile = Profile(rng.uniform(1.4, 2.2), rng.uniform(0.0, 0.15))  # heavy users
        elif number % 6 == 0:
            profile = Profile(rng.uniform(0.05, 0.2), rng.uniform(-0.3, -0.1))  # fading
        else:
            profile = Profile(rng.uniform(0.4, 1.1), rng.uniform(-0.05, 0.1))
        found[customer] = profile
    return found


def daily_usage(
    tenants: dict[str, tuple[str, Profile, date]], quarter: Quarter
) -> Iterator[dict[str, Any]]:
    """CloudEvents for each tenant, day, feature and environment (calls), and daily tokens;
    ``tenants``: tenant → (plan, profile, first day of use)."""
    rng = random.Random("revsync-demo-events")
    for tenant, (plan, profile, first) in sorted(tenants.items()):
        for day in quarter.days():
            if day < first:
                continue
            month = (day.year - quarter.start.year) * 12 + day.month - quarter.start.month
            monthly = INCLUDED[plan] * profile.share * (1 + profile.growth) ** month
            per_day = monthly / 30
            stamp = datetime(day.year, day.month, day.day, 18, tzinfo=UTC)
            for feature in FEATURES:
                for environment in ENVIRONMENTS:
                    weight = 0.45 if environment == "production" else 0.05
                    calls = int(per_day * weight * rng.uniform(0.8, 1.2) * 2 / 3)
                    yield _event(
                        f"{tenant}-{day.isoformat()}-{feature}-{environment}",
                        tenant,
                        stamp,
                        "api.usage",
                        {"calls": calls, "feature": feature, "environment": environment},
                    )
            if plan == "growth":
                yield _event(
                    f"{tenant}-{day.isoformat()}-tokens",
                    tenant,
                    stamp,
                    "llm.usage",
                    {"tokens": int(per_day * 40), "environment": "production"},
                )


def month_so_far(tenant: str, calls: int, moment: datetime, batch: int) -> list[dict[str, Any]]:
    """A batch of this month's API calls of a tenant, at ``moment`` (now: the open usage
    period the threshold watcher looks at), split over the features in production."""
    shares = (calls // len(FEATURES),) * (len(FEATURES) - 1)
    month = f"{moment:%Y-%m}"
    return [
        _event(
            f"{tenant}-{month}-so-far-{batch}-{feature}",
            tenant,
            moment,
            "api.usage",
            {"calls": part, "feature": feature, "environment": "production"},
        )
        for feature, part in zip(FEATURES, (*shares, calls - sum(shares)), strict=True)
    ]


def _event(
    event_id: str, tenant: str, moment: datetime, kind: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "app://nimbus",
        "type": kind,
        "subject": tenant,
        "time": moment.isoformat().replace("+00:00", "Z"),
        "data": data,
    }


def malformed(count: int, quarter: Quarter) -> list[dict[str, Any]]:
    """Events a buggy emitter sends: no time, a negative count, no subject."""
    day = datetime.combine(quarter.start, datetime.min.time(), UTC) + timedelta(days=10)
    broken: list[dict[str, Any]] = []
    for n in range(count):
        event = _event(f"broken-{n}", "t-unknown", day, "api.usage", {"calls": 5})
        match n % 3:
            case 0:
                del event["time"]
            case 1:
                event["specversion"] = "0.3"
            case _:
                del event["subject"]
        broken.append(event)
    return broken


def late_event(tenant: str, quarter: Quarter) -> dict[str, Any]:
    """A day of usage from the quarter's first month that arrives after it was invoiced."""
    day = quarter.start + timedelta(days=27)
    return _event(
        f"{tenant}-{day.isoformat()}-late",
        tenant,
        datetime(day.year, day.month, day.day, 23, tzinfo=UTC),
        "api.usage",
        {"calls": 25_000, "feature": "export", "environment": "production"},
    )
