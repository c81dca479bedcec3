"""The ``data`` of each event revsync announces (version 1), as types, and the AsyncAPI 3.0
document of revsync's event stream made from them (``docs/asyncapi.yaml``, written by
``scripts/generate-asyncapi``).

One ``msgspec.Struct`` per event type (:data:`EVENT_PAYLOADS`); each refuses unknown fields, so
a payload that drifts from its type fails :func:`validate_payload`. The types describe the JSON
on the wire: money and quantities are decimal strings (``plain_decimals`` writes every
``Decimal`` as one: ``"20.00"``), dates ISO ``YYYY-MM-DD``, ids strings. Docstrings and field
descriptions become the schemas' descriptions.

msgspec, not Pydantic: the wire schemas import only the domain and msgspec (the layer rule of
docs/architecture.md, tests/test_layers.py).
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from revsync.domain.delivery import ANNOUNCED_EVENTS, STREAM_EVENTS, CaseKind, CaseStatus
from revsync.domain.invoicing import InvoiceKind, InvoiceStatus, LineKind
from revsync.domain.subscriptions import Change
from revsync.domain.thresholds import ThresholdKind
from revsync.schemas.events_v1 import CONTENT_TYPE, SPEC_VERSION

DecimalText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^-?[0-9]+(\.[0-9]+)?$",
        description='A decimal number as a string, never in exponent notation ("20.00").',
    ),
]
Plan = Annotated[
    str,
    msgspec.Meta(pattern=r"^.+@[0-9]+$", description='The plan and its version: "code@version".'),
]
Currency = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.")
]


class _Wire(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A JSON object with exactly these fields."""


# --- invoices ---------------------------------------------------------------------------


class DatePeriod(_Wire):
    """Local dates ``[start, end)``."""

    start: date
    end: date


class UsageWindow(_Wire):
    """Instants ``[start, end)``."""

    start: datetime
    end: datetime


class LineLineage(_Wire):
    """The usage behind a line: meter, window, customers, group and events (their number and
    an order-independent hash of their ``(source, id)``)."""

    meter: str
    window: UsageWindow
    customer_ids: list[str]
    group: dict[str, str]
    events: int
    events_hash: str


class InvoiceLine(_Wire):
    """An invoice line; ``amount`` is rounded."""

    key: str
    kind: LineKind
    charge: str
    description: str
    quantity: DecimalText
    unit_amount: DecimalText
    amount: DecimalText
    service: DatePeriod
    tax_code: str
    lineage: LineLineage | None
    adjusts: Annotated[
        str | None, msgspec.Meta(description="``<invoice id>/<line key>`` of an adjusted line.")
    ]


class InvoicePart(_Wire):
    """A subscription's invoice a consolidated invoice bills: its lines are keyed
    ``<id>:<line key>`` there."""

    id: str
    subscription_id: str | None
    kind: InvoiceKind
    period: DatePeriod


class InvoiceTax(_Wire):
    """Tax on the lines of one tax code."""

    tax_code: str
    rate: DecimalText
    base: DecimalText
    amount: DecimalText


class InvoiceTotals(_Wire):
    """Sums of rounded amounts; ``amount_due`` is ``total`` less prepaid ``credits``."""

    subtotal: DecimalText
    discount: DecimalText
    tax: DecimalText
    total: DecimalText
    credits: DecimalText
    amount_due: DecimalText


class CustomerBlock(_Wire):
    """Who an announced document is for."""

    id: str
    name: str
    country: Annotated[str | None, msgspec.Meta(description="ISO 3166-1 alpha-2, if known.")]
    tax_exempt: bool
    erp_ref: Annotated[str | None, msgspec.Meta(description="The customer's id in the ERP.")]


class InvoiceDocument(_Wire):
    """An invoice or credit note, in full (as the API's invoice), with a ``customer`` block."""

    id: str
    number: Annotated[str | None, msgspec.Meta(description="Given at finalization.")]
    document: Literal["invoice", "credit_note"]
    kind: InvoiceKind
    status: InvoiceStatus
    customer_id: str
    subscription_id: str | None
    currency: Currency
    period: DatePeriod
    issue_date: date
    lines: list[InvoiceLine]
    taxes: list[InvoiceTax]
    totals: InvoiceTotals
    credits_invoice: Annotated[
        str | None, msgspec.Meta(description="A credit note: the invoice it credits.")
    ]
    consolidated_into: Annotated[
        str | None,
        msgspec.Meta(
            description="Billed on a consolidated invoice: its id (such an invoice is not "
            "announced itself: the consolidated one is)."
        ),
    ]
    parts: Annotated[
        list[InvoicePart],
        msgspec.Meta(description="A consolidated invoice: the invoices it bills (else none)."),
    ]
    customer: CustomerBlock


class InvoiceFinalized(InvoiceDocument):
    """``invoice.finalized``: an invoice got its number (the invoice, in full)."""


class CreditNoteIssued(InvoiceDocument):
    """``credit_note.issued``: a credit note was issued (the note, in full)."""


class InvoiceVoided(_Wire):
    """``invoice.voided``: an invoice was voided by a credit note."""

    invoice_id: str
    number: str | None
    credit_note_id: str
    credit_note_number: str | None
    reason: str


class InvoicePosted(_Wire):
    """``invoice.posted``: the ERP posted an invoice (its number and date there)."""

    invoice_id: str
    customer_id: str
    number: str | None
    erp_number: str
    erp_invoice_id: str
    erp_invoice_date: date
    rolled_forward_from: Annotated[
        date | None,
        msgspec.Meta(
            description="The invoice's own date, when the ERP dated it later (that period "
            "was closed)."
        ),
    ]
    total: DecimalText
    currency: Currency


class InvoicePaid(_Wire):
    """``invoice.paid``: the ERP reports an invoice paid."""

    invoice_id: str
    customer_id: str
    number: str | None
    erp_number: str
    total: DecimalText
    currency: Currency


class InvoiceOverdue(_Wire):
    """``invoice.overdue``: the ERP reports an invoice overdue, or a new dunning level for
    it."""

    invoice_id: str
    customer_id: str
    number: str | None
    erp_number: str
    amount_to_pay: DecimalText
    currency: Currency
    due_date: date | None
    dunning_level: str | None


class OverdueInvoice(_Wire):
    """An overdue invoice that puts the customer on its rung."""

    invoice_id: str
    number: str
    erp_number: str
    amount_due: DecimalText
    currency: Currency
    due_date: date | None
    dunning_level: str | None


class CollectionsTask(_Wire):
    """A CRM task a rung opens (for the account's owner or its success manager)."""

    key: Annotated[str, msgspec.Meta(description="revsync's key of the task.")]
    level: int
    assignee: Literal["owner", "success_manager"]
    subject: str
    description: str


class CollectionsTaskDone(_Wire):
    """A task of a rung left, completed."""

    key: str
    level: int


class CollectionsRestriction(_Wire):
    """The entitlement restriction in force."""

    policy: Literal["soft_limit", "suspend"]
    features: list[str]


class CollectionsChanged(_Wire):
    """``collections.changed``: a customer moved on the collections ladder (its rung: the
    highest ERP dunning level among its overdue invoices; 0 once the ERP says they are
    paid)."""

    customer_id: str
    customer_name: str
    account_id: Annotated[str | None, msgspec.Meta(description="The CRM account, if any.")]
    level: int
    previous_level: int
    since: Annotated[date | None, msgspec.Meta(description="When this time on the ladder began.")]
    reason: str
    open_tasks: list[CollectionsTask]
    close_tasks: list[CollectionsTaskDone]
    flag_tickets: Annotated[
        bool | None,
        msgspec.Meta(description="True: tag the open tickets; false: untag them; null: as is."),
    ]
    restriction: CollectionsRestriction | None
    overdue: list[OverdueInvoice]


class RenewalAssessed(_Wire):
    """``renewal.assessed``: a subscription's renewal reached a horizon; the assessment and its
    reasons (the CRM gets a task when at risk, an opportunity for an expansion)."""

    key: Annotated[
        str, msgspec.Meta(description="revsync's key of the assessment (one per horizon).")
    ]
    customer_id: str
    customer_name: str
    account_id: Annotated[str | None, msgspec.Meta(description="The CRM account, if any.")]
    subscription_id: str
    plan: Plan | None
    renewal_date: date
    days: Annotated[int, msgspec.Meta(description="Days from the assessment to the renewal.")]
    horizon: int
    verdict: Literal["at_risk", "healthy", "expansion"]
    reasons: list[str]


class OnboardingMilestone(_Wire):
    """``onboarding.milestone``: a new subscription reached an onboarding milestone, or its
    days passed without it (the CRM makes a task)."""

    key: Annotated[str, msgspec.Meta(description="revsync's key (one per milestone).")]
    customer_id: str
    customer_name: str
    account_id: Annotated[str | None, msgspec.Meta(description="The CRM account, if any.")]
    subscription_id: str
    milestone: str
    state: Literal["reached", "missed"]
    meter: str
    at_least: DecimalText
    used: Annotated[
        DecimalText, msgspec.Meta(description="The meter's usage since the start, when decided.")
    ]
    start: date
    deadline: Annotated[date, msgspec.Meta(description="The first day it counts as missed.")]


# --- quote-to-cash ----------------------------------------------------------------------


class DealLine(_Wire):
    """One thing a deal sold: a plan's recurring charge."""

    key: Annotated[str, msgspec.Meta(description='The plan and charge: "growth:seats".')]
    product_code: Annotated[str, msgspec.Meta(description="The CRM's product code.")]
    description: str
    quantity: int
    unit_price: Annotated[DecimalText, msgspec.Meta(description="The plan's price.")]
    discount: Annotated[DecimalText | None, msgspec.Meta(description="Percent off, if any.")]
    net_unit_price: Annotated[DecimalText, msgspec.Meta(description="Less the discount.")]


class DealTaken(_Wire):
    """``deal.taken``: a won CRM opportunity became a subscription (new business) or more
    seats on one (an add-on); the ERP places its sale order, the CRM hears the subscription."""

    opportunity_id: str
    name: str
    account_id: str
    customer: CustomerBlock
    subscription_id: str
    kind: Literal["new", "add_on"]
    status: Literal["active", "scheduled", "amended"]
    currency: Currency
    closed_on: date
    start: Annotated[date, msgspec.Meta(description="The first day of what it sold.")]
    plan: Plan
    seats: Annotated[int, msgspec.Meta(description="The subscription's seats from the start.")]
    coupon: Annotated[str | None, msgspec.Meta(description="The coupon of its discount.")]
    lines: list[DealLine]


class DealRefused(_Wire):
    """``deal.refused``: a won CRM opportunity revsync could not bill (nothing was made; an
    exception case holds it)."""

    opportunity_id: str
    account_id: str
    customer_id: str | None
    reason: str
    case_id: str


# --- customers and subscriptions --------------------------------------------------------


class CustomerActivated(_Wire):
    """``customer.activated``: a customer's first subscription was stored."""

    customer_id: str
    name: str
    subscription_id: str
    plan: Plan
    seats: int
    start: date


class TermsVersion(_Wire):
    """One version of a subscription's terms."""

    version: int
    effective: date
    change: Change
    plan: Plan
    seats: int
    trial_end: date | None
    ends: date | None


class SubscriptionAmended(_Wire):
    """``subscription.amended``: a subscription was amended (plan, seats, end…), from
    ``effective`` on; its terms before and after."""

    subscription_id: str
    customer_id: str
    change: Change
    effective: date
    before: TermsVersion
    after: TermsVersion


# --- usage thresholds -------------------------------------------------------------------


class ThresholdWatched(_Wire):
    """The threshold, as the plan or the subscription declares it."""

    key: str
    kind: ThresholdKind
    meter: str | None
    value: DecimalText
    invoice: bool


class ThresholdCrossed(_Wire):
    """``usage.threshold_crossed``: a usage, percent or spend threshold was reached in a usage
    period (once per subscription, threshold and period). ``limit`` is what reaching it means
    in the meter's units (or the currency, for spend), ``observed`` what stood there when the
    usage was read; a spend threshold that bills at once names its interim invoice."""

    customer_id: str
    customer_name: str
    crm_account_id: str | None
    subscription_id: str
    plan: Plan
    threshold: ThresholdWatched
    period: DatePeriod
    limit: DecimalText
    observed: DecimalText
    currency: Currency | None
    crossed_at: datetime
    interim_invoice_id: str | None
    interim_invoice_number: str | None


# --- exception cases --------------------------------------------------------------------


class _CaseChange(_Wire):
    case_id: str
    kind: CaseKind
    status: CaseStatus
    object_type: Annotated[
        str, msgspec.Meta(description="What it is about: message, destination, subscription…")
    ]
    object_id: str
    destination: str | None
    error: Annotated[str | None, msgspec.Meta(description="The case's last error.")]
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    reason: str | None


class CaseOpened(_CaseChange):
    """``case.opened``: an exception case was opened (or a closed one opened again)."""


class CaseResolved(_CaseChange):
    """``case.resolved``: an exception case was closed — ``status`` resolved, or ignored by an
    operator — by ``closed_by``, for ``reason``."""


# --- CRM signals ------------------------------------------------------------------------

SignalValue = str | int | bool | None


class AccountSignals(_Wire):
    """The changed signals of one customer, for its CRM account."""

    customer_id: str
    account_id: Annotated[str, msgspec.Meta(description="The CRM account's id.")]
    values: Annotated[
        dict[str, SignalValue],
        msgspec.Meta(
            description="CRM account field → value, the fields named by "
            "``crm.signal_fields`` (adoption, billing_status, last_invoice_amount (a decimal "
            "string), overdue, health_score, risk_flags, renewal_readiness)."
        ),
    ]


class SignalsUpdated(_Wire):
    """``signals.updated``: adoption, billing, health and renewal signals changed (up to 200
    customers)."""

    accounts: list[AccountSignals]


class RiskTask(_Wire, rename="pascal"):
    """The CRM task to create (CRM field names)."""

    subject: str
    status: str
    priority: str
    activity_date: date


class RiskRaised(_Wire):
    """``risk.raised``: a new risk for a customer (the CRM makes it a task)."""

    key: Annotated[str, msgspec.Meta(description="revsync's key of the task (one per risk).")]
    customer_id: str
    account_id: str
    create_values: RiskTask


class ExpansionOpportunity(_Wire, rename="pascal"):
    """The CRM opportunity to create (CRM field names)."""

    name: str
    stage_name: str
    close_date: date


class ExpansionDetected(_Wire):
    """``expansion.detected``: usage above the plan for several periods (the CRM makes it an
    opportunity)."""

    key: Annotated[
        str, msgspec.Meta(description="revsync's key of the opportunity (one per streak).")
    ]
    customer_id: str
    account_id: str
    create_values: ExpansionOpportunity


#: event type → the type of its ``data``
EVENT_PAYLOADS: dict[str, type[_Wire]] = {
    "invoice.finalized": InvoiceFinalized,
    "credit_note.issued": CreditNoteIssued,
    "invoice.voided": InvoiceVoided,
    "invoice.paid": InvoicePaid,
    "invoice.overdue": InvoiceOverdue,
    "collections.changed": CollectionsChanged,
    "renewal.assessed": RenewalAssessed,
    "onboarding.milestone": OnboardingMilestone,
    "deal.taken": DealTaken,
    "deal.refused": DealRefused,
    "signals.updated": SignalsUpdated,
    "risk.raised": RiskRaised,
    "expansion.detected": ExpansionDetected,
    "customer.activated": CustomerActivated,
    "usage.threshold_crossed": ThresholdCrossed,
    "subscription.amended": SubscriptionAmended,
    "invoice.posted": InvoicePosted,
    "case.opened": CaseOpened,
    "case.resolved": CaseResolved,
}


def validate_payload(event_type: str, data: Any) -> _Wire:
    """``data`` (JSON values, as a message carries them) read as its event type's payload;
    raises ``msgspec.ValidationError`` on a missing, unknown or mistyped field."""
    return msgspec.convert(data, EVENT_PAYLOADS[event_type])


# --- AsyncAPI -------------------------------------------------------------------------

ASYNCAPI_VERSION = "3.0.0"
DEFAULT_PREFIX = "revsync.events"
SERVER = "nats"
_SCHEMAS = "#/components/schemas/"

#: the CloudEvents 1.0 envelope of every event (``schemas/events_v1.cloud_event``)
CLOUD_EVENT_SCHEMA: dict[str, Any] = {
    "title": "CloudEvent",
    "description": "A CloudEvents 1.0 event in structured JSON mode: revsync's envelope of "
    "every event. ``data`` is the event type's payload.",
    "type": "object",
    "properties": {
        "specversion": {"const": SPEC_VERSION},
        "id": {
            "type": "string",
            "description": "The event's idempotency key: the same for every attempt to send it, "
            "and its Nats-Msg-Id.",
        },
        "source": {
            "type": "string",
            "description": "The revsync that sent it (``events.source``; default ``revsync``).",
        },
        "type": {"type": "string", "description": "The event type (``invoice.finalized``)."},
        "subject": {
            "type": "string",
            "description": "``<object type>/<object id>`` (``invoice/inv_…``).",
        },
        "time": {
            "type": "string",
            "format": "date-time",
            "description": "When revsync wrote it, in the transaction of the change (UTC, ``Z``).",
        },
        "datacontenttype": {"const": "application/json"},
        "data": {"type": "object"},
        "correlationid": {
            "type": "string",
            "description": "Extension: what caused it (a billing run, a sync, a request).",
        },
        "traceparent": {
            "type": "string",
            "description": "Extension (Distributed Tracing): the W3C trace context of the writer.",
        },
    },
    "required": [
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "data",
    ],
    "additionalProperties": False,
}

#: the NATS headers of every event
NATS_HEADERS_SCHEMA: dict[str, Any] = {
    "title": "NatsHeaders",
    "description": "The NATS message headers of an event.",
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "description": "The CloudEvent's id: JetStream stores a message id once within the "
            "stream's duplicate window (``events.duplicate_window_seconds``).",
        },
        "Content-Type": {"const": CONTENT_TYPE},
    },
    "required": ["Nats-Msg-Id"],
}


def element_id(event_type: str) -> str:
    """The AsyncAPI id of an event type's channel and message: ``credit_note.issued`` →
    ``creditNoteIssued`` (ids allow no dots)."""
    words = event_type.replace(".", "_").split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def asyncapi_document(version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of revsync's event stream (``version``: revsync's), built
    from :data:`EVENT_PAYLOADS`: the same document for the same types, key order included."""
    types = list(ANNOUNCED_EVENTS)
    _, models = msgspec.json.schema_components(
        [EVENT_PAYLOADS[t] for t in types], ref_template=_SCHEMAS + "{name}"
    )
    schemas: dict[str, Any] = {
        "CloudEvent": copy.deepcopy(CLOUD_EVENT_SCHEMA),
        "NatsHeaders": copy.deepcopy(NATS_HEADERS_SCHEMA),
        **{name: models[name] for name in sorted(models)},
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in types:
        key = element_id(event_type)
        summary = ANNOUNCED_EVENTS[event_type]
        default = (
            ""
            if event_type in STREAM_EVENTS
            else " Not published unless listed in ``events.events``."
        )
        channels[key] = {
            "address": f"{DEFAULT_PREFIX}.{event_type}",
            "title": event_type,
            "description": f"{summary[0].upper()}{summary[1:]}. The subject is "
            f"``<events.subject_prefix>.{event_type}`` (default prefix ``{DEFAULT_PREFIX}``), "
            f"in the JetStream stream ``events.stream`` (default ``REVSYNC``).{default}",
            "servers": [{"$ref": f"#/servers/{SERVER}"}],
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"send{key[0].upper()}{key[1:]}"] = {
            "action": "send",
            "title": f"Send {event_type}",
            "summary": f"revsync publishes {event_type} events.",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
        name = EVENT_PAYLOADS[event_type].__name__
        messages[key] = {
            "name": event_type,
            "title": event_type,
            "summary": summary,
            "contentType": CONTENT_TYPE,
            "headers": {"$ref": _SCHEMAS + "NatsHeaders"},
            "payload": {
                "allOf": [
                    {"$ref": _SCHEMAS + "CloudEvent"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event_type},
                            "data": {"$ref": _SCHEMAS + name},
                        },
                    },
                ]
            },
            "correlationId": {
                "description": "What caused the event (a billing run, a sync, a request).",
                "location": "$message.payload#/correlationid",
            },
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "revsync events",
            "version": version,
            "description": "The domain events revsync publishes on its own event stream (NATS "
            "JetStream, through its outbox: exactly once within the stream's duplicate window). "
            "Each is a CloudEvents 1.0 event in structured JSON mode; its ``data`` is the "
            "payload webhooks carry. Money and quantities are decimal strings, dates ISO "
            "``YYYY-MM-DD``. Generated by scripts/generate-asyncapi; do not edit.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            SERVER: {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "A local NATS server with JetStream (``events.nats_url``).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }
