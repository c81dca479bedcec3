"""The sandbox's records in SQLite: one row per record (its fields as JSON, plus indexed columns
for type, id, SystemModstamp and IsDeleted) and one row per external id value.

Every write goes through the checks Salesforce makes (known and writable fields, types, required
fields, references, unique external ids, the account hierarchy, price book rules, validation
rules) and stamps the record: SystemModstamp is strictly increasing across the sandbox, one
millisecond at least between two writes, so watermark queries are deterministic.

What an opportunity sells follows Salesforce: a product's price in a custom price book needs its
standard price first; a line takes its product, name and default price from its price book
entry, and its TotalPrice is Quantity × UnitPrice less Discount; an opportunity's Amount is the
sum of its lines, IsWon / IsClosed follow its stage; deleting an opportunity deletes its lines,
and a product, price book or entry sold on a line cannot be deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
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
_CENT = Decimal("0.01")
#: stage → (IsClosed, IsWon)
_CLOSED_STAGES = {"Closed Won": (True, True), "Closed Lost": (True, False)}


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


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def total_price(quantity: float, unit_price: float, discount: float | None) -> float:
    """An opportunity line's TotalPrice: Quantity × UnitPrice × (1 − Discount/100), to the cent."""
    total = _decimal(quantity) * _decimal(unit_price)
    if discount:
        total *= 1 - _decimal(discount) / 100
    return float(total.quantize(_CENT, ROUND_HALF_UP))


def _integrity(message: str, *fields: str) -> ApiError:
    return ApiError(400, "FIELD_INTEGRITY_EXCEPTION", message, list(fields))


def _delete_failed(message: str) -> ApiError:
    return ApiError(400, "DELETE_FAILED", message, [])


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
        self._ensure_standard_pricebook()

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

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """One write and what follows from it (a roll-up, a cascade): all of it or, when it is
        refused, nothing — also inside a larger transaction (a savepoint)."""
        with self.transaction():
            self._conn.execute("SAVEPOINT write")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK TO write")
                self._conn.execute("RELEASE write")
                raise
            self._conn.execute("RELEASE write")

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
        with self._atomic():
            if "id" in {k.lower() for k in values}:
                raise ApiError(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            changes = self._changes(object_def, values, creating=True)
            record: Record = {f.name: None for f in object_def.fields}
            record.update(CREATE_DEFAULTS.get(object_def.name, {}))
            if "OwnerId" in record:
                record["OwnerId"] = ids.SANDBOX_USER_ID
            record.update({f.name: False for f in object_def.fields if f.type == "boolean"})
            record.update(changes)
            self._derive(object_def, record, None)
            self._check(object_def, record, None)
            number = self._counter(f"id:{object_def.prefix}")
            stamp = format_datetime(self._stamp())
            record |= {"Id": ids.make_id(object_def.prefix, number), "IsDeleted": False}
            record |= {"CreatedDate": stamp, "CreatedById": ids.SANDBOX_USER_ID}
            self._computed(object_def, record, None, stamp)
            self._touch(record, stamp, automated=False)
            self._write(object_def, record)
            self._after_save(object_def, record)
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
        with self._atomic():
            original = self._live(object_def, record_id)
            payload = {k: v for k, v in values.items() if k.lower() != "id"}
            changes = self._changes(object_def, payload, creating=False)
            record = {**original, **changes}
            self._derive(object_def, record, original)
            self._check(object_def, record, original)
            stamp = format_datetime(self._stamp())
            self._computed(object_def, record, original, stamp)
            self._touch(record, stamp, automated=automated)
            self._write(object_def, record)
            self._after_save(object_def, record)
            return record

    def delete(self, object_name: str, record_id: str) -> None:
        """Soft-delete a record: IsDeleted, a new SystemModstamp, out of external id lookups;
        what Salesforce deletes with it goes too (an opportunity's lines, a product's or a price
        book's entries)."""
        object_def = self._object(object_name)
        with self._atomic():
            record = self._live(object_def, record_id)
            self._check_delete(object_def, record)
            self._soft_delete(object_def, record)
            self._after_delete(object_def, record)

    def _soft_delete(self, object_def: ObjectDef, record: Record) -> None:
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
        self._check_pricing(object_def, record, original)
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

    # -- products, price books, opportunity lines --------------------------------------------------

    def _ensure_standard_pricebook(self) -> None:
        """The org's standard price book, there from the start (stamped just before the sandbox
        was made, so the first write keeps its stamp)."""
        pricebook = self._object("Pricebook2")
        if self.get(pricebook, ids.STANDARD_PRICEBOOK_ID, include_deleted=True) is not None:
            return
        created = parse_datetime(self.meta("created") or "") or self._now()
        stamp = format_datetime(created - _MS)
        record: Record = {f.name: None for f in pricebook.fields}
        record |= {"Id": ids.STANDARD_PRICEBOOK_ID, "IsDeleted": False}
        record |= {"Name": "Standard Price Book", "IsActive": True, "IsStandard": True}
        record |= {"CreatedDate": stamp, "CreatedById": ids.SANDBOX_USER_ID}
        self._touch(record, stamp, automated=False)
        counter = f"id:{pricebook.prefix}"
        with self.transaction():
            self._write(pricebook, record)
            if int(self.meta(counter) or 0) < 1:
                self.set_meta(counter, "1")

    def _live_where(self, object_name: str, field_name: str, value: str) -> list[Record]:
        """The live records of a type whose ``field_name`` is ``value``, in Id order."""
        object_def = self._object(object_name)
        with self._lock:
            rows = self._conn.execute(
                "SELECT body FROM records WHERE object = ? AND is_deleted = 0 "
                "AND json_extract(body, ?) = ? ORDER BY id",
                (object_def.name, f"$.{field_name}", value),
            ).fetchall()
        return [self._full(object_def, row[0]) for row in rows]

    def _lookup(self, object_name: str, record_id: Any) -> Record | None:
        if not isinstance(record_id, str):
            return None
        return self.get(self._object(object_name), record_id)

    def _lines(self, opportunity_id: str) -> list[Record]:
        return self._live_where("OpportunityLineItem", "OpportunityId", opportunity_id)

    def _entries(self, pricebook_id: str, product_id: str) -> list[Record]:
        return [
            e
            for e in self._live_where("PricebookEntry", "Product2Id", product_id)
            if e["Pricebook2Id"] == pricebook_id
        ]

    def _derive(self, object_def: ObjectDef, record: Record, original: Record | None) -> None:
        """The fields Salesforce fills in before it checks a save."""
        name = object_def.name
        if name == "Opportunity":
            record["IsClosed"], record["IsWon"] = _CLOSED_STAGES.get(
                record.get("StageName") or "", (False, False)
            )
            if original is not None and (lines := self._lines(record["Id"])):
                record["Amount"] = self._amount(lines)
        elif name == "PricebookEntry":
            self._derive_entry(record, original)
        elif name == "OpportunityLineItem":
            entry = self._lookup("PricebookEntry", record.get("PricebookEntryId"))
            if original is None and entry is not None:
                product = self._lookup("Product2", entry["Product2Id"])
                record["Product2Id"] = entry["Product2Id"]
                record["Name"] = product["Name"] if product else entry["Name"]
                if record.get("UnitPrice") is None:
                    record["UnitPrice"] = entry["UnitPrice"]
            quantity, price = record.get("Quantity"), record.get("UnitPrice")
            record["TotalPrice"] = (
                None
                if quantity is None or price is None
                else total_price(quantity, price, record.get("Discount"))
            )

    def _derive_entry(self, record: Record, original: Record | None) -> None:
        product = self._lookup("Product2", record.get("Product2Id"))
        if original is None and product is not None:
            record["Name"], record["ProductCode"] = product["Name"], product["ProductCode"]
        standard = record.get("Pricebook2Id") == ids.STANDARD_PRICEBOOK_ID
        if record.get("UseStandardPrice") and not standard and product is not None:
            found = self._entries(ids.STANDARD_PRICEBOOK_ID, product["Id"])
            if found:
                record["UnitPrice"] = found[0]["UnitPrice"]

    @staticmethod
    def _amount(lines: Sequence[Record]) -> float:
        total = sum((_decimal(line["TotalPrice"] or 0) for line in lines), Decimal(0))
        return float(total.quantize(_CENT, ROUND_HALF_UP))

    def _check_pricing(
        self, object_def: ObjectDef, record: Record, original: Record | None
    ) -> None:
        """Salesforce's rules on price book entries, lines, and an opportunity's price book."""
        name = object_def.name
        if name == "PricebookEntry" and original is None:
            self._check_new_entry(record)
        elif name == "OpportunityLineItem" and original is None:
            self._check_new_line(record)
        elif name == "Opportunity" and original is not None:
            before = original.get("Pricebook2Id")
            changed = before is not None and record.get("Pricebook2Id") != before
            if changed and self._lines(record["Id"]):
                raise _integrity(
                    "Price Book ID: the price book of an opportunity with products cannot change",
                    "Pricebook2Id",
                )

    def _check_new_entry(self, record: Record) -> None:
        pricebook_id, product_id = record["Pricebook2Id"], record["Product2Id"]
        standard = pricebook_id == ids.STANDARD_PRICEBOOK_ID
        if standard and record.get("UseStandardPrice"):
            raise _integrity(
                "Use Standard Price: an entry of the standard price book is the standard price",
                "UseStandardPrice",
            )
        if not standard and not self._entries(ids.STANDARD_PRICEBOOK_ID, product_id):
            raise ApiError(
                400, "STANDARD_PRICE_NOT_DEFINED", "No standard price defined for this product", []
            )
        if self._entries(pricebook_id, product_id):
            raise ApiError(
                400,
                "DUPLICATE_VALUE",
                "This price definition already exists in this price book",
                [],
            )

    def _check_new_line(self, record: Record) -> None:
        entry = self._lookup("PricebookEntry", record["PricebookEntryId"])
        opportunity = self._lookup("Opportunity", record["OpportunityId"])
        if entry is None or opportunity is None:
            return
        if not entry["IsActive"]:
            raise _integrity(
                "field integrity exception: PricebookEntryId (pricebook entry is inactive)",
                "PricebookEntryId",
            )
        assigned = opportunity.get("Pricebook2Id")
        if assigned is not None and assigned != entry["Pricebook2Id"]:
            raise _integrity(
                "PricebookEntry is in a different pricebook than the one assigned to the "
                "Opportunity",
                "PricebookEntryId",
            )

    def _after_save(self, object_def: ObjectDef, record: Record) -> None:
        if object_def.name == "OpportunityLineItem":
            entry = self._lookup("PricebookEntry", record["PricebookEntryId"])
            pricebook = entry["Pricebook2Id"] if entry is not None else None
            self._roll_up(record["OpportunityId"], pricebook)

    def _roll_up(self, opportunity_id: str, pricebook_id: str | None = None) -> None:
        """An opportunity's Amount from its lines, and its price book from its first line."""
        opportunity = self._lookup("Opportunity", opportunity_id)
        if opportunity is None:
            return
        lines = self._lines(opportunity_id)
        changes: Record = {"Amount": self._amount(lines)}
        if pricebook_id is not None and opportunity.get("Pricebook2Id") is None:
            changes["Pricebook2Id"] = pricebook_id
        if any(opportunity.get(k) != v for k, v in changes.items()):
            self.update("Opportunity", opportunity_id, changes, automated=True)

    def _check_delete(self, object_def: ObjectDef, record: Record) -> None:
        name = object_def.name
        if name == "Pricebook2" and record["IsStandard"]:
            raise _delete_failed("The standard price book cannot be deleted")
        if name in ("Pricebook2", "Product2"):
            self._check_unsold(record["Name"], self._entries_of(name, record["Id"]))
        elif name == "PricebookEntry":
            self._check_unsold(record["Name"] or record["Id"], [record])
            if record["Pricebook2Id"] == ids.STANDARD_PRICEBOOK_ID and any(
                e["Pricebook2Id"] != ids.STANDARD_PRICEBOOK_ID
                for e in self._live_where("PricebookEntry", "Product2Id", record["Product2Id"])
            ):
                raise _delete_failed(
                    "The standard price of a product cannot be deleted while other price books "
                    "price it"
                )

    def _entries_of(self, object_name: str, record_id: str) -> list[Record]:
        """The live entries of a price book or of a product."""
        key = "Pricebook2Id" if object_name == "Pricebook2" else "Product2Id"
        return self._live_where("PricebookEntry", key, record_id)

    def _check_unsold(self, name: str, entries: Sequence[Record]) -> None:
        sold_on: list[str] = []
        for entry in entries:
            for line in self._live_where("OpportunityLineItem", "PricebookEntryId", entry["Id"]):
                opportunity = self._lookup("Opportunity", line["OpportunityId"])
                label = opportunity["Name"] if opportunity else line["OpportunityId"]
                if label not in sold_on:
                    sold_on.append(label)
        if sold_on:
            raise _delete_failed(
                f"Your attempt to delete {name} could not be completed because it is associated "
                f"with the following opportunities: {', '.join(sold_on)}"
            )

    def _after_delete(self, object_def: ObjectDef, record: Record) -> None:
        name = object_def.name
        if name == "Opportunity":
            line_def = self._object("OpportunityLineItem")
            for line in self._lines(record["Id"]):
                self._soft_delete(line_def, line)
        elif name in ("Pricebook2", "Product2"):
            entry_def = self._object("PricebookEntry")
            for entry in self._entries_of(name, record["Id"]):
                self._soft_delete(entry_def, entry)
        elif name == "OpportunityLineItem":
            self._roll_up(record["OpportunityId"])

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
