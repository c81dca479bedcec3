"""The OpenAPI document, shaped in one place.

Routes declare what is theirs (a response model, the statuses only they answer, the schema of
a body they read raw with :func:`body`, ``Idempotency-Key`` with :data:`IDEMPOTENT`);
:func:`install` adds what every route shares, read from the document and from the access table:
the :class:`Error` answers (401, 403 and 429 on keyed routes, 404 under a path id, 400 and
413 where a body is read, 409 where a retry can collide, 422 where a field can be refused, 500
everywhere), the bearer scheme, and the pages that serve the document (``/v1/openapi.json``,
behind the ``read`` role) and show it (``/docs``, a public page that asks for a key).
"""

from __future__ import annotations

import copy
import http.client
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import FastAPI, Path, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema, models_json_schema

from revsync.entrypoints.api.access import PUBLIC, RULES, Key, Reach, Rule

_REF = "#/components/schemas/"
#: the media type of ``GET /metrics`` (Prometheus text exposition format)
METRICS_MEDIA: Final = "text/plain; version=0.0.4"
#: a decimal as the API writes it: plain notation, never a float
DECIMAL_PATTERN: Final = r"^-?[0-9]+(\.[0-9]+)?$"

#: an exact decimal in an answer (money, quantities): a string, e.g. "99.00"
DecimalText = Annotated[
    str, Field(pattern=DECIMAL_PATTERN, examples=["99.00"], json_schema_extra={"format": "decimal"})
]
#: an exact decimal in a request: a string, or a JSON number read from its text
DecimalIn = Annotated[
    str | int | float,
    Field(
        description='A decimal string ("99.00") or a JSON number, read exactly from its text; '
        "at most 30 digits before the point and 18 after.",
        examples=["99.00"],
    ),
]


#: a customer id in a path (the example names the customer of the docs and the tests)
CustomerId = Annotated[str, Path(description="The customer's id.", examples=["acme"])]


# --- the error shape -------------------------------------------------------------------------


class ErrorProblem(BaseModel):
    """One broken rule of a request."""

    field: str = Field(description="The field, dotted (`charges.1.tiers.0.up_to`).")
    reason: str


class ErrorDetail(BaseModel):
    """What went wrong, in revsync's words."""

    code: str = Field(
        description="Stable: `invalid`, `malformed_body`, `unauthorized`, `forbidden`, "
        "`not_found`, `conflict`, `refused`, `rate_limited`, `body_too_large`, "
        "`too_many_events`, `unsupported_media_type`, `idempotency.mismatch`, "
        "`idempotency.in_progress`, `idempotency.answer_lost`, `internal`, …",
        examples=["invalid"],
    )
    message: str = Field(description="`field: reason`, for people.")
    field: str | SkipJsonSchema[None] = Field(
        default=None, description="The field refused, when there is one."
    )
    problems: list[ErrorProblem] | SkipJsonSchema[None] = Field(
        default=None, description="Every broken rule, when a request breaks several."
    )
    request_id: str = Field(description="Also in the `X-Request-ID` header and the server log.")


class Error(BaseModel):
    """Every answer of 400 and above (but `/readyz`'s 503)."""

    error: ErrorDetail


#: what each status means when the route says nothing more
_MEANING: Final = {
    400: "The body is not JSON, or the `Idempotency-Key` header is malformed.",
    401: "No key, or a key that is unknown or revoked.",
    403: "The key lacks the role this operation needs, or cannot reach every customer.",
    404: "No such resource (or one beyond the key's customers).",
    409: "A retry collides with the first request of its `Idempotency-Key`, or an identity is "
    "held elsewhere.",
    413: "The body is longer than the limit; nothing was read.",
    415: "The Content-Type is not one this operation reads.",
    422: "A field is refused; `error.field` names it.",
    429: "The key is over its rate limit; retry after `Retry-After` seconds.",
    500: "A bug: the answer carries the request id that the server log carries.",
}

_RATE_HEADERS: Final = {
    "Retry-After": "Seconds to wait before trying again.",
    "RateLimit-Limit": "Requests allowed per window.",
    "RateLimit-Remaining": "Requests left in this window.",
    "RateLimit-Reset": "Seconds until the window resets.",
    "RateLimit-Policy": "The limit and its window, e.g. `100;w=60`.",
}

# --- what routes declare ----------------------------------------------------------------------

#: ``openapi_extra`` of a route that runs through ``idempotency.idempotent``
IDEMPOTENT: Final[dict[str, Any]] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Retry safely: the same key and request answer the first answer "
            "(`Idempotent-Replayed: true`); 1 to 255 visible ASCII characters; kept 24 h.",
            "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
        }
    ]
}

#: models of bodies read raw, documented by :func:`body`, added to the components
_BODY_MODELS: dict[str, type[BaseModel]] = {}


def body(
    model: type[BaseModel],
    *,
    example: dict[str, Any] | None = None,
    required: bool = True,
    idempotent: bool = False,
) -> dict[str, Any]:
    """``openapi_extra`` documenting a body the route reads raw as ``model`` (the route keeps
    its own checks, so that every 422 names the field in revsync's words)."""
    _BODY_MODELS[model.__name__] = model
    media: dict[str, Any] = {"schema": {"$ref": _REF + model.__name__}}
    if example is not None:
        media["example"] = example
    extra: dict[str, Any] = {
        "requestBody": {"required": required, "content": {"application/json": media}}
    }
    if idempotent:
        extra.update(copy.deepcopy(IDEMPOTENT))
    return extra


def answers(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses`` of a route: the statuses only it answers (status → why), each answered
    with an :class:`Error`."""
    return {status: {"description": why} for status, why in described.items()}


class MetricsText(Response):
    """``GET /metrics`` as documented (the route answers with the exporter's own type)."""

    media_type = METRICS_MEDIA


def operation_id(route: APIRoute) -> str:
    """A readable operationId: the endpoint function's name (a test checks they are unique)."""
    return route.name


# --- the document ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Described:
    """What an operation whose route documents itself loosely reads (``item``: each item of a
    body given as a bare array or object) and answers (``answer``: its success), described here."""

    item: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None


def install(app: FastAPI, described: dict[str, Described] | None = None) -> None:
    """Serve the shaped document at ``/v1/openapi.json`` (``read`` role) and the interactive
    page at ``/docs`` (public: it holds no data and asks for a key to load the document).
    ``described``: operationId → what to add to that operation's description."""
    shaped: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not shaped:
            shaped.update(shape(FastAPI.openapi(app), described or {}))
        return shaped

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/v1/openapi.json", include_in_schema=False)
    async def openapi_document(key: Key) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_PAGE, headers={"Cache-Control": "no-store"})


def shape(generated: dict[str, Any], described: dict[str, Described]) -> dict[str, Any]:
    """The document FastAPI generated, with revsync's errors, security and components."""
    doc = copy.deepcopy(generated)
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    models: dict[str, type[BaseModel]] = {"Error": Error, **_BODY_MODELS}
    for more in described.values():
        models.update({m.__name__: m for m in (more.item, more.answer) if m is not None})
    schemas.update(_schemas_of(models))
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "rsk_<prefix>_<secret>",
            "description": "An API key (`revsync apikey create`, or `POST /v1/api-keys`), "
            "sent as `Authorization: Bearer rsk_…`. Its roles decide what it may call.",
        }
    }
    doc["security"] = [{"bearer": []}]
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            _drop_null_default(prop)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            loose = described.get(operation.get("operationId", ""))
            if loose is not None:
                _describe(operation, loose)
            _shape_operation(method.upper(), path, operation)
    return doc


def _describe(operation: dict[str, Any], more: Described) -> None:
    """Fill the schemas a route left bare: a body's items, its success."""
    if more.item is not None:
        item = {"$ref": _REF + more.item.__name__}
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            bare = content.get("schema", {})
            if media.endswith("ndjson"):
                content["schema"] = {"type": "string", "description": "One item per line."}
            elif bare == {"type": "array"}:
                content["schema"] = {"type": "array", "items": item}
            elif bare in ({"type": "object"}, {}):
                content["schema"] = item
    if more.answer is not None:
        for status, answer in operation.get("responses", {}).items():
            content = answer.get("content", {}).get("application/json")
            if status.startswith("2") and content is not None and not content.get("schema"):
                content["schema"] = {"$ref": _REF + more.answer.__name__}
            elif status.startswith("2") and content is None:
                answer["content"] = {
                    "application/json": {"schema": {"$ref": _REF + more.answer.__name__}}
                }


def _drop_null_default(prop: dict[str, Any]) -> None:
    """A field left out of an answer when it is None (``SkipJsonSchema[None]``) has no default
    to document: ``null`` is not one of its values."""
    if "default" in prop and prop["default"] is None and "null" not in str(prop):
        del prop["default"]


def _schemas_of(models: dict[str, type[BaseModel]]) -> dict[str, Any]:
    _, top = models_json_schema(
        [(model, "validation") for model in models.values()], ref_template=_REF + "{model}"
    )
    found: dict[str, Any] = top.get("$defs", {})
    return found


def _shape_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    rule = RULES.get((method, path))
    if (method, path) in PUBLIC:
        operation["security"] = []
    parameters = operation.get("parameters", [])
    reads_body = "requestBody" in operation
    idempotent = any(p["name"] == "Idempotency-Key" for p in parameters)
    statuses: set[int] = {500}
    if rule is not None:
        statuses |= {401, 403, 429}
    if "{" in path:
        statuses.add(404)
    if reads_body:
        statuses |= {400, 413}
    if idempotent:
        statuses |= {400, 409}
    if reads_body or any(p["in"] == "query" for p in parameters):
        statuses.add(422)
    for code in statuses:
        responses.setdefault(str(code), {})
    operation["responses"] = responses = dict(sorted(responses.items()))
    for status, answer in responses.items():
        code = int(status)
        if code < 400 or "Readiness" in str(answer.get("content", "")):
            continue
        answer["description"] = _described(code, answer.get("description"), rule)
        answer["content"] = {"application/json": {"schema": {"$ref": _REF + "Error"}}}
        if code == 429:
            answer["headers"] = {
                name: {"description": why, "schema": {"type": "integer"}}
                for name, why in _RATE_HEADERS.items()
            }
            answer["headers"]["RateLimit-Policy"]["schema"] = {"type": "string"}
        if code == 401:
            answer["headers"] = {
                "WWW-Authenticate": {
                    "description": 'Bearer realm="revsync"',
                    "schema": {"type": "string"},
                }
            }


def _described(status: int, given: str | None, rule: Rule | None) -> str:
    if status == 403 and rule is not None:
        lacks = f"The key lacks the `{rule.role.value}` role"
        if rule.reach is Reach.ALL:
            return f"{lacks}, or is limited to some customers (this acts on every customer)."
        return f"{lacks}."
    generic = ("Validation Error", "Additional Response", _http(status))
    if given and given not in generic:
        return given
    return _MEANING.get(status, given or _http(status))


def _http(status: int) -> str:
    return http.client.responses.get(status, "Error")


#: Swagger UI, pinned, with the digests of the npm package's files (subresource integrity)
_SWAGGER_UI: Final = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0"
_SWAGGER_JS_SRI: Final = "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9"
_SWAGGER_CSS_SRI: Final = "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I"

#: the interactive page: it asks for a key, loads the document with it, and lets Swagger UI
#: send it (kept in the page's memory only, never stored)
_DOCS_PAGE: Final = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>revsync API</title>
<meta name="referrer" content="no-referrer">
<link rel="stylesheet" href="{_SWAGGER_UI}/swagger-ui.css"
 integrity="{_SWAGGER_CSS_SRI}" crossorigin="anonymous">
<style>
 body {{ margin: 0; font-family: sans-serif; }}
 form {{ padding: 1em 2em; background: #f4f4f4; }}
 #problem {{ color: #a00; }}
</style>
</head>
<body>
<form id="key-form">
 <label>API key (the document needs the <code>read</code> role)
 <input id="key" type="password" autocomplete="off" size="60" placeholder="rsk_…" required>
 </label>
 <button type="submit">Load</button> <span id="problem"></span>
</form>
<div id="swagger-ui"></div>
<script src="{_SWAGGER_UI}/swagger-ui-bundle.js"
 integrity="{_SWAGGER_JS_SRI}" crossorigin="anonymous"></script>
<script>
document.getElementById("key-form").addEventListener("submit", async (event) => {{
  event.preventDefault();
  const key = document.getElementById("key").value.trim();
  const problem = document.getElementById("problem");
  problem.textContent = "";
  const answer = await fetch("/v1/openapi.json", {{headers: {{Authorization: "Bearer " + key}}}});
  const body = await answer.json();
  if (!answer.ok) {{
    problem.textContent = body.error ? body.error.message : answer.statusText;
    return;
  }}
  const ui = SwaggerUIBundle({{spec: body, dom_id: "#swagger-ui", persistAuthorization: false}});
  ui.preauthorizeApiKey("bearer", key);
}});
</script>
</body>
</html>
"""
