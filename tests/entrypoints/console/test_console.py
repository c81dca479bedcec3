"""The operations console in process: signing in (session cookie, CSRF-safe forms), the access
table for its pages and actions, and what its pages show of real data. The browser tests
(tests/browser) click through the same pages in Chromium."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from revsync.adapters.db.tables import usage_events
from revsync.application.console import token_hash
from revsync.application.customers import PutCustomer
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import Settings
from revsync.domain.apikeys import GRANTS, Role
from revsync.domain.delivery import CaseStatus
from revsync.entrypoints.api.access import RULES
from revsync.entrypoints.api.app import create_app
from revsync.entrypoints.console.web import COOKIE, HEADERS
from revsync.ports.billing import InvoiceFilter
from revsync.ports.delivery import CaseFilter
from revsync.ports.support import Ticket
from revsync.sandbox.faults import FaultServer
from tests.conftest import NOW, make_settings
from tests.entrypoints.api.test_cases_api import failed_delivery
from tests.scenarios.harness import PRO
from tests.support.clock import FrozenClock, utc
from tests.support.delivery import destination, outbox_settings
from tests.support.events import encode, event

CONSOLE = {k: v for k, v in RULES.items() if k[1].startswith("/console/")}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def settings(db_url: str, target: FaultServer) -> Settings:
    return make_settings(db_url, **outbox_settings(destination(target)))


@pytest.fixture
def browser(container: Container) -> Iterator[TestClient]:
    """A client that keeps cookies and does not follow redirects, as a test of each step."""
    with TestClient(create_app(container), follow_redirects=False) as client:
        yield client


def secret(container: Container, *roles: str, customers: tuple[str, ...] = ()) -> str:
    name = f"console {' '.join(roles)}"
    return container.api_keys.create(name, list(roles), "test", customers).secret


def form_token(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: TestClient, key: str, next_page: str = "/console/") -> str:
    """Sign in through the form; the session's form token (from the page signed in to)."""
    form = client.get("/console/sign-in", params={"next": next_page})
    assert form.status_code == 200
    state = form_token(form.text, "state")
    answer = client.post(
        "/console/sign-in",
        data={"key": key, "state": state, "next": next_page},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == next_page
    page = client.get(next_page)
    assert page.status_code == 200, page.text
    return form_token(page.text, "csrf")


def test_pages_send_a_browser_without_a_session_to_the_sign_in_form(browser: TestClient) -> None:
    answer = browser.get("/console/cases")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/console/cases"
    assert browser.get("/console/sign-in").status_code == 200


def test_signing_in_sets_a_strict_http_only_cookie_and_the_pages_carry_security_headers(
    browser: TestClient, container: Container
) -> None:
    key = secret(container, "ops")
    form = browser.get("/console/sign-in")
    answer = browser.post(
        "/console/sign-in",
        data={"key": key, "state": form_token(form.text, "state"), "next": "/console/cases"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/cases"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert key not in cookie and len(token) >= 40
    page = browser.get("/console/cases")
    assert page.status_code == 200 and "console ops" in page.text
    for name, value in HEADERS.items():
        assert page.headers[name] == value
    # the token is stored hashed: the database never holds the cookie's value
    with container.unit_of_work(write=False) as uow:
        assert uow.console_sessions.get(token) is None
        assert uow.console_sessions.get(token_hash(token)) is not None


@pytest.mark.parametrize(
    ("roles", "customers", "reason"),
    [
        (None, (), "invalid or revoked API key"),
        (("metrics",), (), "lacks the 'read' role"),
        (("ingest",), (), "lacks the 'read' role"),
        (("read",), ("acme",), "limited to some customers"),
    ],
)
def test_a_key_that_cannot_use_the_console_is_refused_at_sign_in_with_the_reason(
    browser: TestClient,
    container: Container,
    roles: tuple[str, ...] | None,
    customers: tuple[str, ...],
    reason: str,
) -> None:
    if customers:
        container.customers.put(PutCustomer("acme", "Acme", "EUR", "UTC", None, {}, "test"))
    key = "rs_nothing_real" if roles is None else secret(container, *roles, customers=customers)
    form = browser.get("/console/sign-in")
    answer = browser.post(
        "/console/sign-in", data={"key": key, "state": form_token(form.text, "state")}
    )
    assert answer.status_code == 401
    assert reason in html.unescape(answer.text)
    assert COOKIE not in answer.cookies
    assert browser.get("/console/").status_code == 303


def test_a_sign_in_form_without_its_cookie_is_refused(
    browser: TestClient, container: Container
) -> None:
    """Login CSRF: a form posted from elsewhere has no sign-in cookie to match its token."""
    key = secret(container, "read")
    answer = browser.post("/console/sign-in", data={"key": key, "state": "forged"})
    assert answer.status_code == 401 and "expired" in answer.text
    assert browser.get("/console/").status_code == 303


def test_forms_without_the_session_token_or_from_another_site_are_refused(
    browser: TestClient, container: Container, target: FaultServer
) -> None:
    failed_delivery(container, target)
    [case] = container.cases.find(CaseFilter(), after=None, limit=5)
    csrf = sign_in(browser, secret(container, "ops"))
    url = f"/console/cases/{case.id}/resolve"
    for data, headers in (
        ({"reason": "x"}, {}),
        ({"reason": "x", "csrf": "not-it"}, {}),
        ({"reason": "x", "csrf": csrf}, {"Origin": "https://evil.example"}),
        ({"reason": "x", "csrf": csrf}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        answer = browser.post(url, data=data, headers=headers)
        assert answer.status_code == 403, (data, headers, answer.text)
    json_body = browser.post(url, json={"reason": "x", "csrf": csrf})
    assert json_body.status_code == 415
    assert container.cases.show(case.id).case.status is CaseStatus.OPEN
    # the same form, from the console, with its token: done and audited under the key
    done = browser.post(url, data={"reason": "settled by phone", "csrf": csrf})
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/cases/{case.id}?done=resolve"
    closed = container.cases.show(case.id).case
    assert (closed.status, closed.reason) == (CaseStatus.RESOLVED, "settled by phone")
    assert closed.closed_by is not None and closed.closed_by.startswith("api_key:")
    actions = [e.record.action for e in container.audit.entries(after=None, limit=1000)]
    assert "console.signed_in" in actions and "case.resolved" in actions


def test_closing_a_case_needs_a_reason_and_the_page_says_so(
    browser: TestClient, container: Container, target: FaultServer
) -> None:
    failed_delivery(container, target)
    [case] = container.cases.find(CaseFilter(), after=None, limit=5)
    csrf = sign_in(browser, secret(container, "ops"))
    answer = browser.post(f"/console/cases/{case.id}/ignore", data={"csrf": csrf, "reason": " "})
    assert answer.status_code == 422
    assert "ignore: a reason is required" in answer.text
    assert container.cases.show(case.id).case.status is CaseStatus.OPEN


@pytest.mark.parametrize("role", [r for r in Role if Role.READ in GRANTS[r]], ids=str)
def test_each_role_opens_the_console_pages_and_actions_the_table_gives_it(
    browser: TestClient, container: Container, role: Role
) -> None:
    csrf = sign_in(browser, secret(container, role.value))
    for (method, path), rule in CONSOLE.items():
        url = re.sub(r"\{[a-z_]+\}", "nothing", path)
        if method == "GET":
            answer = browser.get(url)
        else:
            answer = browser.post(url, data={"csrf": csrf, "reason": "r", "destination": "d"})
        refused = answer.status_code == 403
        assert refused == (rule.role not in GRANTS[role]), (method, path, answer.text)
        if refused:
            assert f"this API key lacks the '{rule.role.value}' role" in html.unescape(answer.text)
        else:
            assert answer.status_code in (200, 303, 404), (method, path, answer.text)
        if path == "/console/sign-out" and not refused:
            csrf = sign_in(browser, secret(container, role.value))


def test_a_revoked_key_or_an_ended_session_signs_the_browser_out(
    browser: TestClient, container: Container, clock: FrozenClock
) -> None:
    issued = container.api_keys.create("ops", ["ops"], "test")
    sign_in(browser, issued.secret)
    container.api_keys.revoke(issued.key.id, "test")
    assert browser.get("/console/").status_code == 303

    sign_in(browser, secret(container, "read"))
    clock.advance(timedelta(hours=container.settings.auth.console_session_hours, seconds=1))
    assert browser.get("/console/").status_code == 303


def test_signing_out_ends_the_session_for_good(browser: TestClient, container: Container) -> None:
    csrf = sign_in(browser, secret(container, "read"))
    token = browser.cookies[COOKIE]
    answer = browser.post("/console/sign-out", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
    browser.cookies.set(COOKIE, token, path="/console")  # the old cookie, kept by an attacker
    assert browser.get("/console/").status_code == 303
    actions = [e.record.action for e in container.audit.entries(after=None, limit=1000)]
    assert actions[-1] == "console.signed_out"


def test_an_unknown_page_object_is_a_404_page_not_json(
    browser: TestClient, container: Container
) -> None:
    sign_in(browser, secret(container, "read"))
    answer = browser.get("/console/invoices/inv_nothing")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "inv_nothing" in answer.text


def test_the_pages_show_a_customer_its_invoice_and_the_events_behind_a_usage_line(
    db_url: str, clock: FrozenClock, target: FaultServer
) -> None:
    settings = make_settings(db_url, plans=[PRO], **outbox_settings(destination(target)))
    wired = build(settings, clock=clock)
    try:
        apply_configuration(wired, "test")
        with TestClient(create_app(wired), follow_redirects=False) as client:
            admin = {"Authorization": f"Bearer {secret(wired, 'admin')}"}
            clock.set(utc(2026, 11, 20, 12))
            body = {"name": "Acme", "currency": "EUR", "external_refs": {"product": ["t-acme"]}}
            assert client.put("/v1/customers/acme", json=body, headers=admin).status_code == 201
            sub = {"customer_id": "acme", "plan": "pro", "start": "2026-11-01"}
            assert (
                client.put("/v1/subscriptions/s-acme", json=sub, headers=admin).status_code == 201
            )
            batch = [
                event(f"e-{n}", subject="t-acme", time="2026-11-10T09:00:00Z", type="api.request")
                for n in range(1500)
            ]
            ingest = {**admin, "Content-Type": "application/cloudevents-batch+json"}
            sent = client.post("/v1/events", content=encode(batch), headers=ingest)
            assert sent.json()["accepted"] == 1500
            alert = {"key": "calls-1k", "kind": "usage", "meter": "api_calls", "value": 1000}
            put = client.put(
                "/v1/subscriptions/s-acme/thresholds", json={"thresholds": [alert]}, headers=admin
            )
            assert put.status_code == 200, put.text
            assert len(wired.thresholds.sweep().crossings) == 1
            clock.set(utc(2026, 12, 4, 0))
            run = client.post("/v1/billing-runs", json={"as_of": "2026-12-04"}, headers=admin)
            assert run.status_code == 201, run.text
            invoices = client.get("/v1/invoices", headers=admin).json()["items"]
            [arrears] = [i for i in invoices if i["kind"] == "arrears"]
            assert arrears["totals"]["total"] == "6.00"  # 500 calls over the free 1,000 at 0.012
            wired.kpis.measure()

            sign_in(client, secret(wired, "read"))
            customer = html.unescape(client.get("/console/customers/acme").text)
            assert "Acme" in customer and arrears["number"] in customer
            assert 'aria-label="api_calls per day, last 30 days"' in customer
            assert "<title>2026-11-10: 1,500</title>" in customer
            assert "Entitlements" in customer and "The plan declares no features." in customer
            assert "<td>calls-1k</td>" in customer and "<td>usage of api_calls</td>" in customer

            page = html.unescape(client.get(f"/console/invoices/{arrears['id']}").text)
            assert arrears["number"] in page and "6.00 EUR" in page
            link = re.search(r'href="(/console/invoices/[^"]+/events)">1500 events</a>', page)
            assert link, page
            events = client.get(html.unescape(link.group(1)))
            assert events.status_code == 200
            assert events.text.count("<td>api.request</td>") == 50
            following = re.search(r'href="([^"]+\?after=\d+)">Next page', events.text)
            assert following, events.text
            second = client.get(html.unescape(following.group(1)))
            assert second.text.count("<td>api.request</td>") == 50

            clock.advance(timedelta(minutes=5))
            wired.kpis.measure()
            overview = client.get("/console/").text
            assert "Unbilled usage events" in overview and 'class="chart"' in overview
            # the KPIs read at once are charted too, from what each measurement kept of them
            for label in ("Unmapped tenants", "Sync completeness (share) of books"):
                assert f'aria-label="{label} over time"' in overview
            assert overview.count("<title>2026-12-04 00:0") >= 2 * 4  # two points, 4+ charts
            assert client.get("/console/invoices?status=finalized").status_code == 200

            # an event deleted from under the usage line: the reconciliation's finding, both
            # sides and its case are on the console
            e = usage_events.c
            with wired.engine.begin() as conn:
                conn.execute(sa.delete(usage_events).where(e.event_id == "e-7"))
            found = client.post("/v1/reconciliations", json={"checks": ["usage"]}, headers=admin)
            assert found.status_code == 201, found.text
            run = found.json()
            # the free tier's line and the paid tier's share the events: each is found
            assert len(run["cases_opened"]) == 2
            case_id = run["cases_opened"][0]
            listed = client.get("/console/reconciliations").text
            assert run["id"] in listed
            shown = html.unescape(client.get(f"/console/reconciliations/{run['id']}").text)
            assert "2 findings" in shown and "lineage" in shown
            assert "events: 1500" in shown and "events: 1499" in shown
            assert f'href="/console/cases/{case_id}"' in shown
            case = html.unescape(client.get(f"/console/cases/{case_id}").text)
            assert "reconciliation" in case and 'id="case-status">open<' in case
    finally:
        wired.close()


def test_hostile_forms_get_a_clear_4xx_and_nothing_else(
    browser: TestClient, container: Container
) -> None:
    key = secret(container, "ops")
    csrf = sign_in(browser, key)
    url = "/console/cases/replay"
    assert browser.post(url, content=b"csrf=\xff\xfe", headers=FORM).status_code == 400
    many = "&".join(f"f{n}=1" for n in range(50))
    assert browser.post(url, content=many.encode(), headers=FORM).status_code == 400
    long = browser.post(url, data={"csrf": csrf, "destination": "x" * 5000})
    assert long.status_code == 422 and "destination" in long.text
    huge = browser.post(url, content=b"csrf=" + b"a" * (2 * 1024 * 1024), headers=FORM)
    assert huge.status_code == 413
    empty = browser.post(url, data={"csrf": csrf, "destination": " "})
    assert empty.status_code == 422 and "destination" in empty.text
    # a page asked for with markup in its path shows it as text
    odd = browser.get("/console/customers/%3Cscript%3Ealert(1)")
    assert odd.status_code == 404
    assert "<script>" not in odd.text and "&lt;script&gt;" in odd.text


@pytest.mark.parametrize(
    "place", ["//evil.example/x", "https://evil.example/", "/console/\\evil", "/v1/cases"]
)
def test_sign_in_only_ever_leads_inside_the_console(
    browser: TestClient, container: Container, place: str
) -> None:
    form = browser.get("/console/sign-in")
    answer = browser.post(
        "/console/sign-in",
        data={
            "key": secret(container, "read"),
            "state": form_token(form.text, "state"),
            "next": place,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"


def test_an_operator_replays_a_destination_and_the_cases_page_says_how_many(
    browser: TestClient, container: Container, target: FaultServer
) -> None:
    failed_delivery(container, target)
    [case] = container.cases.find(CaseFilter(), after=None, limit=5)
    csrf = sign_in(browser, secret(container, "ops"))
    ignored = browser.post(
        f"/console/cases/{case.id}/ignore", data={"csrf": csrf, "reason": "later"}
    )
    assert ignored.status_code == 303
    answer = browser.post(
        "/console/cases/replay", data={"csrf": csrf, "destination": "books", "reason": "now"}
    )
    assert answer.status_code == 303
    assert (
        answer.headers["location"] == "/console/cases?status=retrying&destination=books&replayed=1"
    )
    page = browser.get(answer.headers["location"])
    assert "Replayed 1 case." in page.text and case.id in page.text
    assert container.cases.show(case.id).case.status is CaseStatus.RETRYING


def test_a_service_credit_case_is_approved_or_refused_from_its_page(
    browser: TestClient, container: Container
) -> None:
    """The page of a service-credit case offers approving and refusing the credit (not
    resolving it); approving with a finance key issues the credit note."""
    container.catalog.put_plan("pro", {k: v for k, v in PRO.items() if k != "code"}, "test")
    container.customers.put(PutCustomer("acme", "Acme", "EUR", "UTC", None, {}, "test"))
    container.subscriptions.create(
        CreateSubscription("s1", "acme", "pro", date(2026, 11, 1), "test")
    )
    container.billing.run(date(2026, 11, 1), "test")
    [invoice, *_] = container.billing.invoices(InvoiceFilter("acme"), after=None, limit=10)
    customer = container.customers.get("acme")
    fields = {"credit_amount": "1.00", "credit_invoice": invoice.number, "credit_reason": "slow"}
    asked = Ticket(7, 1, "Slow", "open", None, frozenset({"service_credit"}), fields, NOW, NOW)
    assert container.service_credits.take([(asked, customer)]) == [7]
    [case] = container.cases.find(CaseFilter(object_id="7"), after=None, limit=5)
    csrf = sign_in(browser, secret(container, "finance", "ops"))
    page = browser.get(f"/console/cases/{case.id}").text
    assert "Approve the credit" in page and "Refuse the credit" in page
    assert f"/console/cases/{case.id}/resolve" not in page
    done = browser.post(f"/console/cases/{case.id}/approve", data={"reason": "ok", "csrf": csrf})
    assert done.status_code == 303, done.text
    assert container.cases.show(case.id).case.status is CaseStatus.RESOLVED
    notes = container.billing.invoices(InvoiceFilter("acme"), after=None, limit=10)
    assert [n.totals.total for n in notes if n.credits_invoice == invoice.id] == [Decimal("-1.00")]
