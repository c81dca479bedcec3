"""The schema registry over HTTP: register and read versions of event data schemas, and
release quarantined events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from revsync.application.schemas import Declaration
from revsync.bootstrap import Container
from revsync.domain.errors import InvalidField
from revsync.domain.schemas import Compatibility, UnknownTypes, upcast_from
from revsync.entrypoints.api.access import Key
from revsync.entrypoints.api.bodies import object_of, read_body
from revsync.entrypoints.api.contract import answers, body
from revsync.entrypoints.api.idempotency import idempotent
from revsync.ports.schemas import StoredSchema
from revsync.schemas.event_schemas import canonical_text

router = APIRouter(tags=["schemas"])

EventType = Annotated[
    str,
    Path(
        description="The CloudEvents `type`.",
        min_length=1,
        max_length=256,
        examples=["llm.completion"],
    ),
]
VersionNumber = Annotated[int, Path(ge=1, le=1000, description="The version, from 1.")]


class UpcastIn(BaseModel):
    """How data of the version before reads as this one (top-level fields)."""

    model_config = ConfigDict(extra="forbid")

    rename: dict[str, str] = Field(default_factory=dict, description="old name → new name")
    defaults: dict[str, Any] = Field(default_factory=dict, description="field → value when absent")
    drop: list[str] = Field(default_factory=list)


class SchemaVersionIn(BaseModel):
    """A version to register."""

    model_config = ConfigDict(extra="forbid")

    schema_: dict[str, Any] | bool = Field(
        alias="schema", description="A JSON Schema (draft 2020-12) of the event's `data`."
    )
    upcast: UpcastIn | None = None
    compatibility: Compatibility | None = Field(
        default=None,
        description="The type's rule from this version on; default: the type's current one "
        "(`backward` for a new type).",
    )


class UpcastOut(BaseModel):
    rename: dict[str, str]
    defaults: dict[str, Any]
    drop: list[str]


class SchemaVersionOut(BaseModel):
    """A registered version."""

    type: str
    version: int
    uri: str = Field(description="The `dataschema` that names this version.")
    compatibility: Compatibility
    schema_: dict[str, Any] | bool = Field(alias="schema")
    upcast: UpcastOut | None
    registered_at: datetime
    source: str = Field(description="`config`, `api` or `cli`.")


class VersionSummaryOut(BaseModel):
    version: int
    uri: str
    registered_at: datetime
    source: str


class SchemaTypeOut(BaseModel):
    """A declared event type and its versions."""

    type: str
    compatibility: Compatibility
    latest: int
    metered: bool = Field(description="A configured meter reads this type.")
    versions: list[VersionSummaryOut]


class SourcePolicyOut(BaseModel):
    source: str
    match: str = Field(description="`exact` or `prefix`.")
    unknown_types: UnknownTypes


class SchemaListOut(BaseModel):
    """Every declared type, and the unknown-type policy."""

    unknown_types: UnknownTypes = Field(description="For sources no rule names.")
    sources: list[SourcePolicyOut]
    types: list[SchemaTypeOut]


class ReleaseIn(BaseModel):
    """Which quarantined events to release (default: every one whose type is now declared)."""

    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(default=None, min_length=1, max_length=256)


class ReleaseOut(BaseModel):
    released: int = Field(description="Ingested again (and marked `released`).")
    accepted: int
    duplicates: int
    refused: int = Field(description="Refused at ingestion now (dead letters of their own).")
    waiting: int = Field(description="Left in quarantine: their type is still not declared.")


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _json(content: Any, status: int = 200) -> Response:
    """Schemas keep their numbers as JSON numbers (not the decimal strings of money)."""
    return Response(canonical_text(content), status_code=status, media_type="application/json")


def version_out(stored: StoredSchema) -> dict[str, Any]:
    version = stored.version
    return {
        "type": version.type,
        "version": version.version,
        "uri": version.uri,
        "compatibility": version.compatibility.value,
        "schema": version.schema,
        "upcast": version.upcast.to_data() if version.upcast else None,
        "registered_at": stored.registered_at,
        "source": stored.source,
    }


@router.put(
    "/v1/schemas/{event_type}/versions/{version}",
    summary="Register a version of an event type's data schema",
    response_model=SchemaVersionOut,
    response_description="The same version was registered before: nothing changed.",
    responses={
        201: {"model": SchemaVersionOut, "description": "Registered."},
        **answers(
            {
                409: "The version exists with another schema, or breaks the type's "
                "compatibility; the message names the change."
            }
        ),
    },
    openapi_extra=body(
        SchemaVersionIn,
        example={
            "schema": {
                "type": "object",
                "properties": {"tokens": {"type": "integer", "minimum": 0}},
                "required": ["tokens"],
            }
        },
    ),
)
async def put_schema_version(
    event_type: EventType, version: VersionNumber, request: Request, key: Key
) -> Response:
    container = _container(request)
    raw = await read_body(request)

    def work() -> Response:
        data = object_of(raw, ("schema", "upcast", "compatibility"))
        if "schema" not in data:
            raise InvalidField("schema", "required")
        mode = data.get("compatibility")
        if mode is not None and (
            not isinstance(mode, str) or mode not in {c.value for c in Compatibility}
        ):
            raise InvalidField(
                "compatibility", f"must be one of {', '.join(c.value for c in Compatibility)}"
            )
        declared = Declaration(
            event_type,
            version,
            data["schema"],
            upcast_from(data.get("upcast")),
            Compatibility(mode) if mode is not None else None,
        )
        outcome = container.schemas.put(declared, request.state.actor)
        return _json(version_out(outcome.stored), 201 if outcome.created else 200)

    return await run_in_threadpool(work)


@router.get(
    "/v1/schemas",
    summary="Declared event types and the unknown-type policy",
    response_model=SchemaListOut,
)
def list_schemas(request: Request, key: Key) -> Response:
    registry = _container(request).schemas
    by_type: dict[str, list[StoredSchema]] = {}
    for stored in registry.versions():
        by_type.setdefault(stored.version.type, []).append(stored)
    policy = registry.policy
    return _json(
        {
            "unknown_types": policy.unknown_types.value,
            "sources": [
                {
                    "source": rule.source,
                    "match": "prefix" if rule.prefix else "exact",
                    "unknown_types": rule.policy.value,
                }
                for rule in policy.sources
            ],
            "types": [
                {
                    "type": name,
                    "compatibility": versions[-1].version.compatibility.value,
                    "latest": versions[-1].version.version,
                    "metered": registry.metered(name),
                    "versions": [
                        {
                            "version": s.version.version,
                            "uri": s.version.uri,
                            "registered_at": s.registered_at,
                            "source": s.source,
                        }
                        for s in versions
                    ],
                }
                for name, versions in by_type.items()
            ],
        }
    )


@router.get(
    "/v1/schemas/{event_type}/versions/{version}",
    summary="A registered version",
    response_model=SchemaVersionOut,
)
def get_schema_version(
    event_type: EventType, version: VersionNumber, request: Request, key: Key
) -> Response:
    return _json(version_out(_container(request).schemas.get(event_type, version)))


@router.post(
    "/v1/schemas/quarantine/release",
    summary="Release quarantined events whose type is now declared",
    response_model=ReleaseOut,
    openapi_extra=body(
        ReleaseIn, example={"type": "llm.completion"}, required=False, idempotent=True
    ),
)
async def release_quarantine(request: Request, key: Key) -> Response:
    container = _container(request)
    raw = await read_body(request)

    def work() -> Response:
        data = object_of(raw, ("type",), optional=True)
        kind = data.get("type")
        if kind is not None and (not isinstance(kind, str) or not 1 <= len(kind) <= 256):
            raise InvalidField("type", "must be an event type (1 to 256 characters)")
        report = container.quarantine.release(request.state.actor, kind)
        return _json(
            {
                "released": report.released,
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "refused": report.refused,
                "waiting": report.waiting,
            }
        )

    return await idempotent(request, key, raw, work)
