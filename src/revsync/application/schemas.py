"""The schema registry: versions registered (from the config and the API) under the same
checks, and the compiled :class:`Screen` that ingestion runs each event through.

Each process keeps a compiled snapshot of every version and looks for new ones every
``refresh`` (a count and a time read from the store); a version registered through this
process is in its snapshot at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from revsync.domain.audit import AuditRecord
from revsync.domain.errors import Conflict, InvalidField, NotFound
from revsync.domain.problems import Code, Problem
from revsync.domain.schemas import (
    MAX_SCHEMA_BYTES,
    MAX_VERSIONS,
    Compatibility,
    SchemaVersion,
    SourceRule,
    UnknownTypes,
    Upcast,
    accepts,
    breaking_change,
    check_schema,
    check_type_name,
    policy_for,
    version_named,
)
from revsync.domain.usage import UsageEvent
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWorkFactory
from revsync.ports.schemas import DataCheck, SchemaCompiler, StoredSchema
from revsync.schemas.event_schemas import canonical_text

#: sources whose policy is remembered by a screen before it starts again
_POLICY_CACHE = 10_000


@dataclass(frozen=True, slots=True)
class SchemaPolicy:
    """What happens to events of types without a schema, per source, and how often a
    process looks for versions registered elsewhere."""

    unknown_types: UnknownTypes = UnknownTypes.ACCEPT
    sources: tuple[SourceRule, ...] = ()
    default_compatibility: Compatibility = Compatibility.BACKWARD
    refresh: timedelta = timedelta(seconds=5)

    @property
    def inert(self) -> bool:
        """Every unknown type is accepted, whatever its source."""
        return self.unknown_types is UnknownTypes.ACCEPT and all(
            r.policy is UnknownTypes.ACCEPT for r in self.sources
        )


@dataclass(frozen=True, slots=True)
class Declaration:
    """A version to register (from the config or a request)."""

    type: str
    version: int
    schema: Mapping[str, Any] | bool
    upcast: Upcast = field(default_factory=Upcast)
    compatibility: Compatibility | None = None


class _RegisteredMeanwhile(Exception):
    """Another writer stored the same version number first."""


class PutOutcome(NamedTuple):
    stored: StoredSchema
    created: bool


class _Checks(NamedTuple):
    """A type's compiled versions: ``checks[n - 1]`` checks version n, ``upcasts[n - 1]``
    carries version n - 1 to n."""

    checks: tuple[DataCheck, ...]
    upcasts: tuple[Upcast, ...]


class Screen:
    """The registry as ingestion reads it: an event comes out as the data to store (upcast
    to the latest version) or as a :class:`Problem` (``quarantined`` for events to keep
    aside)."""

    def __init__(
        self, types: Mapping[str, _Checks], metered: frozenset[str], policy: SchemaPolicy
    ) -> None:
        self._types = types
        self._metered = metered
        self._policy = policy
        self._by_source: dict[str, UnknownTypes] = {}

    def judge(self, event: UsageEvent, dataschema: str | None) -> UsageEvent | Problem:
        entry = self._types.get(event.type)
        if entry is None:
            return event if event.type in self._metered else self._unknown(event)
        checks = entry.checks
        latest = len(checks)
        if dataschema is not None:
            version = version_named(dataschema, event.type)
            if version is None or version > latest:
                return Problem(
                    Code.UNKNOWN_SCHEMA,
                    f"dataschema: names no registered version of type {event.type!r} (use "
                    f"urn:revsync:schema:{event.type}:<n>, n from 1 to {latest})",
                )
            problem = checks[version - 1](event.data)
        else:
            version = latest
            problem = checks[-1](event.data)
            if problem is not None:  # a sender not yet moved on, or a retry from before
                for older in range(latest - 1, 0, -1):
                    if checks[older - 1](event.data) is None:
                        version, problem = older, None
                        break
        if problem is not None:
            return problem if dataschema is None else _at_version(problem, version)
        if version == latest:
            return event
        data: Mapping[str, Any] = event.data
        for step in entry.upcasts[version:]:
            data = step.apply(data)
        problem = checks[-1](data)
        if problem is not None:
            return _at_version(problem, version, upcast_to=latest)
        return event._replace(data=data, data_json=canonical_text(data))

    def declares(self, event_type: str) -> bool:
        """Whether a schema is registered for this type."""
        return event_type in self._types

    def _unknown(self, event: UsageEvent) -> UsageEvent | Problem:
        policy = self._by_source.get(event.source)
        if policy is None:
            if len(self._by_source) >= _POLICY_CACHE:
                self._by_source.clear()
            policy = policy_for(event.source, self._policy.unknown_types, self._policy.sources)
            self._by_source[event.source] = policy
        if policy is UnknownTypes.ACCEPT:
            return event
        if policy is UnknownTypes.REJECT:
            return Problem(
                Code.UNKNOWN_TYPE,
                f"type: {event.type!r} has no registered schema, and events of unknown types "
                "from this source are refused",
            )
        return Problem(
            Code.QUARANTINED,
            f"type: {event.type!r} has no registered schema; kept aside until it has one "
            "(POST /v1/schemas/quarantine/release)",
        )


def _at_version(problem: Problem, version: int, upcast_to: int | None = None) -> Problem:
    if upcast_to is not None:
        return problem._replace(
            message=f"{problem.message} (version {version} data upcast to version {upcast_to})"
        )
    return problem._replace(message=f"{problem.message} (version {version})")


class SchemaRegistry:
    """Registers, lists and compiles event schemas."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        compile_schema: SchemaCompiler,
        metered: frozenset[str],
        policy: SchemaPolicy,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._compile = compile_schema
        self._metered = metered
        self.policy = policy
        self._lock = threading.Lock()
        self._screen: Screen | None = None
        self._seen: tuple[int, datetime | None] | None = None
        self._stored: tuple[StoredSchema, ...] = ()
        self._checked_at: datetime | None = None

    # -- registering --------------------------------------------------------------------------

    def put(self, declared: Declaration, actor: str, source: str = "api") -> PutOutcome:
        """Register a version: the same schema again is no change; another schema under an
        existing number, or one that breaks the type's compatibility, is a :class:`Conflict`."""
        try:
            return self._put(declared, actor, source)
        except _RegisteredMeanwhile:  # by another process: compare with what it stored
            return self._put(declared, actor, source)

    def _put(self, declared: Declaration, actor: str, source: str) -> PutOutcome:
        check_type_name(declared.type)
        if not 1 <= declared.version <= MAX_VERSIONS:
            raise InvalidField("version", f"must be from 1 to {MAX_VERSIONS}")
        text = canonical_text(declared.schema)
        if len(text.encode()) > MAX_SCHEMA_BYTES:
            raise InvalidField("schema", f"longer than {MAX_SCHEMA_BYTES} bytes as JSON")
        with self._uow() as uow:
            versions = [s for s in uow.schemas.all() if s.version.type == declared.type]
            mode = declared.compatibility or (
                versions[-1].version.compatibility
                if versions
                else self.policy.default_compatibility
            )
            candidate = SchemaVersion(
                declared.type, declared.version, declared.schema, text, mode, declared.upcast
            )
            if declared.version <= len(versions):
                return PutOutcome(self._same(versions[declared.version - 1], declared, text), False)
            if declared.version != len(versions) + 1:
                raise InvalidField(
                    "version",
                    f"the next version of {declared.type!r} is {len(versions) + 1} (versions "
                    "are numbered without gaps)",
                )
            self._check(candidate, versions[-1].version if versions else None)
            now = self._clock.now()
            if not uow.schemas.add(candidate, now, actor, source):
                raise _RegisteredMeanwhile
            uow.audit.append(
                AuditRecord(
                    at=now,
                    actor=actor,
                    action="schema.version_registered",
                    object_type="event_schema",
                    object_id=f"{declared.type}@{declared.version}",
                    before=None,
                    after={
                        "schema": declared.schema,
                        "compatibility": mode.value,
                        "upcast": declared.upcast.to_data() if declared.upcast else None,
                    },
                )
            )
            uow.commit()
        self.refresh(force=True)
        return PutOutcome(StoredSchema(candidate, now, actor, source), True)

    def sync(self, declarations: Sequence[Declaration], actor: str) -> list[StoredSchema]:
        """Register the versions declared in the config (in order), with the API's checks."""
        created = []
        for declared in declarations:
            outcome = self.put(declared, actor, source="config")
            if outcome.created:
                created.append(outcome.stored)
        return created

    def _same(self, stored: StoredSchema, declared: Declaration, text: str) -> StoredSchema:
        held = stored.version
        if held.text != text:
            raise Conflict(
                f"version {declared.version} of {declared.type!r} is registered with another "
                f"schema; a version never changes: register a new version instead"
            )
        if held.upcast != declared.upcast:
            raise Conflict(
                f"version {declared.version} of {declared.type!r} is registered with another "
                "upcast field map"
            )
        if declared.compatibility is not None and declared.compatibility is not held.compatibility:
            raise Conflict(
                f"version {declared.version} of {declared.type!r} was registered under "
                f"compatibility {held.compatibility.value!r}"
            )
        return stored

    def _check(self, candidate: SchemaVersion, previous: SchemaVersion | None) -> None:
        check_schema(candidate.schema, candidate.compatibility)
        self._compile(candidate.schema)  # refuses what the validator cannot run
        upcast = candidate.upcast
        if upcast and previous is None:
            raise InvalidField("upcast", "version 1 has no version before it to upcast from")
        properties = (
            candidate.schema.get("properties", {}) if isinstance(candidate.schema, Mapping) else {}
        )
        for name, value in upcast.defaults.items():
            if not accepts(properties.get(name, True), value):
                raise InvalidField(
                    f"upcast.defaults.{name}", "the default is not valid under the new schema"
                )
        if previous is not None:
            reason = breaking_change(previous, candidate)
            if reason is not None:
                raise Conflict(reason)

    # -- reading ------------------------------------------------------------------------------

    def versions(self) -> list[StoredSchema]:
        """Every registered version, by type and number."""
        with self._uow(write=False) as uow:
            return uow.schemas.all()

    def get(self, event_type: str, version: int) -> StoredSchema:
        """One version (:class:`NotFound` otherwise)."""
        for stored in self.versions():
            if stored.version.type == event_type and stored.version.version == version:
                return stored
        raise NotFound("schema version", f"{event_type}@{version}")

    def metered(self, event_type: str) -> bool:
        """Whether a configured meter reads this type (such types are known without a schema)."""
        return event_type in self._metered

    def known(self, event_type: str) -> bool:
        """Whether events of this type are declared: a schema, or a meter reading them."""
        screen = self.screen()
        return event_type in self._metered or (screen is not None and screen.declares(event_type))

    # -- the compiled snapshot ----------------------------------------------------------------

    def stale(self) -> bool:
        """Whether the snapshot should be read again before the next batch."""
        checked = self._checked_at
        return checked is None or self._clock.now() - checked >= self.policy.refresh

    def screen(self) -> Screen | None:
        """The compiled registry, or ``None`` when there is nothing to check (no version and
        every unknown type accepted: ingestion then runs as without a registry)."""
        if self._checked_at is None:
            self.refresh()
        return self._screen

    def refresh(self, *, force: bool = False) -> None:
        """Read the versions again if any were registered since the last look."""
        with self._lock:
            with self._uow(write=False) as uow:
                seen = uow.schemas.latest_change()
                stored = uow.schemas.all() if force or seen != self._seen else None
            self._checked_at = self._clock.now()
            if stored is None:
                return
            self._screen = compile_screen(stored, self._compile, self._metered, self.policy)
            self._seen = seen
            self._stored = tuple(stored)

    def state(self) -> ScreenState:
        """What the current screen was compiled from, for a process that compiles its own
        (a decoding process): it compiles again when ``seen`` moves."""
        if self._checked_at is None:
            self.refresh()
        return ScreenState(self._seen, self._stored)


@dataclass(frozen=True, slots=True)
class ScreenState:
    """The versions a screen is compiled from, and the registry's mark of them."""

    seen: tuple[int, datetime | None] | None
    stored: tuple[StoredSchema, ...]


def compile_screen(
    stored: Sequence[StoredSchema],
    compile_schema: SchemaCompiler,
    metered: frozenset[str],
    policy: SchemaPolicy,
) -> Screen | None:
    """The screen of ``stored`` versions, or ``None`` when there is nothing to check."""
    if not stored and policy.inert:
        return None
    checks: dict[str, list[DataCheck]] = {}
    upcasts: dict[str, list[Upcast]] = {}
    for item in stored:
        version = item.version
        checks.setdefault(version.type, []).append(compile_schema(version.schema))
        upcasts.setdefault(version.type, []).append(version.upcast)
    types = {t: _Checks(tuple(c), tuple(upcasts[t])) for t, c in checks.items()}
    return Screen(types, metered, policy)


ScreenSource = Callable[[], Screen | None]
