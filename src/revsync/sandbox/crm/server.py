"""The HTTP face of the sandbox (FastAPI): the OAuth2 token endpoint, the REST API under
``/services/data/vXX.X/``, and the ``/_sandbox/`` admin endpoints that script faults.

Every REST request is counted by (method, kind), checked for a bearer token, offered to the
scripted faults, charged against the daily budget (except ``limits``), then dispatched; every
REST answer carries ``Sforce-Limit-Info``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from fastapi import FastAPI, Request, Response

from revsync.sandbox.crm import ids, query
from revsync.sandbox.crm.control import Control, Credentials, Fault, Usage
from revsync.sandbox.crm.errors import ApiError, not_found
from revsync.sandbox.crm.schema import ObjectDef, Schema, describe, describe_global_entry
from revsync.sandbox.crm.store import MultipleMatches, Store
from revsync.sandbox.crm.values import format_datetime, parse_datetime
from revsync.sandbox.replies import Reply

_VERSIONS = {
    "57.0": "Spring '23",
    "58.0": "Summer '23",
    "59.0": "Winter '24",
    "60.0": "Spring '24",
    "61.0": "Summer '24",
    "62.0": "Winter '25",
}
_VERSION = re.compile(r"v(\d{2}\.\d)")
_JSON = "application/json;charset=UTF-8"
_MAX_COLLECTION = 200
_KEPT_LOCATORS = 64
_FAULT_ANSWERS = {
    "REQUEST_LIMIT_EXCEEDED": ApiError(
        403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", None
    ),
    "UNABLE_TO_LOCK_ROW": ApiError(
        400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"
    ),
    "SERVER_UNAVAILABLE": ApiError(
        503, "SERVER_UNAVAILABLE", "Server temporarily unavailable; please try again later", None
    ),
    "INVALID_SESSION_ID": ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid", None),
}
#: per kind of REST resource, the methods it answers
_ALLOWED = {
    "resources": ("GET",),
    "limits": ("GET",),
    "query": ("GET",),
    "queryAll": ("GET",),
    "queryMore": ("GET",),
    "describeGlobal": ("GET",),
    "sobject": ("GET", "POST"),
    "describe": ("GET",),
    "updated": ("GET",),
    "deleted": ("GET",),
    "record": ("GET", "PATCH", "DELETE"),
    "externalId": ("GET", "PATCH", "DELETE"),
    "composite/sobjects": ("POST", "PATCH", "DELETE"),
}


@dataclass
class SandboxState:
    """What the app serves: the records, the schema, and the controls."""

    store: Store
    schema: Schema
    control: Control
    credentials: Credentials
    page_size: int
    locators: OrderedDict[str, tuple[int, list[dict[str, Any]]]] = field(
        default_factory=OrderedDict
    )
    locator_number: int = 0

    def keep_locator(self, total: int, records: list[dict[str, Any]]) -> str:
        """Remember the rest of a query's records under a new locator."""
        self.locator_number += 1
        locator = ids.make_id(ids.LOCATOR_PREFIX, self.locator_number)
        self.locators[locator] = (total, records)
        while len(self.locators) > _KEPT_LOCATORS:
            self.locators.popitem(last=False)
        return locator


@dataclass(frozen=True, slots=True)
class _Call:
    """One REST request, routed."""

    state: SandboxState
    method: str
    version: str
    kind: str
    args: tuple[str, ...]
    params: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes

    def body(self) -> Any:
        if not self.raw_body.strip():
            return {}
        try:
            return json.loads(self.raw_body)
        except ValueError:
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None

    def fields(self) -> dict[str, Any]:
        payload = self.body()
        if not isinstance(payload, dict):
            raise ApiError(
                400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a non-object"
            )
        return payload

    def object_def(self) -> ObjectDef:
        object_def = self.state.schema.object(self.args[0])
        if object_def is None:
            raise not_found()
        return object_def


def _json_response(reply: Reply) -> Response:
    return reply.response(_JSON)


def _error_reply(error: ApiError) -> Reply:
    return Reply(error.status, error.body())


# -- routing -------------------------------------------------------------------------------------


def classify(segments: list[str]) -> tuple[str, tuple[str, ...]]:
    """(kind, arguments) of a path under the version root, split into unquoted segments."""
    shape = [s.lower() for s in segments[:1]]
    size = len(segments)
    if size == 0:
        return "resources", ()
    if shape == ["limits"] and size == 1:
        return "limits", ()
    if segments[0] in ("query", "queryAll") and size <= 2:
        return ("queryMore" if size == 2 else segments[0]), tuple(segments[1:])
    if shape == ["composite"] and segments[1:] == ["sobjects"]:
        return "composite/sobjects", ()
    if shape != ["sobjects"]:
        return "unknown", ()
    if size == 1:
        return "describeGlobal", ()
    if size == 2:
        return "sobject", (segments[1],)
    if size == 3 and segments[2] in ("describe", "updated", "deleted"):
        return segments[2], (segments[1],)
    if size == 3:
        return "record", (segments[1], segments[2])
    if size == 4:
        return "externalId", (segments[1], segments[2], segments[3])
    return "unknown", ()


def _split(raw_path: str, prefix_segments: int) -> list[str]:
    parts = raw_path.split("?", 1)[0].split("/")
    rest = [unquote(p) for p in parts[prefix_segments:]]
    while rest and rest[-1] == "":
        rest.pop()
    return rest


# -- REST handlers -------------------------------------------------------------------------------


def _resources(call: _Call) -> Reply:
    root = f"/services/data/v{call.version}"
    names = ("sobjects", "query", "queryAll", "limits", "composite")
    return Reply(200, {name: f"{root}/{name}" for name in names})


def _limits(call: _Call) -> Reply:
    usage = call.state.control.usage()
    return Reply(
        200,
        {
            "DailyApiRequests": {"Max": usage.max, "Remaining": max(usage.max - usage.used, 0)},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        },
    )


def _page(call: _Call, total: int, records: list[dict[str, Any]], offset: int) -> Reply:
    size = call.state.page_size
    option = call.headers.get("sforce-query-options", "")
    match = re.search(r"batchSize=(\d+)", option)
    if match and 0 < int(match.group(1)) < size:
        size = int(match.group(1))
    page = records[offset : offset + size]
    payload: dict[str, Any] = {"totalSize": total, "done": offset + size >= len(records)}
    if not payload["done"]:
        locator = call.args[0].rsplit("-", 1)[0] if call.kind == "queryMore" else None
        locator = locator or call.state.keep_locator(total, records)
        payload["nextRecordsUrl"] = (
            f"/services/data/v{call.version}/query/{locator}-{offset + size}"
        )
    payload["records"] = page
    return Reply(200, payload)


def _query(call: _Call) -> Reply:
    text = call.params.get("q")
    if text is None:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    state = call.state
    result = query.run(
        text,
        state.schema,
        state.store,
        include_deleted=call.kind == "queryAll",
        version=call.version,
    )
    return _page(call, result.total, result.records, 0)


def _query_more(call: _Call) -> Reply:
    locator, _, offset = call.args[0].rpartition("-")
    kept = call.state.locators.get(locator)
    if kept is None or not offset.isdigit():
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    call.state.locators.move_to_end(locator)
    return _page(call, kept[0], kept[1], int(offset))


def _describe_global(call: _Call) -> Reply:
    objects = [describe_global_entry(o, call.version) for o in call.state.schema.objects()]
    return Reply(200, {"encoding": "UTF-8", "maxBatchSize": _MAX_COLLECTION, "sobjects": objects})


def _record_reply(call: _Call, object_def: ObjectDef, record: dict[str, Any]) -> Reply:
    wanted = call.params.get("fields")
    out: dict[str, Any] = {
        "attributes": {"type": object_def.name, "url": object_def.url(call.version, record["Id"])}
    }
    if wanted:
        for name in (n.strip() for n in wanted.split(",") if n.strip()):
            field_def = object_def.field(name)
            if field_def is None:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on sobject of type {object_def.name}",
                )
            out[field_def.name] = record.get(field_def.name)
    else:
        out.update(record)
    return Reply(200, out)


def _saved(record_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": record_id, "success": True, "errors": [], **extra}


def _sobject(call: _Call) -> Reply:
    object_def = call.object_def()
    if call.method == "GET":
        return Reply(
            200,
            {
                "objectDescribe": describe_global_entry(object_def, call.version),
                "recentItems": [],
            },
        )
    record = call.state.store.create(object_def.name, call.fields())
    return Reply(201, _saved(record["Id"]))


def _describe(call: _Call) -> Reply:
    return Reply(200, describe(call.object_def(), call.version))


def _window(call: _Call) -> tuple[datetime, datetime]:
    """[start, covered): ``covered`` is ``end`` or, when that is later, the last whole second
    before the next write — whole seconds, because simple-salesforce sends whole seconds."""
    moments = [parse_datetime(call.params.get(n, "")) for n in ("start", "end")]
    start, end = moments
    if start is None or end is None or end < start:
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            "start and end must be ISO 8601 datetimes with a time zone, start before end",
        )
    covered = min(end, call.state.store.horizon()).replace(microsecond=0)
    return start, max(start, covered)


def _updated(call: _Call) -> Reply:
    object_def = call.object_def()
    start, covered = _window(call)
    found = call.state.store.updated_ids(object_def, start, covered)
    return Reply(200, {"ids": found, "latestDateCovered": format_datetime(covered)})


def _deleted(call: _Call) -> Reply:
    object_def = call.object_def()
    start, covered = _window(call)
    store = call.state.store
    found = store.deleted_between(object_def, start, covered)
    return Reply(
        200,
        {
            "deletedRecords": [{"id": i, "deletedDate": when} for i, when in found],
            "earliestDateAvailable": store.earliest_date_available(),
            "latestDateCovered": format_datetime(covered),
        },
    )


def _record(call: _Call) -> Reply:
    object_def = call.object_def()
    store = call.state.store
    record_id = ids.to18(call.args[1])
    if record_id is None or not record_id.startswith(object_def.prefix):
        raise not_found(
            f"Provided external ID field does not exist or is not accessible: {call.args[1]}"
        )
    if call.method == "GET":
        record = store.get(object_def, record_id)
        if record is None:
            raise not_found()
        return _record_reply(call, object_def, record)
    if call.method == "PATCH":
        store.update(object_def.name, record_id, call.fields())
    else:
        store.delete(object_def.name, record_id)
    return Reply(204)


def _multiple(call: _Call, matches: MultipleMatches) -> Reply:
    return Reply(300, [matches.object_def.url(call.version, i) for i in matches.record_ids])


def _external(call: _Call) -> Reply:
    object_def = call.object_def()
    store = call.state.store
    field_def = store.external_field(object_def, call.args[1])
    value = call.args[2]
    if call.method == "PATCH":
        try:
            record, created = store.upsert(object_def.name, field_def.name, value, call.fields())
        except MultipleMatches as matches:
            return _multiple(call, matches)
        return Reply(201 if created else 200, _saved(record["Id"], created=created))
    found = store.find_external(object_def, field_def, value)
    if not found:
        raise not_found()
    if len(found) > 1:
        return _multiple(call, MultipleMatches(object_def, found))
    if call.method == "DELETE":
        store.delete(object_def.name, found[0])
        return Reply(204)
    current = store.get(object_def, found[0])
    if current is None:
        raise not_found()
    return _record_reply(call, object_def, current)


# -- composite sObject collections -----------------------------------------------------------------


def _collection_item(call: _Call, item: Any) -> tuple[str | None, Callable[[], dict[str, Any]]]:
    """(the record id named, the operation) for one record of a collection request."""
    store = call.state.store
    if not isinstance(item, dict):
        return None, _fail(ApiError(400, "JSON_PARSER_ERROR", "a record is a JSON object"))
    attributes = item.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    object_def = call.state.schema.object(type_name) if isinstance(type_name, str) else None
    if object_def is None:
        return None, _fail(
            ApiError(400, "INVALID_TYPE", f"sObject type {type_name!r} is not supported")
        )
    values = {k: v for k, v in item.items() if k != "attributes"}
    if call.method == "POST":
        return None, lambda: _saved(store.create(object_def.name, values)["Id"])
    raw_id = next((v for k, v in values.items() if k.lower() == "id"), None)
    record_id = ids.to18(raw_id) if isinstance(raw_id, str) else None
    if raw_id is None:
        return None, _fail(ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call"))
    if record_id is None or not record_id.startswith(object_def.prefix):
        return str(raw_id), _fail(ApiError(400, "MALFORMED_ID", f"bad id {raw_id}", ["Id"]))

    def update() -> dict[str, Any]:
        if store.get(object_def, record_id, include_deleted=True) is None:
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        store.update(object_def.name, record_id, values)
        return _saved(record_id)

    return record_id, update


def _fail(error: ApiError) -> Callable[[], dict[str, Any]]:
    def operation() -> dict[str, Any]:
        raise error

    return operation


def _delete_item(call: _Call, raw_id: str) -> tuple[str | None, Callable[[], dict[str, Any]]]:
    record_id = ids.to18(raw_id)
    object_def = call.state.schema.by_id(record_id) if record_id else None
    if record_id is None or object_def is None:
        return raw_id, _fail(ApiError(400, "MALFORMED_ID", f"bad id {raw_id}"))

    def delete() -> dict[str, Any]:
        call.state.store.delete(object_def.name, record_id)
        return _saved(record_id)

    return record_id, delete


def _composite(call: _Call) -> Reply:
    if call.method == "DELETE":
        raw_ids = [i for i in call.params.get("ids", "").split(",") if i]
        all_or_none = call.params.get("allOrNone", "false").lower() == "true"
        items = [_delete_item(call, i) for i in raw_ids]
    else:
        payload = call.body()
        records = payload.get("records") if isinstance(payload, dict) else None
        if not isinstance(records, list):
            raise ApiError(400, "JSON_PARSER_ERROR", "the request needs a records array")
        raw_ids = records
        all_or_none = bool(payload.get("allOrNone", False))
        items = [_collection_item(call, r) for r in records]
    if len(raw_ids) > _MAX_COLLECTION:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than "
            f"{_MAX_COLLECTION} records into this call",
        )
    outcomes = call.state.store.apply_all([op for _, op in items], all_or_none)
    results: list[dict[str, Any]] = []
    for (record_id, _), outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, ApiError):
            failed: dict[str, Any] = {"success": False, "errors": [outcome.composite_item()]}
            if record_id is not None:
                failed = {"id": record_id, **failed}
            results.append(failed)
        else:
            results.append(outcome)
    return Reply(200, results)


_HANDLERS: dict[str, Callable[[_Call], Reply]] = {
    "resources": _resources,
    "limits": _limits,
    "query": _query,
    "queryAll": _query,
    "queryMore": _query_more,
    "describeGlobal": _describe_global,
    "sobject": _sobject,
    "describe": _describe,
    "updated": _updated,
    "deleted": _deleted,
    "record": _record,
    "externalId": _external,
    "composite/sobjects": _composite,
}


def dispatch(call: _Call) -> Reply:
    """Answer a routed, authorised, charged REST request."""
    handler = _HANDLERS.get(call.kind)
    if handler is None:
        return _error_reply(not_found())
    allowed = _ALLOWED[call.kind]
    if call.method not in allowed:
        return _error_reply(
            ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{call.method}' not allowed. Allowed are {','.join(allowed)}",
            )
        )
    try:
        return handler(call)
    except ApiError as error:
        return _error_reply(error)


# -- the token endpoint ----------------------------------------------------------------------------


def _same(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def _basic(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)


def token_reply(
    state: SandboxState, form: dict[str, str], authorization: str | None, base: str
) -> Reply:
    """``POST /services/oauth2/token``: password and client_credentials grants."""
    basic_id, basic_secret = _basic(authorization)
    client_id = form.get("client_id") or basic_id
    client_secret = form.get("client_secret") or basic_secret
    grant = form.get("grant_type")
    expected = state.credentials
    if grant not in ("password", "client_credentials"):
        return Reply(
            400,
            {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
        )
    good = _same(client_id, expected.client_id) and _same(client_secret, expected.client_secret)
    if grant == "password":
        good = good and _same(form.get("username"), expected.username)
        good = good and _same(form.get("password"), expected.password)
    if not good:
        return Reply(400, {"error": "invalid_grant", "error_description": "authentication failure"})
    issued_at = str(int(time.time() * 1000))
    identity = f"{base}/id/{ids.SANDBOX_ORG_ID}/{ids.SANDBOX_USER_ID}"
    digest = hmac.new(
        expected.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
    )
    return Reply(
        200,
        {
            "access_token": state.control.issue_token(),
            "instance_url": base,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(digest.digest()).decode(),
        },
    )


# -- the admin endpoints ---------------------------------------------------------------------------


def admin_reply(state: SandboxState, method: str, action: str, body: bytes) -> Reply:
    """``/_sandbox/faults``, ``/_sandbox/reset-usage``, ``/_sandbox/requests``,
    ``/_sandbox/revoke-tokens``."""
    control = state.control
    try:
        payload = json.loads(body) if body.strip() else {}
        if not isinstance(payload, dict):
            raise TypeError("the body is a JSON object")
        if action == "faults" and method == "POST":
            control.script(tuple(Fault.from_json(item) for item in payload.get("faults", [])))
        elif action == "faults" and method == "DELETE":
            control.clear_faults()
        elif action == "reset-usage" and method == "POST":
            usage = control.reset_usage(int(payload.get("used", 0)), payload.get("max"))
            return Reply(200, {"used": usage.used, "max": usage.max})
        elif action == "requests" and method in ("GET", "DELETE"):
            if method == "DELETE":
                control.reset_counts()
            counts = [
                {"method": m, "kind": k, "count": n}
                for (m, k), n in sorted(control.counts().items())
            ]
            return Reply(200, {"counts": counts})
        elif action == "revoke-tokens" and method == "POST":
            control.revoke_tokens()
        elif action != "faults" or method != "GET":
            return Reply(404, {"error": f"no admin action {method} {action}"})
    except (TypeError, ValueError) as error:
        return Reply(400, {"error": str(error)})
    return Reply(200, {"pending_faults": control.pending_faults()})


# -- the app ---------------------------------------------------------------------------------------


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") and token.strip() else None


async def _serve_rest(state: SandboxState, request: Request) -> Response:
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    segments = _split(raw_path, 3)
    version_match = _VERSION.fullmatch(segments[0]) if segments else None
    kind, args = classify(segments[1:]) if version_match else ("unknown", ())
    method = request.method.upper()
    control = state.control
    control.count(method, kind)
    headers = {k.lower(): v for k, v in request.headers.items()}
    token = _bearer(headers)
    usage = control.usage()
    if token is None or not control.token_valid(token):
        return _with_usage(_error_reply(_FAULT_ANSWERS["INVALID_SESSION_ID"]), usage)
    relative = "/".join(segments[1:])
    fault = control.take_fault(method, request.url.path, relative)
    if fault is not None and fault.kind != "STALL":
        return _with_usage(_error_reply(_FAULT_ANSWERS[fault.kind]), usage)
    if fault is not None and not fault.after_commit:
        await asyncio.sleep(fault.seconds)
    if kind != "limits" and version_match:
        allowed, usage = control.charge()
        if not allowed:
            return _with_usage(_error_reply(_FAULT_ANSWERS["REQUEST_LIMIT_EXCEEDED"]), usage)
    if version_match is None:
        reply = _error_reply(not_found())
    else:
        call = _Call(
            state,
            method,
            version_match.group(1),
            kind,
            args,
            dict(request.query_params),
            headers,
            await request.body(),
        )
        reply = dispatch(call)
    if fault is not None and fault.after_commit:
        await asyncio.sleep(fault.seconds)
    return _with_usage(reply, usage if kind != "limits" else control.usage())


def _with_usage(reply: Reply, usage: Usage) -> Response:
    response = _json_response(reply)
    response.headers["Sforce-Limit-Info"] = usage.header
    return response


def build_app(state: SandboxState) -> FastAPI:
    """The sandbox's ASGI app over ``state``."""
    app = FastAPI(title="revsync CRM sandbox", openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/services/oauth2/token")
    async def token(request: Request) -> Response:
        state.control.count("POST", "token")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        base = str(request.base_url).rstrip("/")
        return _json_response(token_reply(state, form, request.headers.get("authorization"), base))

    @app.get("/services/data")
    @app.get("/services/data/")
    async def versions() -> Response:
        state.control.count("GET", "versions")
        listed = [
            {"label": label, "url": f"/services/data/v{number}", "version": number}
            for number, label in _VERSIONS.items()
        ]
        return _json_response(Reply(200, listed))

    @app.api_route("/services/data/{rest:path}", methods=["GET", "POST", "PATCH", "DELETE", "PUT"])
    async def rest(request: Request) -> Response:
        return await _serve_rest(state, request)

    @app.api_route("/_sandbox/{action}", methods=["GET", "POST", "DELETE"])
    async def admin(action: str, request: Request) -> Response:
        given = _bearer({k.lower(): v for k, v in request.headers.items()})
        if not _same(given, state.credentials.admin_token):
            return _json_response(Reply(401, {"error": "the sandbox admin token is required"}))
        return _json_response(admin_reply(state, request.method, action, await request.body()))

    return app
