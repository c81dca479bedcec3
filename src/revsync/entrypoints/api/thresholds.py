"""Usage thresholds over HTTP: a subscription's own thresholds, and the alerts (thresholds
reached) listed newest first."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from revsync.bootstrap import Container
from revsync.domain.errors import InvalidField
from revsync.domain.thresholds import ThresholdKind
from revsync.entrypoints.api.access import Key, check_reach, reach_of
from revsync.entrypoints.api.billing import SubscriptionOut, ThresholdIn, subscription_out
from revsync.entrypoints.api.bodies import json_response, object_of, read_body
from revsync.entrypoints.api.contract import DecimalText, body
from revsync.ports.thresholds import CrossingRecord

router = APIRouter(tags=["thresholds"])


class ThresholdsIn(BaseModel):
    """The subscription's own thresholds (they replace the ones it had; one with the key of a
    plan's threshold replaces that one for this subscription)."""

    thresholds: list[ThresholdIn]


class AlertOut(BaseModel):
    """A threshold reached, once per subscription, threshold and usage period."""

    customer_id: str
    subscription_id: str
    threshold: str = Field(description="The threshold's key.")
    kind: ThresholdKind
    meter: str | None
    period_start: date
    period_end: date
    limit: DecimalText = Field(description="In the meter's units, or the currency for spend.")
    observed: DecimalText = Field(description="What stood there when the usage was read.")
    currency: str | None
    crossed_at: datetime
    interim_invoice_id: str | None


class AlertList(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.put(
    "/v1/subscriptions/{subscription_id}/thresholds",
    summary="Set a subscription's own usage thresholds",
    response_model=SubscriptionOut,
    openapi_extra=body(
        ThresholdsIn,
        example={
            "thresholds": [
                {"key": "calls-80", "kind": "percent", "meter": "api_calls", "value": "80"},
                {"key": "spend-500", "kind": "spend", "value": "500.00", "invoice": True},
            ]
        },
    ),
)
async def put_thresholds(subscription_id: str, request: Request, key: Key) -> Response:
    container = _container(request)
    raw = await read_body(request)

    def work() -> Response:
        data = object_of(raw, {"thresholds"})
        if "thresholds" not in data:
            raise InvalidField("thresholds", "required (an empty list removes them)")
        subscription = container.subscriptions.set_thresholds(
            subscription_id, data["thresholds"], request.state.actor
        )
        return json_response(subscription_out(subscription))

    return await run_in_threadpool(work)


@router.get(
    "/v1/alerts",
    summary="Usage thresholds reached, newest first",
    response_model=AlertList,
)
def list_alerts(
    request: Request,
    key: Key,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    reach = reach_of(request)
    if customer_id is not None:
        check_reach(request, customer_id, "customer", customer_id)
        reach = frozenset({customer_id})
    found = _container(request).thresholds.crossings(reach, _after(cursor), limit)
    return json_response(
        {
            "items": [alert_out(c) for c in found],
            "next_cursor": _cursor(found[-1]) if len(found) == limit else None,
        }
    )


def alert_out(crossing: CrossingRecord) -> dict[str, Any]:
    """A crossing as the API shows it."""
    return {
        "customer_id": crossing.customer_id,
        "subscription_id": crossing.subscription_id,
        "threshold": crossing.threshold_key,
        "kind": crossing.kind.value,
        "meter": crossing.meter,
        "period_start": crossing.period_start.isoformat(),
        "period_end": crossing.period_end.isoformat(),
        "limit": crossing.limit,
        "observed": crossing.observed,
        "currency": crossing.currency,
        "crossed_at": crossing.crossed_at.isoformat(),
        "interim_invoice_id": crossing.interim_invoice_id,
    }


def _cursor(last: CrossingRecord) -> str:
    values = [
        last.crossed_at.isoformat(),
        last.subscription_id,
        last.threshold_key,
        last.period_start.isoformat(),
    ]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _after(cursor: str | None) -> tuple[datetime, str, str, date] | None:
    if cursor is None:
        return None
    try:
        at, subscription, key, start = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(subscription, str) or not isinstance(key, str):
            raise ValueError("not a cursor")
        return moment, subscription, key, date.fromisoformat(start)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidField("cursor", "not a cursor this list gave") from None
