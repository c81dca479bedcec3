"""Deterministic sample data: companies (one in five a subsidiary, two levels deep at most),
each top-level one with an activated contract. The same seed gives the same data."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from revsync.sandbox.crm.store import Store

_FIRST = [
    "Northwind",
    "Blue Harbor",
    "Crescent",
    "Ironwood",
    "Silverline",
    "Redstone",
    "Bright Path",
    "Evergreen",
    "Lakeshore",
    "Summit",
    "Granite",
    "Copperleaf",
    "Tidewater",
    "Oakridge",
    "Starling",
    "Maple Grove",
    "Westbrook",
    "Falcon",
    "Cobalt",
    "Amberfield",
    "Pinecrest",
    "Harborview",
    "Kestrel",
    "Riverbend",
    "Sunfield",
    "Aurora",
    "Brightwater",
    "Highland",
]
_SECOND = [
    "Analytics",
    "Logistics",
    "Systems",
    "Health",
    "Robotics",
    "Foods",
    "Energy",
    "Media",
    "Software",
    "Labs",
    "Networks",
    "Retail",
    "Capital",
    "Biotech",
    "Devices",
    "Cloud",
    "Manufacturing",
    "Security",
    "Travel",
    "Learning",
]
_SUFFIX = ("Inc.", "Ltd", "GmbH", "SA", "LLC", "Group", "Corp.", "BV", "")
_REGIONS = ("EMEA", "APAC", "Americas", "Nordics", "DACH", "UK", "France", "Japan")
#: (country code, a city in it) — BillingCountry holds ISO 3166-1 codes, as orgs with country
#: picklists do
_COUNTRIES = [
    ("US", "Austin"),
    ("DE", "Berlin"),
    ("FR", "Lyon"),
    ("GB", "Leeds"),
    ("NL", "Utrecht"),
    ("JP", "Osaka"),
    ("CA", "Toronto"),
    ("SE", "Malmö"),
    ("ES", "Valencia"),
    ("AU", "Perth"),
]
_INDUSTRIES = ("Technology", "Healthcare", "Retail", "Manufacturing", "Finance", "Media")
#: plan → (weight, seats range)
_PLANS = {"starter": (5, (3, 15)), "growth": (3, (15, 120)), "enterprise": (1, (100, 1500))}
#: every fifth account is a subsidiary; every other subsidiary hangs under another one
_CHILD_EVERY = 5


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What seeding created."""

    accounts: int
    children: int
    contracts: int


def _company(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {rng.choice(_SUFFIX)}".strip()
        if name not in taken:
            taken.add(name)
            return name
        if len(taken) > len(_FIRST) * len(_SECOND) * len(_SUFFIX) // 2:
            name = f"{name} {len(taken)}"
            taken.add(name)
            return name


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name} {number}"
    taken.add(candidate)
    return candidate


def _pick_parent(
    rng: random.Random, depth: dict[str, int], number: int, children: int
) -> str | None:
    """The parent of account ``number`` (from 1), or None for a top-level account."""
    if number % _CHILD_EVERY:
        return None
    second_level = [i for i, d in depth.items() if d == 1] if children % 2 else []
    return rng.choice(second_level or [i for i, d in depth.items() if d == 0])


def _website(name: str) -> str:
    slug = "".join(c for c in "".join(name.lower().split()[:2]) if c.isalnum())
    return f"https://www.{slug}.example"


def _contract_values(rng: random.Random, account_id: str, as_of: date) -> dict[str, object]:
    plans = list(_PLANS)
    plan = rng.choices(plans, weights=[_PLANS[p][0] for p in plans])[0]
    low, high = _PLANS[plan][1]
    months_ago = rng.randrange(0, 12)
    month_index = as_of.year * 12 + as_of.month - 1 - months_ago
    start = date(month_index // 12, month_index % 12 + 1, 1)
    renewal = date(start.year + 1, start.month, 1)
    return {
        "AccountId": account_id,
        "Status": "Activated",
        "StartDate": start.isoformat(),
        "ContractTerm": 12,
        "Plan__c": plan,
        "Seats__c": rng.randint(low, high),
        "Renewal_Date__c": renewal.isoformat(),
        "Description": f"{plan.title()} plan",
    }


def seed(store: Store, count: int, seed_value: int, as_of: date) -> SeedReport:
    """Create ``count`` accounts (``cust-0001``…) and their contracts in one transaction."""
    rng = random.Random(f"revsync-crm-{seed_value}")
    taken: set[str] = set()
    depth: dict[str, int] = {}
    names: dict[str, str] = {}
    children = contracts = 0
    with store.transaction():
        for number in range(1, count + 1):
            parent = _pick_parent(rng, depth, number, children)
            country, city = rng.choice(_COUNTRIES)
            if parent is None:
                name = _company(rng, taken)
            elif depth[parent] == 0:
                name = _unique(f"{names[parent]} {rng.choice(_REGIONS)}", taken)
            else:
                name = _unique(f"{names[parent]} {city}", taken)
            values: dict[str, object] = {
                "Name": name,
                "Type": "Customer",
                "Industry": rng.choice(_INDUSTRIES),
                "BillingCountry": country,
                "BillingCity": city,
                "NumberOfEmployees": rng.randint(10, 20000),
                "Website": _website(name),
                "Revsync_Customer_Id__c": f"cust-{number:04d}",
                "ParentId": parent,
            }
            account = store.create("Account", values)
            names[account["Id"]] = name
            depth[account["Id"]] = 0 if parent is None else depth[parent] + 1
            if parent is not None:
                children += 1
                continue
            store.create("Contract", _contract_values(rng, account["Id"], as_of))
            contracts += 1
    return SeedReport(count, children, contracts)
