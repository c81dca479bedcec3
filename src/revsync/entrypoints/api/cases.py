"""Exception cases over HTTP (list, show, retry, replay, resolve, ignore) and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from revsync.application.cases import CaseView, ReplaySelection
from revsync.bootstrap import Container
from revsync.domain.apikeys import ApiKey, Scope
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.errors import InvalidField
from revsync.entrypoints.api.auth import require
from revsync.entrypoints.api.bodies import json_response, object_of, read_body
from revsync.entrypoints.api.idempotency import idempotent
from revsync.observability.metrics import CONTENT_TYPE, render
from revsync.ports.delivery import Case, CaseFilter

router = APIRouter(tags=["operations"])
#: the longest reason an operator may give
MAX_REASON = 2000
Admin = Annotated[ApiKey, Depends(require(Scope.ADMIN))]
Reader = Annotated[ApiKey, Depends(require(Scope.READ))]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


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


@router.get("/v1/cases", summary="Exception cases")
def list_cases(
    request: Request,
    key: Reader,
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


@router.get("/v1/cases/{case_id}", summary="A case, its message and every attempt")
def get_case(case_id: str, request: Request, key: Reader) -> Response:
    return json_response(view_out(_container(request).cases.show(case_id)))


@router.post("/v1/cases/{case_id}/retry", summary="Queue the case's message again now")
async def retry_case(case_id: str, request: Request, key: Admin) -> Response:
    body = await read_body(request)
    action = _container(request).cases.retry
    return await idempotent(request, key, body, lambda: _act(action, case_id, body, request))


@router.post(
    "/v1/cases/{case_id}/approve",
    summary="Queue the case's message again, approved past the destination's hold",
)
async def approve_case(case_id: str, request: Request, key: Admin) -> Response:
    body = await read_body(request)
    action = _container(request).cases.approve
    return await idempotent(request, key, body, lambda: _act(action, case_id, body, request))


@router.post(
    "/v1/cases/replay",
    summary="Queue the messages of delivery and outage cases again (one, a destination, a "
    "time range)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {"destination": "ledger", "since": "2026-11-01T00:00:00Z"},
                }
            },
        }
    },
)
async def replay_cases(request: Request, key: Admin) -> Response:
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


@router.post("/v1/cases/{case_id}/resolve", summary="Close a case as settled (reason required)")
async def resolve_case(case_id: str, request: Request, key: Admin) -> Response:
    body = await read_body(request)
    action = _container(request).cases.resolve
    return await idempotent(request, key, body, lambda: _act(action, case_id, body, request))


@router.post("/v1/cases/{case_id}/ignore", summary="Close a case as not worth acting on")
async def ignore_case(case_id: str, request: Request, key: Admin) -> Response:
    body = await read_body(request)
    action = _container(request).cases.ignore
    return await idempotent(request, key, body, lambda: _act(action, case_id, body, request))


def _act(
    action: Callable[[str, str, str], Case], case_id: str, body: bytes, request: Request
) -> Response:
    """One action on a case, with the body's optional reason."""
    data = object_of(body, {"reason"}, optional=True)
    return json_response(case_out(action(case_id, request.state.actor, _reason(data))))


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=True)
def metrics(request: Request, key: Reader) -> Response:
    body = render(_container(request).operations.health)
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
    if moment is not None and moment.tzinfo is None:
        raise InvalidField(name, "needs a UTC offset (Z or +01:00)")
    return moment
