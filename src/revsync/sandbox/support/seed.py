"""Deterministic sample data: organizations (``org-00001``…) with their end-users and tickets —
varied status, priority, type, tags and custom field values, public comments and internal
notes — stamped on a timeline that starts on a fixed date. The same seed gives the same data."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from revsync.sandbox.support import accounts, tickets
from revsync.sandbox.support.fields import DEFAULT_CUSTOM_FIELDS, save_field
from revsync.sandbox.support.store import Store

#: the day seeded records start on (and the account, with its admin, is made the day before)
SEED_DATE = date(2026, 1, 5)
_FIRST = (
    *("Northwind", "Blue Harbor", "Crescent", "Ironwood", "Silverline", "Redstone", "Summit"),
    *("Evergreen", "Lakeshore", "Granite", "Copperleaf", "Tidewater", "Oakridge", "Falcon"),
)
_SECOND = (
    *("Analytics", "Logistics", "Systems", "Health", "Robotics", "Foods", "Energy", "Media"),
    *("Software", "Labs", "Networks", "Retail", "Capital", "Devices", "Cloud", "Travel"),
)
_PEOPLE = ("Ada", "Ben", "Chloé", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas")
_SURNAMES = ("Meyer", "Okafor", "Larsen", "Silva", "Novak", "Tanaka", "Dubois", "Khan", "Rossi")
_SUBJECTS = (
    "Invoice total does not match usage",
    "API calls rejected after plan change",
    "Request for a service credit",
    "Renewal quote needed",
    "Seats not updated after amendment",
    "Usage dashboard shows no data",
    "Payment failed, account on hold?",
    "How is overage calculated?",
)
_TAGS = ("billing", "usage", "renewal", "api", "vip", "overage", "payment", "onboarding")
_PLANS = ("plan_starter", "plan_growth", "plan_enterprise")
#: final status → weight
_STATUSES = {"new": 2, "open": 4, "pending": 2, "hold": 1, "solved": 3, "closed": 2}


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What seeding created."""

    organizations: int
    users: int
    tickets: int
    comments: int


def account_created(seed_date: date) -> datetime:
    """When the sandbox's account (its admin, its default fields) was made."""
    return datetime.combine(seed_date, time(0), UTC) - timedelta(days=1)


def create_account(store: Store, credentials_email: str, name: str, seed_date: date) -> int:
    """The admin agent the API token belongs to, and the default custom fields; its id."""
    with store.clock_set_to(lambda: account_created(seed_date)), store.transaction():
        admin = accounts.save_user(
            store,
            {"name": name, "email": credentials_email, "role": "admin", "verified": True},
            None,
        )
        for spec in DEFAULT_CUSTOM_FIELDS:
            options = [{"name": n, "value": v} for n, v in spec.options] or None
            payload: dict[str, Any] = {"type": spec.type, "title": spec.title}
            payload["description"] = spec.description
            if options:
                payload["custom_field_options"] = options
            save_field(store, payload, None)
    return int(admin["id"])


class _Timeline:
    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng, self.moment = rng, start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self) -> None:
        self.moment += timedelta(minutes=self.rng.randint(1, 30), seconds=self.rng.randint(0, 59))


def _company(rng: random.Random, taken: set[str], number: int) -> str:
    name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)}"
    if name in taken:
        name = f"{name} {number}"
    taken.add(name)
    return name


def _custom(rng: random.Random, ids: dict[str, int]) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = [
        {"id": ids["Plan"], "value": rng.choice(_PLANS)},
        {"id": ids["Health score"], "value": rng.randint(20, 100)},
    ]
    if rng.random() < 0.4:
        values.append(
            {
                "id": ids["Overdue amount"],
                "value": f"{rng.randint(50, 9000)}.{rng.randint(0, 99):02d}",
            }
        )
    if rng.random() < 0.5:
        renewal = SEED_DATE + timedelta(days=rng.randint(20, 300))
        values.append({"id": ids["Renewal date"], "value": renewal.isoformat()})
    return values


def seed(store: Store, count: int, seed_value: int, admin_id: int, seed_date: date) -> SeedReport:
    """Create ``count`` organizations with their users and tickets, in one transaction."""
    rng = random.Random(f"revsync-support-{seed_value}")
    timeline = _Timeline(rng, datetime.combine(seed_date, time(8), UTC))
    ids = {f["title"]: int(f["id"]) for f in store.all("ticket_field")}
    taken: set[str] = set()
    made = {"users": 0, "tickets": 0, "comments": 0}
    with store.clock_set_to(timeline), store.transaction():
        for number in range(1, count + 1):
            name = _company(rng, taken, number)
            slug = "".join(c for c in name.lower() if c.isalnum())
            org = accounts.save_organization(
                store,
                {
                    "name": name,
                    "external_id": f"org-{number:05d}",
                    "domain_names": [f"{slug}.example"],
                    "details": f"Customer since {2018 + rng.randrange(8)}",
                    "tags": [rng.choice(("smb", "mid_market", "enterprise"))],
                    "organization_fields": {"region": rng.choice(("emea", "amer", "apac"))},
                },
                None,
            )
            people = []
            for person in range(1, rng.randint(1, 2) + 1):
                timeline.advance()
                first, last = rng.choice(_PEOPLE), rng.choice(_SURNAMES)
                email = f"{first.lower()}.{last.lower()}{number}-{person}@{slug}.example"
                payload = {
                    "name": f"{first} {last}",
                    "email": email,
                    "external_id": f"user-{number:05d}-{person}",
                    "organization_id": org["id"],
                }
                people.append(accounts.save_user(store, payload, None)["id"])
            made["users"] += len(people)
            for _ in range(rng.randint(1, 4)):
                made["comments"] += _ticket(store, rng, timeline, ids, people, admin_id)
                made["tickets"] += 1
    return SeedReport(count, made["users"], made["tickets"], made["comments"])


def _ticket(
    store: Store,
    rng: random.Random,
    timeline: _Timeline,
    ids: dict[str, int],
    people: list[int],
    admin_id: int,
) -> int:
    """One ticket and its history; the number of comments it got."""
    timeline.advance()
    requester = rng.choice(people)
    payload: dict[str, Any] = {
        "subject": rng.choice(_SUBJECTS),
        "comment": {"body": "Hello, could you have a look at this?", "author_id": requester},
        "requester_id": requester,
        "priority": rng.choice((None, "low", "normal", "normal", "high", "urgent")),
        "type": rng.choice((None, "question", "problem", "incident", "task")),
        "tags": rng.sample(_TAGS, rng.randint(0, 3)),
        "custom_fields": _custom(rng, ids),
    }
    ticket_id = int(tickets.create_ticket(store, payload, requester).after["id"])
    final = rng.choices(list(_STATUSES), weights=list(_STATUSES.values()))[0]
    if final == "new":
        return 1
    comments = 1
    steps: list[dict[str, Any]] = [
        {"status": "open", "assignee_id": admin_id, "comment": {"body": "Looking into it."}},
    ]
    if rng.random() < 0.6:
        steps.append({"comment": {"body": "Checked the usage records.", "public": False}})
    if final in ("pending", "hold"):
        steps.append({"status": final})
    elif final in ("solved", "closed"):
        steps.append({"status": "solved", "comment": {"body": "Fixed; thanks for waiting."}})
    if final == "closed":
        steps.append({"status": "closed"})
    for step in steps:
        timeline.advance()
        tickets.update_ticket(store, ticket_id, step, admin_id)
        comments += "comment" in step
    return comments
