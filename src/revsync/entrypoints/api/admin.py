"""Operations endpoints: API keys, the audit log, dead letters, health."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from revsync.bootstrap import Container
from revsync.domain.apikeys import ApiKey
from revsync.entrypoints.api.access import Key
from revsync.entrypoints.api.contract import IDEMPOTENT
from revsync.entrypoints.api.idempotency import idempotent

router = APIRouter()


class Health(BaseModel):
    """Liveness and the storage it reaches."""

    status: str
    database: str


@router.get(
    "/healthz", response_model=Health, tags=["operations"], summary="Liveness (no key needed)"
)
def healthz(request: Request) -> Health:
    container: Container = request.app.state.container
    return Health(status="ok", database=container.engine.dialect.name)


class JobLeaseOut(BaseModel):
    """A worker job's lease: whether a worker holds it now, and when its last run started."""

    name: str
    held: bool = Field(description="a worker runs it now (its lease has not run out)")
    lease_until: datetime | None
    last_started_at: datetime | None


class Readiness(BaseModel):
    """Whether this process can serve: its database answers, at the schema it expects; and
    the worker jobs' leases (they do not decide readiness: an API process serves without a
    worker)."""

    status: str = Field(description="ready, or unavailable (answered 503)")
    database: str = Field(description="the dialect, or unreachable")
    schema_revision: str | None = Field(description="the database's migration revision")
    expected_revision: str | None = Field(description="the revision this revsync ships")
    jobs: list[JobLeaseOut] = Field(default_factory=list)


@router.get(
    "/readyz",
    response_model=Readiness,
    tags=["operations"],
    summary="Readiness: the database answers, at the schema this revsync ships (no key needed)",
    responses={503: {"description": "Not ready; the body says why.", "model": Readiness}},
)
def readyz(request: Request) -> Response:
    container: Container = request.app.state.container
    state = container.schema_state()
    ready = state.reachable and state.current == state.expected
    now = container.clock.now()
    body = Readiness(
        status="ready" if ready else "unavailable",
        database=container.engine.dialect.name if state.reachable else "unreachable",
        schema_revision=state.current,
        expected_revision=state.expected,
        jobs=[
            JobLeaseOut(
                name=lease.name,
                held=lease.owner is not None and (lease.lease_until or now) > now,
                lease_until=lease.lease_until,
                last_started_at=lease.last_started_at,
            )
            for lease in (container.jobs.leases() if ready else [])
        ],
    )
    return Response(body.model_dump_json(), 200 if ready else 503, media_type="application/json")


class ApiKeyIn(BaseModel):
    """A key to issue."""

    model_config = ConfigDict(extra="forbid")

    name: str
    roles: list[str] = Field(
        default_factory=list,
        description="Any of ingest, read, finance, ops, metrics, admin (docs/governance.md).",
    )
    scopes: list[str] = Field(
        default_factory=list, deprecated=True, description="The former name of ``roles``."
    )
    customers: list[str] = Field(
        default_factory=list,
        max_length=100,
        description=(
            "Limit the key to these customers and their descendants (roles ingest and read "
            "only); empty: every customer."
        ),
    )


class ApiKeyOut(BaseModel):
    """A key as listed (never its secret)."""

    id: str
    name: str
    prefix: str
    roles: list[str]
    customers: list[str] = Field(description="Empty: the key reaches every customer.")
    created_at: datetime
    revoked_at: datetime | None


class IssuedKeyOut(ApiKeyOut):
    """A new key; ``key`` is shown this once only."""

    key: str


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        roles=sorted(r.value for r in key.roles),
        customers=sorted(key.customers),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.post(
    "/v1/api-keys",
    response_model=IssuedKeyOut,
    status_code=201,
    tags=["operations"],
    openapi_extra=IDEMPOTENT,
)
async def create_api_key(body: ApiKeyIn, request: Request, key: Key) -> Response:
    """Issue a key; the response holds the only copy of the secret (a replay of the request
    under the same ``Idempotency-Key`` answers the same key with ``key: null``)."""
    container: Container = request.app.state.container

    def work() -> Response:
        issued = container.api_keys.create(
            body.name, body.roles + body.model_dump()["scopes"], request.state.actor, body.customers
        )
        out = IssuedKeyOut(**_key_out(issued.key).model_dump(), key=issued.secret)
        return Response(out.model_dump_json(), status_code=201, media_type="application/json")

    request_body = body.model_dump_json().encode()
    return await idempotent(request, key, request_body, work, stored=_without_secret)


def _without_secret(answer: bytes) -> bytes:
    """An issued key's answer as it may be stored: the secret is never kept."""
    data = json.loads(answer)
    data["key"] = None
    return json.dumps(data).encode()


@router.get("/v1/api-keys", response_model=list[ApiKeyOut], tags=["operations"])
def list_api_keys(request: Request, key: Key) -> list[ApiKeyOut]:
    container: Container = request.app.state.container
    return [_key_out(k) for k in container.api_keys.all()]


@router.delete("/v1/api-keys/{key_id}", response_model=ApiKeyOut, tags=["operations"])
def revoke_api_key(key_id: str, request: Request, key: Key) -> ApiKeyOut:
    """Revoke a key (idempotent)."""
    container: Container = request.app.state.container
    return _key_out(container.api_keys.revoke(key_id, request.state.actor))


class DeadLetterOut(BaseModel):
    """A refused input with its reason."""

    id: int
    received_at: datetime
    channel: str
    code: str | None = Field(
        description="why, as a stable code (docs/api.md); null for letters stored before 0.2"
    )
    reason: str
    payload: str
    position: int | None
    event_source: str | None
    event_id: str | None
    correlation_id: str | None


class DeadLetterPage(BaseModel):
    """A page of dead letters, oldest first."""

    items: list[DeadLetterOut]
    next_cursor: int | None


@router.get("/v1/dead-letters", response_model=DeadLetterPage, tags=["operations"])
def list_dead_letters(
    request: Request,
    key: Key,
    channel: Annotated[str | None, Query(description="api, file or crm")] = None,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeadLetterPage:
    """Everything refused at ingestion, with payload, reason and time."""
    container: Container = request.app.state.container
    stored = container.dead_letters.page(channel=channel, after_id=cursor, limit=limit)
    items = [
        DeadLetterOut(
            id=s.id,
            received_at=s.letter.received_at,
            channel=s.letter.channel,
            code=s.letter.code,
            reason=s.letter.reason,
            payload=s.letter.payload,
            position=s.letter.position,
            event_source=s.letter.event_source,
            event_id=s.letter.event_id,
            correlation_id=s.letter.correlation_id,
        )
        for s in stored
    ]
    return DeadLetterPage(items=items, next_cursor=stored[-1].id if len(stored) == limit else None)


class AuditEntryOut(BaseModel):
    """One link of the audit chain."""

    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str
    alg: str = Field(
        description="how hash was made: sha256-json, sha256-jcs or hmac-sha256-jcs "
        "(docs/governance.md, 'The audit chain')"
    )


@router.get("/v1/audit", response_model=list[AuditEntryOut], tags=["operations"])
def list_audit(
    request: Request,
    key: Key,
    cursor: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="seq of the last entry seen")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    container: Container = request.app.state.container
    return [
        AuditEntryOut(
            seq=e.seq,
            at=e.record.at,
            actor=e.record.actor,
            action=e.record.action,
            object_type=e.record.object_type,
            object_id=e.record.object_id,
            before=dict(e.record.before) if e.record.before is not None else None,
            after=dict(e.record.after) if e.record.after is not None else None,
            prev_hash=e.prev_hash,
            hash=e.hash,
            alg=e.alg,
        )
        for e in container.audit.entries(after=cursor, limit=limit)
    ]
