"""docs/asyncapi.yaml: what scripts/generate-asyncapi makes now, a well-formed AsyncAPI 3.0.0
document with a channel, a message and a payload type per announced event, and payload types
that fit the payloads revsync really builds (and refuse any drift)."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
import yaml

import revsync
from revsync.application.announcements import Announcer, PaymentNews
from revsync.application.billing import Progress
from revsync.application.crm import CrmSignals, _wire
from revsync.application.thresholds import ThresholdWatch
from revsync.bootstrap import crm_mapping
from revsync.config import Settings
from revsync.domain.crm import BillingStatus, MeterAdoption, Readiness, Risk, Signals
from revsync.domain.delivery import (
    ANNOUNCED_EVENTS,
    STREAM_EVENTS,
    CaseKind,
    CaseStatus,
    OutboundMessage,
)
from revsync.domain.identity import Customer, System, new_customer
from revsync.domain.invoicing import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Line,
    Lineage,
    LineKind,
    TaxLine,
    Totals,
)
from revsync.domain.periods import Period
from revsync.domain.pricing import plan_from_mapping
from revsync.domain.subscriptions import new_subscription
from revsync.domain.thresholds import ThresholdKind
from revsync.ports.delivery import Case, NewMessage
from revsync.ports.thresholds import CrossingRecord
from revsync.schemas.event_payloads_v1 import (
    EVENT_PAYLOADS,
    asyncapi_document,
    element_id,
    validate_payload,
)
from revsync.schemas.events_v1 import cloud_event
from tests.support.clock import FrozenClock

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "docs" / "asyncapi.yaml"
SCRIPT = ROOT / "scripts" / "generate-asyncapi"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document(revsync.__version__)


def resolve(document: dict[str, Any], ref: str) -> Any:
    """The node a local ``$ref`` (``#/a/b``, JSON Pointer escapes) points to, following
    ``$ref`` chains; KeyError when it points nowhere."""
    assert ref.startswith("#/"), f"not a local reference: {ref}"
    seen: set[str] = set()
    node: Any = document
    while True:
        if ref in seen:
            raise KeyError(f"reference loop at {ref}")
        seen.add(ref)
        node = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, dict) and set(node) == {"$ref"}:
            ref = node["$ref"]
            continue
        return node


def refs_in(node: Any) -> list[str]:
    """Every ``$ref`` value under ``node``."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs_in(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs_in(v)]
    return []


# --- the checked-in document -------------------------------------------------------------


def test_the_checked_in_document_is_what_the_generator_makes_now(tmp_path: Path) -> None:
    out = tmp_path / "asyncapi.yaml"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, cwd=ROOT)
    assert CHECKED_IN.exists(), "docs/asyncapi.yaml is missing: run scripts/generate-asyncapi"
    assert CHECKED_IN.read_text(encoding="utf-8") == out.read_text(encoding="utf-8"), (
        "docs/asyncapi.yaml is not what the payload types make now: run scripts/generate-asyncapi"
    )


def test_the_document_reads_back_as_generated(document: dict[str, Any]) -> None:
    assert yaml.safe_load(CHECKED_IN.read_text(encoding="utf-8")) == document
    assert asyncapi_document(revsync.__version__) == document  # deterministic
    assert document["info"]["version"] == revsync.__version__


def test_every_announced_event_has_a_channel_a_message_and_a_payload_type(
    document: dict[str, Any],
) -> None:
    assert set(EVENT_PAYLOADS) == set(ANNOUNCED_EVENTS)
    assert set(STREAM_EVENTS) <= set(ANNOUNCED_EVENTS)
    channels = {c["address"]: c for c in document["channels"].values()}
    messages = {m["name"]: m for m in document["components"]["messages"].values()}
    schemas = document["components"]["schemas"]
    for event_type in ANNOUNCED_EVENTS:
        channel = channels[f"revsync.events.{event_type}"]
        assert "events.subject_prefix" in channel["description"]
        message = messages[event_type]
        assert message["contentType"] == "application/cloudevents+json"
        data = message["payload"]["allOf"][1]["properties"]
        assert data["type"] == {"const": event_type}
        assert data["data"] == {
            "$ref": f"#/components/schemas/{EVENT_PAYLOADS[event_type].__name__}"
        }
        assert schemas[EVENT_PAYLOADS[event_type].__name__]["additionalProperties"] is False
    assert len(document["channels"]) == len(ANNOUNCED_EVENTS)
    assert len(document["operations"]) == len(ANNOUNCED_EVENTS)


def test_the_document_is_a_well_formed_asyncapi_3_document(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert {"title", "version", "description"} <= set(document["info"])
    assert document["servers"]["nats"]["protocol"] == "nats"
    assert document["servers"]["nats"]["host"] == "localhost:4222"
    id_pattern = r"^[A-Za-z0-9_\-]+$"  # channel, operation and component ids
    for section in (document["channels"], document["operations"], *document["components"].values()):
        for key in section:
            assert re.match(id_pattern, key), key
    for key, operation in document["operations"].items():
        assert operation["action"] == "send", key
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), key
        channel = resolve(document, channel_ref)
        assert "address" in channel
        for ref in operation["messages"]:
            # a message of an operation must be one of its channel's messages
            assert ref["$ref"].startswith(channel_ref + "/messages/"), key
            assert "payload" in resolve(document, ref["$ref"])
    for key, channel in document["channels"].items():
        for message in channel["messages"].values():
            assert "payload" in resolve(document, message["$ref"]), key
        for server in channel["servers"]:
            assert "protocol" in resolve(document, server["$ref"]), key
    for ref in refs_in(document):
        resolve(document, ref)  # every reference resolves, none leaves the document


def test_the_resolver_refuses_a_dangling_reference(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["operations"]["sendInvoicePaid"]["channel"]["$ref"] = "#/channels/invoicePayed"
    with pytest.raises(KeyError):
        resolve(broken, "#/operations/sendInvoicePaid/channel")


# --- the payloads revsync builds ---------------------------------------------------------


def customer() -> Customer:
    return new_customer(
        customer_id="acme",
        name="Acme GmbH",
        currency="EUR",
        timezone="Europe/Berlin",
        parent_id=None,
        refs={System.ERP: ["C-1001"], System.CRM: ["001A"]},
        country="DE",
    )


def invoice(*, number: str = "INV-000042", credits: str | None = None) -> Invoice:
    march = Period(date(2026, 3, 1), date(2026, 4, 1))
    usage = Line(
        key="usage:api_calls",
        kind=LineKind.USAGE,
        charge="api_calls",
        description="API calls",
        quantity=Decimal("12500"),
        unit_amount=Decimal("0.002"),
        amount=Decimal("25.00"),
        service=march,
        lineage=Lineage(
            meter="api_calls",
            start=datetime(2026, 2, 28, 23, tzinfo=UTC),
            end=datetime(2026, 3, 31, 22, tzinfo=UTC),
            customer_ids=("acme",),
            group=(("region", "eu"),),
            events=12500,
            events_hash="ab12",
        ),
    )
    seats = Line(
        key="recurring:seats",
        kind=LineKind.RECURRING,
        charge="seats",
        description="Seats",
        quantity=Decimal("10"),
        unit_amount=Decimal("20.00"),
        amount=Decimal("200.00"),
        service=march,
    )
    return Invoice(
        id="inv_1" if credits is None else "inv_2",
        customer_id="acme",
        subscription_id="sub_1",
        kind=InvoiceKind.ARREARS if credits is None else InvoiceKind.CREDIT_NOTE,
        period=march,
        currency="EUR",
        status=InvoiceStatus.FINALIZED,
        issue_date=date(2026, 4, 1),
        lines=(usage, seats),
        taxes=(TaxLine("standard", Decimal("0.19"), Decimal("225.00"), Decimal("42.75")),),
        totals=Totals(Decimal("225.00"), Decimal("0.00"), Decimal("42.75"), Decimal("267.75")),
        number=number,
        credits_invoice=credits,
    )


ANNOUNCER = Announcer(routes={kind: ["events"] for kind in ANNOUNCED_EVENTS})
OUTAGE = Case(
    id="case_0a1b",
    kind=CaseKind.OUTAGE,
    status=CaseStatus.OPEN,
    object_type="destination",
    object_id="erp",
    opened_at=NOW,
    updated_at=NOW,
    destination="erp",
    last_error="unavailable since 2026-03-02T09:00:00+00:00",
)
CLOSED = replace(
    OUTAGE,
    status=CaseStatus.RESOLVED,
    closed_at=NOW,
    closed_by="key:ops",
    reason="the ERP is back",
)


def only(messages: list[NewMessage]) -> NewMessage:
    assert len(messages) == 1
    return messages[0]


def signals(risks: tuple[Risk, ...] = ()) -> Signals:
    bills = BillingStatus("INV-000042", Decimal("267.75"), "EUR", "posted", True, "level 1")
    adoption = MeterAdoption("api_calls", Decimal("1500"), Decimal("1200"), Decimal("1000"))
    return Signals("acme", "001A", (adoption,), bills, None, Readiness.NOT_DUE, risks)


def crm_signals() -> CrmSignals:
    """The CRM push, for the payloads of its announcements (no storage needed)."""
    return CrmSignals(None, FrozenClock(NOW), None, ANNOUNCER, crm_mapping(Settings()))  # type: ignore[arg-type]


def threshold_crossed() -> NewMessage:
    """A spend threshold that billed at once, as the threshold watcher announces it."""
    plan = plan_from_mapping(
        {
            "name": "Pro",
            "currency": "EUR",
            "interval": "month",
            "charges": [
                {"key": "calls", "model": "per_unit", "description": "Calls", "amount": "0.01"}
                | {"meter": "api_calls"}
            ],
            "thresholds": [{"key": "spend-500", "kind": "spend", "value": "500", "invoice": True}],
        },
        code="pro",
        version=1,
    )
    march = Period(date(2026, 3, 1), date(2026, 4, 1))
    subscription = new_subscription(
        subscription_id="sub_1",
        customer_id="acme",
        start=march.start,
        plan=("pro", 1),
        interval=plan.interval,
        usage_interval=plan.usage_interval,
    )
    progress = Progress(
        subscription, customer(), plan, plan.thresholds, march, {}, Decimal("512.40"), [], (), 9
    )
    record = CrossingRecord(
        "sub_1",
        "spend-500",
        march.start,
        march.end,
        "acme",
        ThresholdKind.SPEND,
        None,
        Decimal("500"),
        Decimal("512.40"),
        "EUR",
        9,
        NOW,
        "inv_3",
    )
    watch = ThresholdWatch(None, None, None, ANNOUNCER, FrozenClock(NOW))  # type: ignore[arg-type]
    return only(watch._announce(progress, record, "INV-000003"))


def built() -> list[NewMessage]:
    """One message of each kind as revsync builds it."""
    payments = PaymentNews(ANNOUNCER)
    note = invoice(number="CN-000007", credits="inv_1")
    crm = crm_signals()
    values = _wire(signals().account_values(crm_mapping(Settings()).signal_fields))
    no_bills = Signals(
        "globex",
        "001B",
        (),
        BillingStatus(None, None, None, None, False, None),
        None,
        Readiness.NOT_DUE,
        (),
    )
    return [
        only(ANNOUNCER.invoice_finalized(invoice(), customer(), "run_1")),
        only(ANNOUNCER.invoice_finalized(note, customer(), None)),
        only(ANNOUNCER.invoice_voided(invoice(), note, "billed twice", None)),
        only(payments.paid(invoice(), "ERP-77", None)),
        only(payments.overdue(invoice(), "ERP-77", Decimal("267.75"), date(2026, 5, 1), "1", None)),
        only(payments.overdue(invoice(), "ERP-77", Decimal("267.75"), None, None, None)),
        only(
            ANNOUNCER.signals_updated(
                [
                    {"customer_id": "acme", "account_id": "001A", "values": values},
                    {
                        "customer_id": "globex",
                        "account_id": "001B",
                        "values": _wire(
                            no_bills.account_values(crm_mapping(Settings()).signal_fields)
                        ),
                    },
                ],
                None,
            )
        ),
        threshold_crossed(),
        only(ANNOUNCER.case_opened(OUTAGE)),
        only(ANNOUNCER.case_closed(CLOSED)),
        only(crm._risk_tasks(customer(), signals((Risk.OVERDUE,)), None, NOW.date())[0][1]),
        only(
            crm._expansions(
                customer(), signals(), {"api_calls": [date(2026, 1, 1), date(2026, 2, 1)]}
            )[0][1]
        ),
    ]


def test_the_payloads_revsync_builds_fit_their_types() -> None:
    messages = built()
    assert {m.kind for m in messages} == set(ANNOUNCED_EVENTS) - {
        "invoice.posted",
        "subscription.amended",
        "customer.activated",
        "collections.changed",
        "renewal.assessed",
        "onboarding.milestone",
        "deal.taken",
        "deal.refused",
    }
    for message in messages:
        data = validate_payload(message.kind, message.payload)
        assert isinstance(data, EVENT_PAYLOADS[message.kind])


def test_whole_events_validate_against_the_document(document: dict[str, Any]) -> None:
    """The CloudEvent on the wire against its message's payload schema, references and all."""
    for index, new in enumerate(built()):
        message = OutboundMessage(
            id=index,
            destination=new.destination,
            aggregate=new.aggregate,
            kind=new.kind,
            object_type=new.object_type,
            object_id=new.object_id,
            key=new.key,
            payload=new.payload,
            correlation_id=new.correlation_id,
            created_at=NOW,
            attempts=1,
            unsure=False,
            traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        event = msgspec.json.decode(msgspec.json.encode(cloud_event(message, "revsync")))
        schema = {**document, "$ref": f"#/components/messages/{element_id(new.kind)}/payload"}
        validator = jsonschema.Draft202012Validator(schema)
        validator.validate(event)
        assert not validator.is_valid({**event, "data": {**event["data"], "drift": 1}})
        assert not validator.is_valid({**event, "type": "something.else"})
        headers = {"Nats-Msg-Id": new.key, "Content-Type": "application/cloudevents+json"}
        jsonschema.Draft202012Validator(
            {**document, "$ref": "#/components/schemas/NatsHeaders"}
        ).validate(headers)


# --- the types built inside their transactions, by example (their end-to-end tests validate
# them as built) ----------------------------------------------------------------------------

EXAMPLES: dict[str, dict[str, Any]] = {
    "deal.taken": {
        "opportunity_id": "006A",
        "name": "Acme — Growth",
        "account_id": "001A",
        "customer": {
            "id": "acme",
            "name": "Acme GmbH",
            "country": "DE",
            "tax_exempt": False,
            "erp_ref": None,
        },
        "subscription_id": "opp-006A",
        "kind": "new",
        "status": "active",
        "currency": "EUR",
        "closed_on": "2026-11-30",
        "start": "2026-12-01",
        "plan": "growth@1",
        "seats": 10,
        "coupon": "crm-10pct",
        "lines": [
            {
                "key": "growth:seats",
                "product_code": "GROWTH-SEAT",
                "description": "Seats",
                "quantity": 10,
                "unit_price": "49.00",
                "discount": "10",
                "net_unit_price": "44.1000",
            }
        ],
    },
    "deal.refused": {
        "opportunity_id": "006B",
        "account_id": "001A",
        "customer_id": "acme",
        "reason": "Product2.ProductCode: unknown product X-1 (Widget): map it in "
        "quote_to_cash.products",
        "case_id": "case_1",
    },
    "invoice.posted": {
        "invoice_id": "inv_1",
        "customer_id": "acme",
        "number": "INV-000042",
        "erp_number": "ERP-77",
        "erp_invoice_id": "412",
        "erp_invoice_date": "2026-04-01",
        "rolled_forward_from": None,
        "total": "267.75",
        "currency": "EUR",
    },
    "subscription.amended": {
        "subscription_id": "sub_1",
        "customer_id": "acme",
        "change": "upgrade",
        "effective": "2026-03-15",
        "before": {
            "version": 1,
            "effective": "2026-01-01",
            "change": "created",
            "plan": "starter@1",
            "seats": 10,
            "trial_end": None,
            "ends": None,
        },
        "after": {
            "version": 2,
            "effective": "2026-03-15",
            "change": "upgrade",
            "plan": "pro@2",
            "seats": 10,
            "trial_end": None,
            "ends": "2027-01-01",
        },
    },
    "customer.activated": {
        "customer_id": "acme",
        "name": "Acme GmbH",
        "subscription_id": "sub_1",
        "plan": "starter@1",
        "seats": 10,
        "start": "2026-01-01",
    },
    "onboarding.milestone": {
        "key": "onboarding:sub_1:first_calls",
        "customer_id": "acme",
        "customer_name": "Acme GmbH",
        "account_id": None,
        "subscription_id": "sub_1",
        "milestone": "first_calls",
        "state": "missed",
        "meter": "api_calls",
        "at_least": "10",
        "used": "0",
        "start": "2026-11-10",
        "deadline": "2026-11-24",
    },
    "renewal.assessed": {
        "key": "renewal:sub_1:2027-02-25:60",
        "customer_id": "acme",
        "customer_name": "Acme GmbH",
        "account_id": "001A",
        "subscription_id": "sub_1",
        "plan": "growth@1",
        "renewal_date": "2027-02-25",
        "days": 58,
        "horizon": 60,
        "verdict": "expansion",
        "reasons": [
            "above the commitment: api_calls 150 of 100 (150%, flat)",
            "payments: 0 of 4 invoices dunned",
        ],
    },
    "collections.changed": {
        "customer_id": "acme",
        "customer_name": "Acme GmbH",
        "account_id": "001A",
        "level": 2,
        "previous_level": 1,
        "since": "2026-11-15",
        "reason": "dunning level 2 reached on 1 overdue invoices",
        "open_tasks": [
            {
                "key": "collections:acme:2026-11-15:2",
                "level": 2,
                "assignee": "success_manager",
                "subject": "revsync collections: dunning level 2 — Acme GmbH",
                "description": "For the success manager: …",
            }
        ],
        "close_tasks": [],
        "flag_tickets": True,
        "restriction": None,
        "overdue": [
            {
                "invoice_id": "inv_1",
                "number": "INV-000042",
                "erp_number": "ERP-77",
                "amount_due": "267.75",
                "currency": "EUR",
                "due_date": "2026-10-31",
                "dunning_level": "level 2",
            }
        ],
    },
}


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_the_new_types_fit_their_examples(event_type: str) -> None:
    data = validate_payload(event_type, EXAMPLES[event_type])
    assert msgspec.to_builtins(data) == EXAMPLES[event_type]


def test_a_rolled_forward_posting_fits() -> None:
    posted = {**EXAMPLES["invoice.posted"], "rolled_forward_from": "2026-03-31"}
    validate_payload("invoice.posted", posted)


# --- drift fails ---------------------------------------------------------------------------

DRIFTS = [
    ("invoice.paid", lambda d: {**d, "paid_at": "2026-04-02"}),  # an unknown field
    ("invoice.paid", lambda d: {k: v for k, v in d.items() if k != "erp_number"}),  # missing
    ("invoice.paid", lambda d: {**d, "total": 267.75}),  # money as a JSON number
    ("invoice.paid", lambda d: {**d, "total": "2.6775E+2"}),  # exponent notation
    ("invoice.overdue", lambda d: {**d, "due_date": "01.05.2026"}),  # not an ISO date
    ("invoice.finalized", lambda d: {**d, "customer": {**d["customer"], "vat": "DE1"}}),
    ("invoice.finalized", lambda d: {**d, "lines": [{**d["lines"][0], "extra": 1}]}),
    ("signals.updated", lambda d: {"accounts": [{**d["accounts"][0], "values": {"A": [1]}}]}),
    ("risk.raised", lambda d: {**d, "create_values": {**d["create_values"], "OwnerId": "x"}}),
]


@pytest.mark.parametrize(("event_type", "drift"), DRIFTS)
def test_a_payload_that_drifts_from_its_type_fails(event_type: str, drift: Any) -> None:
    payload = next(m.payload for m in built() if m.kind == event_type)
    validate_payload(event_type, payload)
    with pytest.raises(msgspec.ValidationError):
        validate_payload(event_type, drift(payload))


@pytest.mark.parametrize(
    ("event_type", "change"),
    [
        ("subscription.amended", {"change": "upgraded"}),
        (
            "subscription.amended",
            {"after": {**EXAMPLES["subscription.amended"]["after"], "seats": "10"}},
        ),
        ("customer.activated", {"plan": "starter"}),
        ("invoice.posted", {"erp_invoice_date": None}),
    ],
)
def test_a_new_type_refuses_what_does_not_fit(event_type: str, change: dict[str, Any]) -> None:
    with pytest.raises(msgspec.ValidationError):
        validate_payload(event_type, {**EXAMPLES[event_type], **change})
