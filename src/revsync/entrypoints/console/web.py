"""The console's plumbing: its route class (HTML errors, security headers), the signed-in
dependency, forms with their CSRF token, and rendering."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool

from revsync.application.console import SignedIn
from revsync.bootstrap import Container
from revsync.domain.errors import Conflict, DomainError, InvalidField, NotFound
from revsync.entrypoints.api.access import admit
from revsync.entrypoints.api.errors import ApiError

#: the session cookie (the token; only its hash is stored)
COOKIE = "revsync_console"
#: the sign-in form's own token, sent back by the form and as a cookie (double submit)
SIGN_IN_COOKIE = "revsync_console_sign_in"
#: what the pages may load: their own style sheet; no script, no frames, no other origin
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: the most fields a console form has, and the longest value
MAX_FIELDS, MAX_VALUE = 20, 4000


class SignInNeeded(Exception):
    """No live session: the browser is sent to the sign-in page."""


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _money(value: Decimal) -> str:
    return f"{value:,}"


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


TEMPLATES = Environment(
    loader=PackageLoader("revsync.entrypoints.console", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters.update(money=_money, when=_when, age=_age, pretty=_json)
TEMPLATES.globals["quote"] = lambda value: quote(str(value), safe="")


def render(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    """A page, with the signed-in key (if any) and its form token."""
    viewer: SignedIn | None = getattr(request.state, "signed_in", None)
    page = TEMPLATES.get_template(template).render(
        viewer=viewer,
        csrf=viewer.session.csrf if viewer else "",
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=code)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error as a page, with the same words the API would use."""
    return render(request, "error.html", status, status=status, message=message)


class ConsoleRoute(APIRoute):
    """A console route: errors become pages, a missing session becomes the sign-in page, and
    every answer carries the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                response = await handle(request)
            except SignInNeeded:
                target = quote(request.url.path, safe="/")
                response = RedirectResponse(f"/console/sign-in?next={target}", status_code=303)
            except ApiError as error:
                response = error_page(request, error.status, error.message)
                response.headers.update(error.headers or {})
            except NotFound as error:
                response = error_page(request, 404, str(error))
            except Conflict as error:
                response = error_page(request, 409, str(error))
            except DomainError as error:
                response = error_page(request, 422, str(error))
            except RequestValidationError as error:
                fields = ", ".join(".".join(map(str, e["loc"][1:])) for e in error.errors())
                response = error_page(request, 422, f"invalid: {fields}")
            response.headers.update(HEADERS)
            return response

        return page


async def signed_in(request: Request) -> SignedIn:
    """The dependency of every page behind the sign-in: a live session whose key the access
    table lets through to this page (roles, reach, rate limit), as for the API."""
    token = request.cookies.get(COOKIE, "")
    found = None
    if 0 < len(token) <= 200:
        found = await run_in_threadpool(container_of(request).console_sessions.resume, token)
    if found is None:
        raise SignInNeeded
    request.state.signed_in = found
    await admit(request, found.key)
    return found


#: a page parameter holding the signed-in session
Viewer = Annotated[SignedIn, Depends(signed_in)]


def same_origin(request: Request) -> None:
    """Refuse a form posted from another site (the browser says so in ``Sec-Fetch-Site`` or
    ``Origin``); the session cookie is ``SameSite=Strict`` as well."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise ApiError(403, "forbidden", "a console form may only be sent from the console")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise ApiError(403, "forbidden", "a console form may only be sent from the console")


async def form_of(request: Request) -> dict[str, str]:
    """The fields of a posted form (``application/x-www-form-urlencoded``), last value of
    each; 400 / 415 for anything else."""
    same_origin(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "send the console's form")
    body = await request.body()  # at most the API's body limit (BodyLimit)
    try:
        fields = parse_qs(
            body.decode(), keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid", "the form is not valid UTF-8 fields") from None
    values = {name: found[-1] for name, found in fields.items()}
    for name, value in values.items():
        if len(value) > MAX_VALUE:
            raise InvalidField(name, f"longer than {MAX_VALUE} characters")
    return values


async def checked_form(request: Request, viewer: SignedIn) -> dict[str, str]:
    """A posted form that carries this session's token (else 403: a forged or stale form)."""
    values = await form_of(request)
    if not viewer.accepts(values.get("csrf", "")):
        raise ApiError(
            403, "forbidden", "this form is stale or not from this session: reload the page"
        )
    return values


def back_to(target: str) -> RedirectResponse:
    """After a change, show the page again (POST, then redirect, then GET)."""
    return RedirectResponse(target, status_code=303)


def local(target: str | None) -> str:
    """A page to go to after sign-in: only a path inside the console."""
    if target and target.startswith("/console/") and "//" not in target and "\\" not in target:
        return target
    return "/console/"
