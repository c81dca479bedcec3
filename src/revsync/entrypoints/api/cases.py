"""Exception cases over HTTP (list, show, retry, replay, resolve, ignore) and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from revsync.application.cases import CaseView, ReplaySelection
from revsync.bootstrap import Container
from revsync.domain.delivery import CaseKind, CaseStatus, MessageStatus
from revsync.domain.errors import InvalidField
from revsync.entrypoints.api.access import Key
from revsync.entrypoints.api.bodies import json_response, object_of, read_body
from revsync.entrypoints.api.contract import MetricsText, answers, body
from revsync.entrypoints.api.idempotency import idempotent
from revsync.observability.metrics import CONTENT_TYPE, render
from revsync.ports.delivery import Case, CaseFilter

router = APIRouter(tags=["operations"])
#: the longest reason an operator may give
MAX_REASON = 2000


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


Reason = Annotated[str, Field(max_length=MAX_REASON)]
Text = Annotated[str, Field(max_length=200)]


class CaseActionIn(_In):
    reason: Reason = ""


class CaseDecisionIn(_In):
    reason: Reason = Field(description="Required: why (kept in the audit log).")


class CaseReplayIn(_In):
    """Which cases to replay: one, those of a destination, and/or a time range (at least one)."""

    case_id: Text | None = None
    destination: Text | None = None
    since: datetime | None = Field(default=None, description="With an offset.")
    until: datetime | None = Field(default=None, description="With an offset.")
    reason: Reason = ""


class CaseObject(BaseModel):
    type: str
    id: str


class CaseOut(BaseModel):
    """An exception case."""

    id: str
    kind: CaseKind
    status: CaseStatus
    object: CaseObject
    destination: str | None
    message_id: int | None
    correlation_id: str | None
    last_error: str | None
    details: dict[str, Any] | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    reason: str | None


class CaseMessageOut(BaseModel):
    """The message a delivery case holds, payload included."""

    id: int
    destination: str
    aggregate: str
    kind: str
    idempotency_key: str
    status: MessageStatus
    created_at: datetime
    next_attempt_at: datetime
    payload: dict[str, Any]
    approved_by: str | None


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    finished_at: datetime
    outcome: str = Field(description="delivered, found, unavailable, retriable, fatal, skippable")
    status_code: int | None
    error: str | None
    relay: str


class CaseViewOut(CaseOut):
    """A case, its message and every attempt."""

    message: CaseMessageOut | None
    attempts: list[AttemptOut]


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None


class ReplayOut(BaseModel):
    replayed: list[str] = Field(description="The ids of the cases queued again.")


def case_out(case: Case) -> dict[str, Any]:
    """A case on the wire."""
    return {
        "id": case.id,
        "kind": case.kind.value,
        "status": case.status.value,
        "object": {"type": case.object_type, "id": case.object_id},
        "destination": case.destination,
        "message_id": case.message_id,
        "correlation_id": case.correlation_id,
        "last_error": case.last_error,
        "details": dict(case.details) if case.details else None,
        "opened_at": case.opened_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "closed_by": case.closed_by,
        "reason": case.reason,
    }


def view_out(view: CaseView) -> dict[str, Any]:
    """A case with its message (payload included) and every attempt."""
    stored = view.message
    message = None
    if stored is not None:
        m = stored.message
        message = {
            "id": m.id,
            "destination": m.destination,
            "aggregate": m.aggregate,
            "kind": m.kind,
            "idempotency_key": m.key,
            "status": stored.status.value,
            "created_at": m.created_at.isoformat(),
            "next_attempt_at": stored.next_attempt_at.isoformat(),
            "payload": m.payload,
            "approved_by": m.approved_by,
        }
    return {
        **case_out(view.case),
        "message": message,
        "attempts": [
            {
                "number": a.number,
                "started_at": a.started_at.isoformat(),
                "finished_at": a.finished_at.isoformat(),
                "outcome": a.outcome,
                "status_code": a.status_code,
                "error": a.error,
                "relay": a.relay,
            }
            for a in view.attempts
        ],
    }


@router.get("/v1/cases", summary="Exception cases", response_model=CasePage)
def list_cases(
    request: Request,
    key: Key,
    status: Annotated[CaseStatus | None, Query()] = None,
    kind: Annotated[CaseKind | None, Query()] = None,
    destination: Annotated[str | None, Query()] = None,
    object_id: Annotated[str | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="Opened at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Opened before.")] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    where = CaseFilter(
        status, kind, destination, object_id, _aware(since, "since"), _aware(until, "until")
    )
    found = _container(request).cases.find(where, after=cursor, limit=limit)
    return json_response(
        {
            "items": [case_out(c) for c in found],
            "next_cursor": found[-1].id if len(found) == limit else None,
        }
    )


@router.get(
    "/v1/cases/{case_id}",
    summary="A case, its message and every attempt",
    response_model=CaseViewOut,
)
def get_case(case_id: str, request: Request, key: Key) -> Response:
    return json_response(view_out(_container(request).cases.show(case_id)))


@router.post(
    "/v1/cases/{case_id}/retry",
    summary="Queue the case's message again now",
    response_model=CaseOut,
    openapi_extra=body(CaseActionIn, required=False, idempotent=True),
)
async def retry_case(case_id: str, request: Request, key: Key) -> Response:
    body = await read_body(request)
    action = _container(request).cases.retry
    return await idempotent(request, key, body, lambda: _act(action, case_id, body, request))


@router.post(
    "/v1/cases/{case_id}/approve",
    summary="Approve a case: its held message goes past the destination's hold, or its service "
    "credit is issued",
    response_model=CaseOut,
    openapi_extra=body(CaseDecisionIn, idempotent=True),
)
async def approve_case(case_id: str, request: Request, key: Key) -> Response:
    body = await read_body(request)
    action = _container(request).cases.approve
    return await idempotent(request, key, body, lambda: _act(action, case_id, body, request))


@router.post(
    "/v1/cases/replay",
    summary="Queue the messages of delivery and outage cases again (one, a destination, a "
    "time range)",
    response_model=ReplayOut,
    responses=answers({404: "No case `case_id`."}),
    openapi_extra=body(
        CaseReplayIn,
        example={"destination": "ledger", "since": "2026-11-01T00:00:00Z"},
        idempotent=True,
    ),
)
async def replay_cases(request: Request, key: Key) -> Response:
    body = await read_body(request)
    container = _container(request)

    def work() -> Response:
        data = object_of(body, {"case_id", "destination", "since", "until", "reason"})
        selection = ReplaySelection(
            case_id=_text(data, "case_id"),
            destination=_text(data, "destination"),
            since=_time(data, "since"),
            until=_time(data, "until"),
        )
        replayed = container.cases.replay(selection, request.state.actor, _reason(data))
        return json_response({"replayed": replayed})

    return await idempotent(request, key, body, work)


@router.post(
    "/v1/cases/{case_id}/resolve",
    summary="Close a case as settled (reason required)",
    response_model=CaseOut,
    openapi_extra=body(CaseDecisionIn, idempotent=True),
)
async def resolve_case(case_id: str, request: Request, key: Key) -> Response:
    body = await read_body(request)
    action = _container(request).cases.resolve
    return await idempotent(request, key, body, lambda: _act(action, case_id, body, request))


@router.post(
    "/v1/cases/{case_id}/ignore",
    summary="Close a case as not worth acting on (reason required)",
    response_model=CaseOut,
    openapi_extra=body(CaseDecisionIn, idempotent=True),
)
async def ignore_case(case_id: str, request: Request, key: Key) -> Response:
    body = await read_body(request)
    action = _container(request).cases.ignore
    return await idempotent(request, key, body, lambda: _act(action, case_id, body, request))


def _act(
    action: Callable[[str, str, str], Case], case_id: str, body: bytes, request: Request
) -> Response:
    """One action on a case, with the body's optional reason."""
    data = object_of(body, {"reason"}, optional=True)
    return json_response(case_out(action(case_id, request.state.actor, _reason(data))))


@router.get(
    "/metrics", summary="Prometheus metrics (text format 0.0.4)", response_class=MetricsText
)
def metrics(request: Request, key: Key) -> Response:
    container = _container(request)
    body = render(container.operations.health, container.kpis.read)
    return Response(body, media_type=CONTENT_TYPE)


def _reason(data: dict[str, Any]) -> str:
    value = data.get("reason", "")
    if not isinstance(value, str):
        raise InvalidField("reason", "must be text")
    if len(value) > MAX_REASON:
        raise InvalidField("reason", f"longer than {MAX_REASON} characters")
    return value


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidField(name, "must be text")
    if value is not None and len(value) > 200:
        raise InvalidField(name, "longer than 200 characters")
    return value


def _time(data: dict[str, Any], name: str) -> datetime | None:
    value = _text(data, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidField(name, f"{value!r} is not an ISO time") from None
    return _aware(moment, name)


def _aware(moment: datetime | None, name: str) -> datetime | None:
    """A time with an offset that has a UTC time (``0001-01-01T00:00+14:00`` has none)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidField(name, "needs a UTC offset (Z or +01:00)")
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise InvalidField(name, "out of range once in UTC (years 1 to 9999)") from None
    return moment
