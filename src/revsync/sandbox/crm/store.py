"""The sandbox's records in SQLite: one row per record (its fields as JSON, plus indexed columns
for type, id, SystemModstamp and IsDeleted) and one row per external id value.

Every write goes through the checks Salesforce makes (known and writable fields, types, required
fields, references, unique external ids, the account hierarchy, validation rules) and stamps the
record: SystemModstamp is strictly increasing across the sandbox, one millisecond at least
between two writes, so watermark queries are deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from revsync.sandbox.crm import ids
from revsync.sandbox.crm.errors import ApiError, not_found
from revsync.sandbox.crm.schema import CREATE_DEFAULTS, FieldDef, ObjectDef, Schema
from revsync.sandbox.crm.values import coerce, format_datetime, parse_date, parse_datetime
from revsync.sandbox.sqlite import SqliteStore

Record = dict[str, Any]
#: a validation rule: the record as it would be saved → an error message, or None
Rule = Callable[[Mapping[str, Any]], str | None]
T = TypeVar("T")

_DDL = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    object TEXT NOT NULL,
    modstamp TEXT NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_modstamp ON records (object, modstamp);
CREATE INDEX IF NOT EXISTS records_by_deleted ON records (object, is_deleted, id);
CREATE TABLE IF NOT EXISTS external_ids (
    object TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (object, field, value, id)
);
CREATE INDEX IF NOT EXISTS external_ids_by_id ON external_ids (id);
"""
_MS = timedelta(milliseconds=1)


class MultipleMatches(Exception):
    """An external id value names several records (answered with 300 and their URLs)."""

    def __init__(self, object_def: ObjectDef, record_ids: Sequence[str]) -> None:
        super().__init__(f"{len(record_ids)} {object_def.name} records match")
        self.object_def = object_def
        self.record_ids = list(record_ids)


class _Rollback(Exception):
    """Raised inside a transaction to undo it."""


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last_day in (day.day, 30, 29, 28):
        try:
            return date(year, month, last_day)
        except ValueError:
            continue
    raise ValueError(f"cannot add {months} months to {day}")


def _external_key(value: Any) -> str:
    return str(value).casefold()


class Store(SqliteStore):
    """The records of one sandbox folder; thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path, schema: Schema, clock: Callable[[], datetime]) -> None:
        super().__init__(path, _DDL)
        self._schema = schema
        self._clock = clock
        self._rules: list[tuple[str, Rule]] = []
        self._last = self._load_last_stamp()
        if self.meta("created") is None:
            self.set_meta("created", format_datetime(self._now()))

    # -- stamps, rules -------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock().astimezone(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _load_last_stamp(self) -> datetime:
        row = self._conn.execute("SELECT MAX(modstamp) FROM records").fetchone()
        known = [v for v in (row[0], self.meta("last_stamp")) if v]
        stamps = [parse_datetime(v) for v in known]
        return max((s for s in stamps if s is not None), default=datetime.min.replace(tzinfo=UTC))

    def _stamp(self) -> datetime:
        """The next SystemModstamp: now, or one millisecond after the last one."""
        with self._lock:
            self._last = max(self._now(), self._last + _MS)
            self.set_meta("last_stamp", format_datetime(self._last))
            return self._last

    def horizon(self) -> datetime:
        """Every record stamped so far is before this; every later write is at or after it."""
        with self._lock:
            return max(self._now(), self._last + _MS)

    def add_rule(self, object_name: str, rule: Rule) -> None:
        """A validation rule for one sObject type (FIELD_CUSTOM_VALIDATION_EXCEPTION)."""
        object_def = self._schema.object(object_name)
        if object_def is None:
            raise ValueError(f"unknown sObject {object_name!r}")
        self._rules.append((object_def.name, rule))

    # -- reads ---------------------------------------------------------------------------------

    def _full(self, object_def: ObjectDef, body: str) -> Record:
        stored = json.loads(body)
        return {f.name: stored.get(f.name) for f in object_def.fields}

    def records(self, object_name: str, *, include_deleted: bool) -> list[Record]:
        """Every record of a type, in Id order (deleted ones too when asked)."""
        object_def = self._object(object_name)
        sql = "SELECT body FROM records WHERE object = ?"
        if not include_deleted:
            sql += " AND is_deleted = 0"
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", (object_def.name,)).fetchall()
        return [self._full(object_def, row[0]) for row in rows]

    def find(self, record_id: str) -> Record | None:
        """A live record of any type by its 18-character id."""
        object_def = self._schema.by_id(record_id)
        return None if object_def is None else self.get(object_def, record_id)

    def get(
        self, object_def: ObjectDef, record_id: str, *, include_deleted: bool = False
    ) -> Record | None:
        """A record of one type by id (15 or 18 characters); None when missing or deleted."""
        normal = ids.to18(record_id)
        if normal is None:
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT body, is_deleted FROM records WHERE id = ? AND object = ?",
                (normal, object_def.name),
            ).fetchone()
        if row is None or (row[1] and not include_deleted):
            return None
        return self._full(object_def, row[0])

    def find_external(self, object_def: ObjectDef, field: FieldDef, value: Any) -> list[str]:
        """The ids of live records whose external id ``field`` is ``value`` (case-insensitive)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM external_ids WHERE object = ? AND field = ? AND value = ? "
                "ORDER BY id",
                (object_def.name, field.name, _external_key(value)),
            ).fetchall()
        return [row[0] for row in rows]

    def updated_ids(self, object_def: ObjectDef, start: datetime, end: datetime) -> list[str]:
        """Live records whose SystemModstamp is in [start, end)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM records WHERE object = ? AND is_deleted = 0 "
                "AND modstamp >= ? AND modstamp < ? ORDER BY modstamp, id",
                (object_def.name, format_datetime(start), format_datetime(end)),
            ).fetchall()
        return [row[0] for row in rows]

    def deleted_between(
        self, object_def: ObjectDef, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        """(id, deletedDate) of records deleted in [start, end)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, modstamp FROM records WHERE object = ? AND is_deleted = 1 "
                "AND modstamp >= ? AND modstamp < ? ORDER BY modstamp, id",
                (object_def.name, format_datetime(start), format_datetime(end)),
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def earliest_date_available(self) -> str:
        """When the last physically deleted record was purged (else: the sandbox's creation)."""
        return self.meta("purged") or self.meta("created") or format_datetime(self._now())

    # -- writes --------------------------------------------------------------------------------

    def create(self, object_name: str, values: Mapping[str, Any]) -> Record:
        """Insert a record; ApiError when Salesforce would refuse it."""
        object_def = self._object(object_name)
        with self.transaction():
            if "id" in {k.lower() for k in values}:
                raise ApiError(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            changes = self._changes(object_def, values, creating=True)
            record: Record = {f.name: None for f in object_def.fields}
            record.update(CREATE_DEFAULTS.get(object_def.name, {}))
            record["OwnerId"] = ids.SANDBOX_USER_ID
            record.update({f.name: False for f in object_def.fields if f.type == "boolean"})
            record.update(changes)
            self._check(object_def, record, None)
            number = self._counter(f"id:{object_def.prefix}")
            stamp = format_datetime(self._stamp())
            record |= {"Id": ids.make_id(object_def.prefix, number), "IsDeleted": False}
            record |= {"CreatedDate": stamp, "CreatedById": ids.SANDBOX_USER_ID}
            self._computed(object_def, record, None, stamp)
            self._touch(record, stamp, automated=False)
            self._write(object_def, record)
            return record

    def update(
        self,
        object_name: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        automated: bool = False,
    ) -> Record:
        """Change a record; ``automated`` moves SystemModstamp but not LastModifiedDate (a
        workflow or a recalculation, not a user)."""
        object_def = self._object(object_name)
        with self.transaction():
            original = self._live(object_def, record_id)
            payload = {k: v for k, v in values.items() if k.lower() != "id"}
            changes = self._changes(object_def, payload, creating=False)
            record = {**original, **changes}
            self._check(object_def, record, original)
            stamp = format_datetime(self._stamp())
            self._computed(object_def, record, original, stamp)
            self._touch(record, stamp, automated=automated)
            self._write(object_def, record)
            return record

    def delete(self, object_name: str, record_id: str) -> None:
        """Soft-delete a record: IsDeleted, a new SystemModstamp, out of external id lookups."""
        object_def = self._object(object_name)
        with self.transaction():
            record = self._live(object_def, record_id)
            stamp = format_datetime(self._stamp())
            record["IsDeleted"] = True
            self._touch(record, stamp, automated=False)
            self._write(object_def, record)

    def upsert(
        self, object_name: str, field_name: str, value: str, values: Mapping[str, Any]
    ) -> tuple[Record, bool]:
        """Update the record whose external id ``field_name`` is ``value``, or create it;
        (record, created). MultipleMatches when several records have that value."""
        object_def = self._object(object_name)
        field = self.external_field(object_def, field_name)
        with self.transaction():
            matches = self.find_external(object_def, field, value)
            if len(matches) > 1:
                raise MultipleMatches(object_def, matches)
            payload = {k: v for k, v in values.items() if k.lower() != field.name.lower()}
            if matches:
                return self.update(object_def.name, matches[0], payload), False
            return self.create(object_def.name, {**payload, field.name: value}), True

    def apply_all(
        self, operations: Sequence[Callable[[], T]], all_or_none: bool
    ) -> list[T | ApiError]:
        """Run operations in one transaction; each result or its ApiError. With ``all_or_none``
        one error undoes every write, and the others report ALL_OR_NONE_OPERATION_ROLLED_BACK."""
        results: list[T | ApiError] = []
        try:
            with self.transaction():
                for operation in operations:
                    try:
                        results.append(operation())
                    except ApiError as error:
                        results.append(error)
                if all_or_none and any(isinstance(r, ApiError) for r in results):
                    raise _Rollback
        except _Rollback:
            rolled_back = ApiError(
                400,
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was "
                "using AllOrNone header",
            )
            return [r if isinstance(r, ApiError) else rolled_back for r in results]
        return results

    def purge_deleted(self) -> int:
        """Physically remove deleted records (as the recycle bin empties); moves
        earliestDateAvailable to the newest of them. Returns how many went."""
        with self.transaction():
            row = self._conn.execute(
                "SELECT COUNT(*), MAX(modstamp) FROM records WHERE is_deleted = 1"
            ).fetchone()
            if row[0]:
                self._conn.execute("DELETE FROM records WHERE is_deleted = 1")
                self.set_meta("purged", row[1])
            return int(row[0])

    # -- write helpers ---------------------------------------------------------------------------

    def _object(self, name: str) -> ObjectDef:
        object_def = self._schema.object(name)
        if object_def is None:
            raise not_found(f"The requested resource does not exist: sObject type {name}")
        return object_def

    def external_field(self, object_def: ObjectDef, field_name: str) -> FieldDef:
        """An external id field by name; 404 as Salesforce answers when it is not one."""
        field = object_def.field(field_name)
        if field is None or not field.external_id:
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {field_name}"
            )
        return field

    def _live(self, object_def: ObjectDef, record_id: str) -> Record:
        record = self.get(object_def, record_id, include_deleted=True)
        if record is None:
            raise not_found()
        if record["IsDeleted"]:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return record

    def _changes(
        self, object_def: ObjectDef, values: Mapping[str, Any], *, creating: bool
    ) -> Record:
        changes: Record = {}
        for key, value in values.items():
            if key == "attributes":
                continue
            field = object_def.field(key)
            if field is None:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {object_def.name}",
                )
            if not (field.createable if creating else field.updateable):
                raise ApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {field.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile or "
                    "permission set.",
                    [field.name],
                )
            changes[field.name] = coerce(field, value)
        return changes

    def _check(self, object_def: ObjectDef, record: Record, original: Record | None) -> None:
        missing = [
            f.name
            for f in object_def.fields
            if f.createable and not f.nillable and record.get(f.name) is None
        ]
        if missing:
            raise ApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        for field in object_def.fields:
            changed = original is None or original.get(field.name) != record.get(field.name)
            if not changed or record.get(field.name) is None:
                continue
            if field.type == "reference":
                self._check_reference(field, record[field.name])
            if field.unique:
                self._check_unique(object_def, field, record)
        if object_def.name == "Account" and record.get("ParentId") and original is not None:
            self._check_hierarchy(record["Id"], record["ParentId"])
        for object_name, rule in self._rules:
            message = rule(dict(record)) if object_name == object_def.name else None
            if message:
                raise ApiError(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", message, [])

    def _check_reference(self, field: FieldDef, target_id: str) -> None:
        if field.reference_to == ("User",):
            if target_id not in ids.USER_IDS:
                raise ApiError(
                    400,
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"{field.label}: invalid cross reference id",
                    [field.name],
                )
            return
        target_type = self._schema.by_id(target_id)
        if target_type is None or target_type.name not in field.reference_to:
            raise ApiError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                f"{field.label}: id value of incorrect type: {target_id}",
                [field.name],
            )
        if self.get(target_type, target_id) is None:
            raise ApiError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                f"{field.label}: invalid cross reference id",
                [field.name],
            )

    def _check_unique(self, object_def: ObjectDef, field: FieldDef, record: Record) -> None:
        others = [
            i
            for i in self.find_external(object_def, field, record[field.name])
            if i != record.get("Id")
        ]
        if others:
            raise ApiError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: {field.name} duplicates value on record with id: "
                f"{others[0]}",
                [field.name],
            )

    def _check_hierarchy(self, record_id: str, parent_id: str) -> None:
        seen: set[str] = set()
        current: str | None = parent_id
        while current and current not in seen:
            if current == record_id:
                raise ApiError(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    "Parent Account ID: an account cannot be its own parent or ancestor",
                    ["ParentId"],
                )
            seen.add(current)
            parent = self.find(current)
            current = parent.get("ParentId") if parent else None

    def _computed(
        self, object_def: ObjectDef, record: Record, original: Record | None, stamp: str
    ) -> None:
        if object_def.name != "Contract":
            return
        start = parse_date(record["StartDate"]) if record.get("StartDate") else None
        term = record.get("ContractTerm")
        record["EndDate"] = (
            (_add_months(start, term) - timedelta(days=1)).isoformat()
            if start is not None and term
            else None
        )
        if original is None:
            record["ContractNumber"] = f"{self._counter('contract_number'):08d}"
        was_active = original is not None and original.get("Status") == "Activated"
        if record.get("Status") == "Activated" and not was_active:
            record["ActivatedDate"] = stamp
        elif record.get("Status") != "Activated":
            record["ActivatedDate"] = None

    @staticmethod
    def _touch(record: Record, stamp: str, *, automated: bool) -> None:
        record["SystemModstamp"] = stamp
        if not automated:
            record["LastModifiedDate"] = stamp
            record["LastModifiedById"] = ids.SANDBOX_USER_ID

    def _write(self, object_def: ObjectDef, record: Record) -> None:
        record_id = record["Id"]
        self._conn.execute(
            "INSERT INTO records (id, object, modstamp, is_deleted, body) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET modstamp = excluded.modstamp, "
            "is_deleted = excluded.is_deleted, body = excluded.body",
            (
                record_id,
                object_def.name,
                record["SystemModstamp"],
                int(bool(record["IsDeleted"])),
                json.dumps(record, separators=(",", ":")),
            ),
        )
        self._conn.execute("DELETE FROM external_ids WHERE id = ?", (record_id,))
        if record["IsDeleted"]:
            return
        for field in object_def.external_ids():
            if record.get(field.name) is not None:
                self._conn.execute(
                    "INSERT INTO external_ids (object, field, value, id) VALUES (?, ?, ?, ?)",
                    (object_def.name, field.name, _external_key(record[field.name]), record_id),
                )
