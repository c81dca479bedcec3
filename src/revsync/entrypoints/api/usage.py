"""Usage queries: ``/v1/customers/{id}/usage`` and ``/v1/usage/unmapped``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from revsync.application.corrections import CorrectUsage
from revsync.application.usage import UsageRequest
from revsync.bootstrap import Container
from revsync.domain.errors import InvalidField
from revsync.domain.identity import validate_timezone
from revsync.domain.metering import Window
from revsync.domain.money import plain
from revsync.domain.usage import MAX_ATTRIBUTE_LENGTH, open_period_start
from revsync.entrypoints.api.access import Key, check_reach
from revsync.entrypoints.api.bodies import object_of, read_body
from revsync.entrypoints.api.contract import CustomerId, body
from revsync.entrypoints.api.events import ingest_report
from revsync.entrypoints.api.idempotency import idempotent
from revsync.schemas.cloudevents_v1 import decode_items

router = APIRouter(tags=["usage"])


_encode = msgspec.json.Encoder(decimal_format="number").encode


class Bucket(BaseModel):
    """One window (and group) of a meter; ``value`` is an exact decimal string; a group value
    is the JSON value of the dimension (string, number, boolean or null)."""

    start: datetime
    end: datetime
    group: dict[str, object]
    value: str
    events: int


class UsageOut(BaseModel):
    """Aggregates of one meter for one customer (and, if asked, its descendants)."""

    customer_id: str
    customer_ids: list[str]
    meter: str
    aggregation: str
    start: datetime
    end: datetime
    window: Window | None
    timezone: str
    group_by: list[str]
    buckets: list[Bucket]


class UnmappedTenantOut(BaseModel):
    """Events waiting for their tenant to be mapped."""

    subject: str
    events: int
    first_time: datetime
    last_time: datetime


class UnmappedOut(BaseModel):
    """Unmapped usage: the total and a page of tenants."""

    total_events: int
    items: list[UnmappedTenantOut]
    next_cursor: str | None


Attribute = Annotated[str, Field(min_length=1, max_length=MAX_ATTRIBUTE_LENGTH)]


class CloudEventIn(BaseModel):
    """A CloudEvent 1.0 (extension attributes are accepted and ignored). ``data`` or
    ``data_base64`` (not both) carries the data, a JSON object."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = Field(description="Required: the CloudEvents version.")
    id: Attribute
    source: Attribute
    type: Attribute
    subject: Attribute = Field(description="The product tenant id.")
    time: AwareDatetime = Field(description="RFC 3339 with an offset.")
    datacontenttype: str | None = Field(
        default=None, description="A JSON media type if given (application/json, …+json)."
    )
    dataschema: str | None = Field(
        default=None,
        description="The registered schema version the data follows "
        "(urn:revsync:schema:<type>:<n>); the latest version without it.",
    )
    data: SkipJsonSchema[None] | dict[str, Any] = Field(
        default=None, description="The data as a JSON object."
    )
    data_base64: str | None = Field(
        default=None, description="The data as base64 of a JSON object's UTF-8 bytes."
    )


class RejectedOut(BaseModel):
    """An item refused, with its position, a stable code and a reason naming the field."""

    index: int = Field(description="0-based position in the array, or line of the NDJSON body.")
    id: str | None
    code: str = Field(description="See the table in docs/api.md (e.g. missing_field).")
    reason: str


class IngestReportOut(BaseModel):
    """What became of each item of a batch."""

    accepted: int = Field(description="Stored now (unmapped and late ones included).")
    duplicates: int
    unmapped: int
    late: int
    rejected: list[RejectedOut]
    quarantined: int = Field(
        default=0,
        description="Events of types without a schema kept aside (a source's unknown-type "
        "policy `quarantine`); present when not 0.",
    )


class EventKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Attribute
    id: Attribute


class UsageCorrectionIn(BaseModel):
    """Events to void (by ``(source, id)``) and compensating events to add, with why."""

    model_config = ConfigDict(extra="forbid")

    reason: str = ""
    void: list[EventKey] = Field(default_factory=list, max_length=1000)
    add: list[CloudEventIn] = Field(default_factory=list)


class CorrectionOut(BaseModel):
    id: str
    voided: list[EventKey]
    already_voided: list[EventKey]
    added: IngestReportOut | None


@router.get(
    "/v1/customers/{customer_id}/usage", response_model=UsageOut, summary="Meter a customer's usage"
)
def customer_usage(
    customer_id: CustomerId,
    request: Request,
    key: Key,
    meter: Annotated[str, Query(description="Key of a declared meter.", examples=["api_calls"])],
    start: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Inclusive; default: start of this month."),
    ] = None,
    end: Annotated[
        AwareDatetime | None,
        Query(alias="to", description="Exclusive; default: start of next month."),
    ] = None,
    window: Annotated[
        Window | None, Query(description="hour, day or month; omitted: one total.")
    ] = None,
    group_by: Annotated[
        str | None, Query(description="Comma-separated dimensions of the meter.")
    ] = None,
    tz: Annotated[
        str | None, Query(description="IANA zone for windows; default: the customer's.")
    ] = None,
    include_descendants: Annotated[
        bool, Query(description="Add the usage of child accounts.")
    ] = False,
) -> Response:
    """Exact aggregates; a query made after a 2xx ingestion response sees that event."""
    container: Container = request.app.state.container
    check_reach(request, customer_id, "customer", customer_id)
    customer = container.customers.get(customer_id)
    zone_name = tz or customer.timezone
    ids = (
        container.customers.with_descendants(customer_id) if include_descendants else [customer_id]
    )
    start, end = _default_range(container, start, end, zone_name)
    dims = tuple(d.strip() for d in group_by.split(",") if d.strip()) if group_by else ()
    usage = UsageRequest(ids, meter, start, end, window, zone_name, dims)
    buckets = container.usage.usage(usage)
    definition = container.usage.meter(meter)
    out = UsageOut(
        customer_id=customer_id,
        customer_ids=ids,
        meter=meter,
        aggregation=definition.aggregation.value,
        start=start,
        end=end,
        window=window,
        timezone=zone_name,
        group_by=list(dims),
        buckets=[
            Bucket(
                start=b.start, end=b.end, group=dict(b.group), value=plain(b.value), events=b.events
            )
            for b in buckets
        ],
    )
    # encoded by msgspec so that a numeric dimension value stays a JSON number, exactly
    return Response(_encode(out.model_dump()), media_type="application/json")


def _default_range(
    container: Container, start: datetime | None, end: datetime | None, zone_name: str
) -> tuple[datetime, datetime]:
    if start is not None and end is not None:
        return start, end
    zone = validate_timezone(zone_name, "tz")
    month = open_period_start(container.clock.now(), zone)
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return start or month, end or following


@router.get(
    "/v1/usage/unmapped", response_model=UnmappedOut, summary="Usage waiting for a tenant mapping"
)
def unmapped_usage(
    request: Request,
    key: Key,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> UnmappedOut:
    """Stored but unmapped events, by tenant; they attach when the tenant is mapped."""
    container: Container = request.app.state.container
    total, tenants = container.usage.unmapped(after=cursor, limit=limit)
    return UnmappedOut(
        total_events=total,
        items=[UnmappedTenantOut.model_validate(t, from_attributes=True) for t in tenants],
        next_cursor=tenants[-1].subject if len(tenants) == limit else None,
    )


# --- corrections ---------------------------------------------------------------------------


@router.post(
    "/v1/usage/corrections",
    status_code=201,
    summary="Correct stored usage: void events, add compensating ones (audited)",
    response_model=CorrectionOut,
    openapi_extra=body(
        UsageCorrectionIn,
        example={
            "reason": "the export job ran twice on 12 November",
            "void": [{"source": "app://exports", "id": "run-7781"}],
            "add": [],
        },
        idempotent=True,
    ),
)
async def correct_usage(request: Request, key: Key) -> Response:
    container: Container = request.app.state.container
    body = await read_body(request, container.settings.ingestion.max_body_bytes)
    return await idempotent(request, key, body, lambda: _correct(container, body, request))


def _correct(container: Container, body: bytes, request: Request) -> Response:
    data = object_of(body, {"reason", "void", "add"})
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise InvalidField("reason", "expected a string")
    add = data.get("add", [])
    if not isinstance(add, list):
        raise InvalidField("add", "expected a list of CloudEvents")
    if len(add) > container.settings.ingestion.max_batch_events:
        raise InvalidField("add", f"at most {container.settings.ingestion.max_batch_events} events")
    report = container.corrections.correct(
        CorrectUsage(
            reason=reason,
            void=_void_keys(data.get("void", [])),
            add=decode_items([_encode(item) for item in add]),
            actor=request.state.actor,
            correlation_id=request.state.correlation_id,
        )
    )
    added = report.added
    return Response(
        _encode(
            {
                "id": report.id,
                "voided": [{"source": s, "id": i} for s, i in report.voided],
                "already_voided": [{"source": s, "id": i} for s, i in report.already_voided],
                "added": None if added is None else ingest_report(added),
            }
        ),
        status_code=201,
        media_type="application/json",
    )


def _void_keys(given: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(given, list):
        raise InvalidField("void", "expected a list of {source, id}")
    keys = []
    for index, item in enumerate(given):
        if (
            not isinstance(item, dict)
            or set(item) != {"source", "id"}
            or not all(
                isinstance(v, str) and 0 < len(v) <= MAX_ATTRIBUTE_LENGTH for v in item.values()
            )
        ):
            raise InvalidField(f"void.{index}", "expected {source, id}, two non-empty strings")
        keys.append((item["source"], item["id"]))
    return tuple(keys)
