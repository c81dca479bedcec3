"""The Zendesk-compatible support sandbox, driven by the real zenpy client over HTTPS.

How zenpy is pointed at the sandbox: zenpy builds every URL as
``https://{subdomain}.{domain}/api/v2``, so ``Zenpy(subdomain="127", domain=f"0.0.1:{port}")``
gives ``https://127.0.0.1:PORT/api/v2``. It takes ``session=``: a ``requests.Session`` whose
``verify`` is the sandbox's certificate (``trust_env`` off, or REQUESTS_CA_BUNDLE from the
environment would override it). Given ``email`` and ``token`` too, zenpy 2.0.57's
``_init_session`` sets ``session.auth = ("{email}/token", token)`` on that same session (a
session already carrying auth is only kept if it is an authorised OAuth session), so nothing
else is needed. ``disable_cache=True``: zenpy otherwise answers ``tickets(id=…)`` from its own
cache after a create or update, without asking the sandbox.

What zenpy does that a test must know: lists of tickets, users and organizations are asked
with ``page[size]=100`` (cursor pages, followed by ``links.next`` while ``meta.has_more``);
``tickets.incremental(start_time=…)`` is the cursor export unless ``paginate_by_time=True``;
the time-based generator stops at a page whose ``end_time`` is less than five minutes old even
when ``end_of_stream`` is false (so the export tests stamp records with a clock set in the
past); ``organizations.external(x)`` asks ``search.json?external_id=x?page[size]=100&…`` — a
malformed URL that finds nothing (``organizations(external_id=x)`` asks ``show_many.json``);
a 429 is retried after sleeping ``Retry-After`` seconds (in one-second steps, charged against
``ratelimit_budget``); 500 and 503 are raised at once.

One seeded sandbox serves the module; tests that need a folder or a clock of their own start
one in ``tmp_path``. Every test leaves the shared sandbox's faults, budget and page sizes as it
found them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Organization, Ticket, TicketField, User, Webhook
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, RecordNotFoundException

from revsync.sandbox.support import DEFAULT_CUSTOM_FIELDS, Fault, SupportSandbox, sign

PAGE_SIZE = 10
SEED = 12


# -- helpers -------------------------------------------------------------------------------------


def https_session(sandbox: SupportSandbox) -> requests.Session:
    session = requests.Session()
    session.verify = str(sandbox.cert_path)
    session.trust_env = False
    return session


def connect(sandbox: SupportSandbox, **options: Any) -> Zenpy:
    """The real client, as a connector's tests build it."""
    return Zenpy(
        subdomain="127",
        domain=f"0.0.1:{sandbox.port}",
        email=sandbox.credentials.email,
        token=sandbox.credentials.token,
        session=https_session(sandbox),
        disable_cache=True,
        **options,
    )


def raw(sandbox: SupportSandbox) -> requests.Session:
    """A plain authenticated session, for what zenpy cannot express."""
    session = https_session(sandbox)
    session.auth = (f"{sandbox.credentials.email}/token", sandbox.credentials.token)
    return session


def api(sandbox: SupportSandbox, path: str) -> str:
    return f"{sandbox.url}/api/v2/{path}"


def error_of(caught: pytest.ExceptionInfo[APIException]) -> tuple[int, dict[str, Any]]:
    response = caught.value.response
    return response.status_code, response.json()


def field_ids(zenpy: Zenpy) -> dict[str, int]:
    return {f.title: f.id for f in zenpy.ticket_fields()}


def new_ticket(zenpy: Zenpy, subject: str = "Help", **members: Any) -> Ticket:
    audit = zenpy.tickets.create(Ticket(subject=subject, comment=Comment(body="first"), **members))
    return audit.ticket


class Clock:
    """A settable clock for sandboxes whose records must be stamped in the past."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Receiver:
    """A webhook endpoint on loopback: answers the scripted statuses (then 200) and keeps every
    request (headers, body)."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append((dict(self.headers.items()), body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SupportSandbox]:
    folder = tmp_path_factory.mktemp("support")
    with SupportSandbox(folder, seed=SEED, page_size=PAGE_SIZE, webhook_backoff=0.05) as started:
        yield started


@pytest.fixture(autouse=True)
def _restore(sandbox: SupportSandbox) -> Iterator[None]:
    yield
    sandbox.clear_faults()
    sandbox.set_rate_limit(700)
    sandbox.set_page_sizes(PAGE_SIZE, 1000)


@pytest.fixture
def zenpy(sandbox: SupportSandbox) -> Zenpy:
    return connect(sandbox)


# -- authentication ------------------------------------------------------------------------------


def test_a_wrong_or_missing_token_is_refused(sandbox: SupportSandbox) -> None:
    wrong = Zenpy(
        subdomain="127",
        domain=f"0.0.1:{sandbox.port}",
        email=sandbox.credentials.email,
        token="not-the-token",
        session=https_session(sandbox),
    )
    with pytest.raises(APIException) as caught:
        wrong.users.me()
    assert error_of(caught) == (401, {"error": "Couldn't authenticate you"})
    anonymous = https_session(sandbox).get(api(sandbox, "tickets.json"))
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "Couldn't authenticate you"}
    password = https_session(sandbox).get(
        api(sandbox, "users/me.json"),
        auth=(sandbox.credentials.email, sandbox.credentials.token),  # no "/token"
    )
    assert password.status_code == 401


def test_the_token_belongs_to_an_admin_agent(zenpy: Zenpy, sandbox: SupportSandbox) -> None:
    me = zenpy.users.me()
    assert (me.email, me.role, me.id) == (sandbox.credentials.email, "admin", sandbox.admin_id)


# -- organizations and users -------------------------------------------------------------------------


def test_organizations_are_created_read_updated_found_and_deleted(zenpy: Zenpy) -> None:
    created = zenpy.organizations.create(
        Organization(
            name="Quartz Mining",
            external_id="cust-quartz",
            domain_names=["quartz.example"],
            tags=["Enterprise", "vip"],
            organization_fields={"plan": "growth"},
        )
    )
    assert isinstance(created.id, int)
    assert created.tags == ["enterprise", "vip"]
    assert created.url.endswith(f"/api/v2/organizations/{created.id}.json")
    assert created.created_at.endswith("Z")

    created.notes = "key account"
    updated = zenpy.organizations.update(created)
    assert updated.notes == "key account"
    assert zenpy.organizations(id=created.id).organization_fields == {"plan": "growth"}

    by_external = list(zenpy.organizations(external_id="cust-quartz"))  # show_many.json
    assert [o.id for o in by_external] == [created.id]
    # zenpy's external() appends its parameters after "?external_id=…" with a second "?": the
    # sandbox reads the value as Zendesk would, and finds nothing
    assert list(zenpy.organizations.external("cust-quartz")) == []

    zenpy.organizations.delete(updated)
    with pytest.raises(RecordNotFoundException):
        zenpy.organizations(id=created.id)


def test_organizations_are_searched_by_external_id_and_name(sandbox: SupportSandbox) -> None:
    http = raw(sandbox)
    found = http.get(api(sandbox, "organizations/search.json"), params={"external_id": "ORG-00003"})
    assert found.status_code == 200
    body = found.json()
    assert [o["external_id"] for o in body["organizations"]] == ["org-00003"]
    assert body["count"] == 1
    name = body["organizations"][0]["name"]
    by_name = http.get(api(sandbox, "organizations/search.json"), params={"name": name.upper()})
    assert [o["name"] for o in by_name.json()["organizations"]] == [name]
    none = http.get(api(sandbox, "organizations/search.json"), params={"external_id": "nope"})
    assert none.json()["organizations"] == []


def test_a_duplicate_organization_name_is_refused(zenpy: Zenpy) -> None:
    existing = next(iter(zenpy.organizations()))
    with pytest.raises(APIException) as caught:
        zenpy.organizations.create(Organization(name=existing.name.lower()))
    status, body = error_of(caught)
    assert status == 422
    assert body["error"] == "RecordInvalid"
    assert body["details"]["name"][0]["error"] == "DuplicateValue"


def test_users_are_created_updated_and_searched(zenpy: Zenpy) -> None:
    org = zenpy.organizations.create(Organization(name="Users Test Org"))
    user = zenpy.users.create(
        User(
            name="Rita Costa",
            email="Rita@users.example",
            external_id="u-rita",
            organization_id=org.id,
        )
    )
    assert (user.role, user.email, user.organization_id) == (
        "end-user",
        "rita@users.example",
        org.id,
    )
    user.role = "agent"
    assert zenpy.users.update(user).role == "agent"
    assert zenpy.users(id=user.id).role == "agent"
    assert [u.id for u in zenpy.users.search(external_id="u-rita")] == [user.id]
    assert [u.id for u in zenpy.users.search(query="rita costa")] == [user.id]
    agents = {u.id for u in zenpy.users(role="agent")}
    assert user.id in agents
    with pytest.raises(APIException) as caught:
        zenpy.users.create(User(name="Other Rita", email="rita@users.example"))
    assert error_of(caught)[1]["details"]["email"][0]["error"] == "DuplicateValue"
    with pytest.raises(APIException) as caught:
        zenpy.users.create(User(name="Lost", organization_id=999))
    assert error_of(caught)[0] == 422


# -- ticket fields -------------------------------------------------------------------------------------


def test_the_default_custom_fields_are_there_and_fields_can_be_added(zenpy: Zenpy) -> None:
    fields = {f.title: f for f in zenpy.ticket_fields()}
    assert {spec.title for spec in DEFAULT_CUSTOM_FIELDS} <= set(fields)
    assert fields["Plan"].type == "tagger"
    assert [o.value for o in fields["Plan"].custom_field_options] == [
        "plan_starter",
        "plan_growth",
        "plan_enterprise",
    ]
    assert fields["Overdue amount"].raw_title == "Overdue amount"
    created = zenpy.ticket_fields.create(TicketField(type="integer", title="Open invoices"))
    assert (created.type, created.active, created.raw_title) == ("integer", True, "Open invoices")
    created.title = "Unpaid invoices"
    assert zenpy.ticket_fields.update(created).title == "Unpaid invoices"
    with pytest.raises(APIException) as caught:
        zenpy.ticket_fields.create(TicketField(type="lookup", title="Nope"))
    assert error_of(caught)[0] == 422


@pytest.mark.parametrize(
    ("title", "value"),
    [
        ("Health score", "high"),
        ("Health score", 1.5),
        ("Overdue amount", "12,50"),
        ("Renewal date", "2026-02-30"),
        ("Service credit", "yes"),
        ("Plan", "plan_platinum"),
    ],
)
def test_a_value_that_does_not_fit_its_field_is_refused_naming_it(
    zenpy: Zenpy, title: str, value: Any
) -> None:
    ids = field_ids(zenpy)
    with pytest.raises(APIException) as caught:
        new_ticket(zenpy, custom_fields=[{"id": ids[title], "value": value}])
    status, body = error_of(caught)
    assert status == 422
    detail = body["details"]["base"][0]
    assert detail["description"].startswith(f"{title}: ")
    assert detail["field_key"] == ids[title]


# -- tickets ---------------------------------------------------------------------------------------------


def test_a_ticket_is_created_with_its_first_comment(zenpy: Zenpy, sandbox: SupportSandbox) -> None:
    ids = field_ids(zenpy)
    org = next(iter(zenpy.organizations()))
    audit = zenpy.tickets.create(
        Ticket(
            subject="Invoice looks wrong",
            comment=Comment(body="The March invoice doubles the API calls."),
            priority="high",
            type="problem",
            tags=["billing", "Usage"],
            organization_id=org.id,
            external_id="case-1",
            custom_fields=[
                {"id": ids["Overdue amount"], "value": "1250.50"},
                {"id": ids["Health score"], "value": 72},
                {"id": ids["Service credit"], "value": True},
                {"id": ids["Renewal date"], "value": "2027-01-31"},
                {"id": ids["Plan"], "value": "plan_growth"},
                {"id": 1, "value": "ignored, as Zendesk ignores unknown fields"},
            ],
        )
    )
    ticket = audit.ticket
    assert (ticket.status, ticket.priority, ticket.type) == ("new", "high", "problem")
    assert ticket.description == "The March invoice doubles the API calls."
    assert ticket.requester_id == sandbox.admin_id
    assert ticket.organization_id == org.id
    assert ticket.tags == ["billing", "usage", "plan_growth"]  # a drop-down value is a tag
    values = {item["id"]: item["value"] for item in ticket.custom_fields}
    assert values[ids["Overdue amount"]] == "1250.50"
    assert values[ids["Health score"]] == "72"
    assert values[ids["Service credit"]] is True
    assert values[ids["Renewal date"]] == "2027-01-31"
    assert values[ids["Customer context"]] is None
    assert ticket.created_at == ticket.updated_at
    assert datetime.strptime(ticket.created_at, "%Y-%m-%dT%H:%M:%SZ")
    assert audit.audit.events[-1]["type"] == "Comment"
    with pytest.raises(APIException) as caught:
        zenpy.tickets.create(Ticket(subject="no comment"))
    assert error_of(caught)[1]["details"]["description"][0]["error"] == "BlankValue"


def test_comments_public_and_internal_are_added_and_listed(
    zenpy: Zenpy, sandbox: SupportSandbox
) -> None:
    ticket = new_ticket(zenpy)
    time.sleep(1.05)  # a new second: updated_at moves
    ticket.comment = Comment(body="We are on it.", public=True)
    ticket.status = "open"
    replied = zenpy.tickets.update(ticket).ticket
    assert replied.status == "open"
    assert replied.updated_at > ticket.created_at
    note = zenpy.tickets(id=ticket.id)
    note.comment = Comment(body="Customer is 40 days overdue", public=False)
    zenpy.tickets.update(note)
    comments = list(zenpy.tickets.comments(ticket.id))
    assert [(c.body, c.public, c.type) for c in comments] == [
        ("first", True, "Comment"),
        ("We are on it.", True, "Comment"),
        ("Customer is 40 days overdue", False, "Comment"),
    ]
    assert all(c.author_id == sandbox.admin_id for c in comments)
    assert comments[1].html_body.startswith('<div class="zd-comment"')
    assert comments[1].plain_body == "We are on it."


def test_an_update_that_changes_nothing_writes_nothing(zenpy: Zenpy) -> None:
    ticket = new_ticket(zenpy, priority="low")
    time.sleep(1.05)
    again = zenpy.tickets(id=ticket.id)
    again.priority = "low"
    assert zenpy.tickets.update(again).ticket.updated_at == ticket.updated_at


def test_tags_are_added_removed_and_set(zenpy: Zenpy) -> None:
    ticket = new_ticket(zenpy, tags=["billing"])
    zenpy.tickets.add_tags(ticket.id, ["Renewal", "vip"])
    assert zenpy.tickets(id=ticket.id).tags == ["billing", "renewal", "vip"]
    zenpy.tickets.delete_tags(ticket.id, ["billing"])
    assert zenpy.tickets(id=ticket.id).tags == ["renewal", "vip"]
    zenpy.tickets.set_tags(ticket.id, ["overage"])
    assert zenpy.tickets(id=ticket.id).tags == ["overage"]
    edited = zenpy.tickets(id=ticket.id)
    edited.additional_tags = ["api"]
    edited.remove_tags = ["overage"]
    assert zenpy.tickets.update(edited).ticket.tags == ["api"]


def test_status_moves_on_until_closed_then_the_ticket_is_read_only(zenpy: Zenpy) -> None:
    ticket = new_ticket(zenpy, assignee_id=zenpy.users.me().id)
    assert ticket.status == "open"  # an assigned new ticket opens
    for status in ("pending", "hold", "solved", "closed"):
        current = zenpy.tickets(id=ticket.id)
        current.status = status
        assert zenpy.tickets.update(current).ticket.status == status
    closed = zenpy.tickets(id=ticket.id)
    closed.comment = Comment(body="one more thing")
    with pytest.raises(APIException) as caught:
        zenpy.tickets.update(closed)
    status, body = error_of(caught)
    assert status == 422
    assert body["details"]["status"][0]["description"] == "Status: closed prevents ticket update"
    with pytest.raises(APIException):
        zenpy.tickets.add_tags(ticket.id, ["late"])
    reopened = new_ticket(zenpy)
    reopened.status = "bogus"
    with pytest.raises(APIException) as caught:
        zenpy.tickets.update(reopened)
    assert error_of(caught)[1]["details"]["status"][0]["error"] == "InvalidValue"


def test_tickets_are_read_many_at_once_by_organization_and_deleted(zenpy: Zenpy) -> None:
    org = zenpy.organizations.create(Organization(name="Ticket Owner Org"))
    first, second = (
        new_ticket(zenpy, organization_id=org.id),
        new_ticket(zenpy, organization_id=org.id),
    )
    assert {t.id for t in zenpy.tickets(ids=[first.id, second.id])} == {first.id, second.id}
    assert [t.id for t in zenpy.tickets.organizations(org.id)] == [first.id, second.id]
    zenpy.tickets.delete(first)
    with pytest.raises(RecordNotFoundException):
        zenpy.tickets(id=first.id)
    assert [t.id for t in zenpy.tickets.organizations(org.id)] == [second.id]


# -- pagination --------------------------------------------------------------------------------------


def test_zenpy_walks_every_cursor_page(zenpy: Zenpy, sandbox: SupportSandbox) -> None:
    sandbox.reset_request_counts()
    listed = [t.id for t in zenpy.tickets()]
    expected = [t["id"] for t in sandbox.store.all("ticket")]
    assert listed == expected
    assert len(listed) > 2 * PAGE_SIZE
    pages = sandbox.usage.counts[("GET", "tickets")]
    assert pages == -(-len(listed) // PAGE_SIZE)  # every page of 10, none twice
    assert len(list(zenpy.organizations())) == len(sandbox.store.all("organization"))


def test_offset_pages_link_to_each_other(sandbox: SupportSandbox) -> None:
    http = raw(sandbox)
    expected = [t["id"] for t in sandbox.store.all("ticket")]
    url: str | None = api(sandbox, "tickets.json") + "?per_page=7"
    seen: list[int] = []
    while url:
        body = http.get(url).json()
        assert body["count"] == len(expected)
        assert len(body["tickets"]) <= 7
        seen += [t["id"] for t in body["tickets"]]
        url = body["next_page"]
        assert url is None or url.startswith(f"{sandbox.url}/api/v2/tickets.json?")
    assert seen == expected
    first = http.get(api(sandbox, "tickets.json"), params={"per_page": 7}).json()
    assert first["previous_page"] is None
    second = http.get(api(sandbox, "tickets.json"), params={"page": 2, "per_page": 7}).json()
    assert second["previous_page"] == f"{sandbox.url}/api/v2/tickets.json?page=1&per_page=7"
    capped = http.get(api(sandbox, "tickets.json"), params={"per_page": 1000}).json()
    assert len(capped["tickets"]) == PAGE_SIZE


# -- incremental exports -----------------------------------------------------------------------------


@pytest.fixture
def past(tmp_path: Path) -> Iterator[tuple[SupportSandbox, Clock]]:
    """A sandbox whose clock stands in March 2026: zenpy's time-based generator walks pages
    whose end_time is more than five minutes old only."""
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with SupportSandbox(tmp_path, seed=6, export_page_size=5, clock=clock) as started:
        yield started, clock


def test_the_time_based_export_walks_every_page_and_sees_later_updates(
    past: tuple[SupportSandbox, Clock],
) -> None:
    sandbox, clock = past
    zenpy = connect(sandbox)
    for number in range(4):
        clock.tick(seconds=30)
        new_ticket(zenpy, subject=f"live {number}")
    sandbox.reset_request_counts()
    export = zenpy.tickets.incremental(start_time=0, paginate_by_time=True)
    exported = [t.id for t in export]
    everything = [t["id"] for t in sandbox.store.all("ticket")]
    assert sorted(set(exported)) == everything
    assert sandbox.usage.counts[("GET", "incremental/tickets")] >= len(everything) // 5
    watermark = export.end_time
    assert isinstance(watermark, int)

    clock.tick(hours=1)
    editable = next(t["id"] for t in sandbox.store.all("ticket") if t["status"] != "closed")
    changed = zenpy.tickets(id=editable)
    changed.priority = "urgent"
    zenpy.tickets.update(changed)
    later = [t.id for t in zenpy.tickets.incremental(start_time=watermark, paginate_by_time=True)]
    assert later[-1] == editable
    assert set(later) <= {editable, everything[-1]}  # the watermark's second comes again

    orgs = list(zenpy.organizations.incremental(start_time=0))
    assert len(orgs) == len(sandbox.store.all("organization"))
    users = list(zenpy.users.incremental(start_time=0, paginate_by_time=True))
    assert len(users) == len(sandbox.store.all("user"))


def test_a_second_is_never_split_between_time_based_pages(
    past: tuple[SupportSandbox, Clock],
) -> None:
    sandbox, clock = past
    zenpy = connect(sandbox)
    clock.tick(days=1)
    start = int(clock.now.timestamp())
    made = [new_ticket(zenpy, subject=f"same second {n}").id for n in range(7)]
    http = raw(sandbox)
    first = http.get(api(sandbox, "incremental/tickets.json"), params={"start_time": start}).json()
    assert [t["id"] for t in first["tickets"]] == made  # 7 > 5: the whole second
    assert first["end_time"] == start + 1
    assert first["end_of_stream"] is True
    clock.tick(seconds=1)
    made += [new_ticket(zenpy, subject="next second").id]
    page = http.get(api(sandbox, "incremental/tickets.json"), params={"start_time": start}).json()
    assert [t["id"] for t in page["tickets"]] == made[:7]
    assert (page["end_time"], page["end_of_stream"]) == (start + 1, False)
    rest = http.get(page["next_page"]).json()
    assert [t["id"] for t in rest["tickets"]] == made[7:]


def test_the_cursor_export_walks_every_page_and_resumes_from_its_cursor(
    past: tuple[SupportSandbox, Clock],
) -> None:
    sandbox, clock = past
    zenpy = connect(sandbox)
    export = zenpy.tickets.incremental(start_time=0)  # zenpy's default: the cursor export
    exported = [t.id for t in export]
    everything = [t["id"] for t in sandbox.store.all("ticket")]
    assert sorted(exported) == everything
    cursor = export.after_cursor
    assert export.end_of_stream is True

    assert list(zenpy.tickets.incremental(cursor=cursor)) == []
    clock.tick(minutes=5)
    editable = next(t["id"] for t in sandbox.store.all("ticket") if t["status"] != "closed")
    changed = zenpy.tickets(id=editable)
    changed.comment = Comment(body="new information", public=False)
    zenpy.tickets.update(changed)
    created = new_ticket(zenpy).id
    assert [t.id for t in zenpy.tickets.incremental(cursor=cursor)] == [editable, created]

    users = list(zenpy.users.incremental(start_time=0))
    assert len(users) == len(sandbox.store.all("user"))


def test_zenpy_stops_a_time_based_export_at_a_page_younger_than_five_minutes(
    tmp_path: Path,
) -> None:
    with SupportSandbox(tmp_path, export_page_size=1) as sandbox:  # the real clock
        zenpy = connect(sandbox)
        new_ticket(zenpy, subject="young one")
        time.sleep(1.05)
        new_ticket(zenpy, subject="young two")
        export = zenpy.tickets.incremental(start_time=0, paginate_by_time=True)
        assert [t.subject for t in export] == ["young one"]
        assert export.end_of_stream is False  # zenpy stopped, the sandbox had more


# -- webhooks ----------------------------------------------------------------------------------------


def _hook(zenpy: Zenpy, receiver: Receiver, *subscriptions: str, name: str = "revsync") -> Webhook:
    return zenpy.webhooks.create(
        Webhook(
            name=name,
            endpoint=receiver.url,
            http_method="POST",
            request_format="json",
            status="active",
            subscriptions=list(subscriptions),
        )
    )


def test_ticket_events_are_delivered_signed(
    zenpy: Zenpy, sandbox: SupportSandbox, receiver: Receiver
) -> None:
    hook = _hook(
        zenpy,
        receiver,
        "zen:event-type:ticket.created",
        "zen:event-type:ticket.status_changed",
        "zen:event-type:ticket.comment_added",
        "zen:event-type:ticket.tags_changed",
        "zen:event-type:ticket.custom_field_changed",
    )
    try:
        assert hook.id in {w.id for w in zenpy.webhooks.list()}
        secret = zenpy.webhooks.show_secret(hook.id)
        assert secret.algorithm == "SHA256"
        ids = field_ids(zenpy)
        ticket = new_ticket(zenpy, tags=["billing"])
        ticket.status = "pending"
        ticket.comment = Comment(body="Waiting on finance", public=False)
        ticket.custom_fields = [{"id": ids["Health score"], "value": 40}]
        zenpy.tickets.update(ticket)
        zenpy.tickets.add_tags(ticket.id, ["vip"])
        assert sandbox.wait_for_deliveries()
        mine = [d for d in sandbox.deliveries() if d.webhook_id == hook.id]
        assert [d.event_type.rsplit(".", 1)[1] for d in mine] == [
            "created",
            "status_changed",
            "comment_added",
            "custom_field_changed",
            "tags_changed",
        ]
        assert {d.state for d in mine} == {"delivered"}
    finally:
        zenpy.webhooks.delete(hook)

    headers, body = receiver.received[0]
    timestamp = headers["X-Zendesk-Webhook-Signature-Timestamp"]
    expected = hmac.new(secret.secret.encode(), timestamp.encode() + body, hashlib.sha256)
    assert headers["X-Zendesk-Webhook-Signature"] == base64.b64encode(expected.digest()).decode()
    assert headers["X-Zendesk-Webhook-Signature"] == sign(secret.secret, timestamp, body)
    assert headers["X-Zendesk-Webhook-Id"] == hook.id
    created, status, comment, custom, tagged = receiver.bodies()
    assert created["type"] == "zen:event-type:ticket.created"
    assert created["subject"] == f"zen:ticket:{ticket.id}"
    assert created["zendesk_event_version"] == "2022-11-06"
    assert created["detail"]["id"] == str(ticket.id)
    assert created["detail"]["status"] == "NEW"
    assert status["event"] == {"current": "PENDING", "previous": "NEW"}
    assert comment["event"]["comment"]["body"] == "Waiting on finance"
    assert comment["event"]["comment"]["is_public"] is False
    assert custom["event"]["current"] == "40"
    assert custom["event"]["custom_field"]["title"] == "Health score"
    assert tagged["event"] == {"tags_added": ["vip"], "tags_removed": []}
    assert tagged["detail"]["tags"] == ["billing", "vip"]


def test_a_delivery_answered_500_is_retried(
    zenpy: Zenpy, sandbox: SupportSandbox, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    hook = _hook(zenpy, receiver, "zen:event-type:ticket.created")
    try:
        ticket = new_ticket(zenpy)
        assert sandbox.wait_for_deliveries()
    finally:
        zenpy.webhooks.delete(hook)
    [delivery] = [d for d in sandbox.deliveries() if d.webhook_id == hook.id]
    assert delivery.ticket_id == ticket.id
    assert [a.status for a in delivery.attempts] == [500, 200]
    assert delivery.state == "delivered"
    assert len(receiver.received) == 2
    assert receiver.received[0][1] == receiver.received[1][1]  # the same event, again


def test_inactive_and_deleted_webhooks_receive_nothing(
    zenpy: Zenpy, sandbox: SupportSandbox, receiver: Receiver
) -> None:
    hook = zenpy.webhooks.create(
        Webhook(
            name="off",
            endpoint=receiver.url,
            status="inactive",
            subscriptions=["conditional_ticket_events"],
        )
    )
    zenpy.webhooks.delete(hook)
    new_ticket(zenpy)
    assert sandbox.wait_for_deliveries()
    assert receiver.received == []
    with pytest.raises(APIException):
        zenpy.webhooks(id=hook.id)


@pytest.mark.parametrize(
    "endpoint",
    ["https://hooks.example.com/zendesk", "http://10.0.0.8/hook", "ftp://127.0.0.1/x", "not a url"],
)
def test_a_webhook_off_loopback_is_refused(zenpy: Zenpy, endpoint: str) -> None:
    with pytest.raises(APIException) as caught:
        zenpy.webhooks.create(
            Webhook(name="x", endpoint=endpoint, subscriptions=["conditional_ticket_events"])
        )
    status, body = error_of(caught)
    assert status == 400
    assert body["errors"][0]["source"] == {"pointer": "/webhook/endpoint"}


# -- rate limits and faults --------------------------------------------------------------------------


def test_every_answer_carries_the_rate_limit_and_a_spent_budget_is_429(
    sandbox: SupportSandbox,
) -> None:
    http = raw(sandbox)
    sandbox.set_rate_limit(3)
    first = http.get(api(sandbox, "users/me.json"))
    assert first.headers["X-Rate-Limit"] == "3"
    assert first.headers["X-Rate-Limit-Remaining"] == "2"
    assert first.headers["ratelimit-limit"] == "3"
    assert first.headers["ratelimit-remaining"] == "2"
    assert 0 < int(first.headers["ratelimit-reset"]) <= 60
    http.get(api(sandbox, "users/me.json"))
    http.get(api(sandbox, "users/me.json"))
    refused = http.get(api(sandbox, "users/me.json"))
    assert refused.status_code == 429
    assert refused.json()["error"] == "APIRateLimitExceeded"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-Rate-Limit-Remaining"] == "0"
    assert sandbox.usage.remaining == 0


def test_zenpy_waits_out_a_retry_after_then_succeeds(zenpy: Zenpy, sandbox: SupportSandbox) -> None:
    sandbox.fault(Fault("429", path="users/me", seconds=1))
    started = time.monotonic()
    assert zenpy.users.me().id == sandbox.admin_id
    assert time.monotonic() - started >= 1.0
    sandbox.fault(Fault("429", path="users/me", seconds=30))
    budgeted = connect(sandbox, ratelimit_budget=1)
    with pytest.raises(RatelimitBudgetExceeded):
        budgeted.users.me()


@pytest.mark.parametrize(("kind", "retry_after"), [("500", None), ("503", "2")])
def test_error_faults_answer_the_matching_requests(
    zenpy: Zenpy, sandbox: SupportSandbox, kind: str, retry_after: str | None
) -> None:
    sandbox.fault(Fault(kind, method="POST", path="tickets", seconds=2))
    with pytest.raises(APIException) as caught:
        new_ticket(zenpy, subject=f"faulted {kind}")
    assert caught.value.response.status_code == int(kind)
    assert caught.value.response.headers.get("Retry-After") == retry_after
    assert new_ticket(zenpy, subject="after the fault").status == "new"


def test_a_stall_and_a_dropped_connection(zenpy: Zenpy, sandbox: SupportSandbox) -> None:
    impatient = connect(sandbox, timeout=0.3)
    sandbox.fault(Fault("stall", path="users/me", seconds=1))
    with pytest.raises(requests.exceptions.Timeout):
        impatient.users.me()
    sandbox.fault(Fault("drop", path="users/me"))
    with pytest.raises(requests.exceptions.ConnectionError):
        zenpy.users.me()
    before = len(sandbox.store.all("ticket"))
    sandbox.fault(Fault("drop", method="POST", path="/api/v2/tickets.json", after_commit=True))
    with pytest.raises(requests.exceptions.ConnectionError):
        new_ticket(zenpy, subject="written, answer lost")
    assert len(sandbox.store.all("ticket")) == before + 1
    assert sandbox.store.all("ticket")[-1]["subject"] == "written, answer lost"
    assert zenpy.users.me().id == sandbox.admin_id


def test_requests_are_counted_by_kind(zenpy: Zenpy, sandbox: SupportSandbox) -> None:
    sandbox.reset_request_counts()
    zenpy.users.me()
    ticket = new_ticket(zenpy)
    zenpy.tickets(id=ticket.id)
    list(zenpy.tickets.comments(ticket.id))
    assert sandbox.usage.counts == {
        ("GET", "users/me"): 1,
        ("POST", "tickets"): 1,
        ("GET", "ticket"): 1,
        ("GET", "ticket/comments"): 1,
    }


# -- hostile input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "tickets.json", b"x" * (1024 * 1024 + 1), 413),
        ("POST", "tickets.json", b'{"ticket": {"subject": "\xff\xfe"}}', 400),
        ("POST", "tickets.json", b'{"ticket": ', 400),
        ("POST", "tickets.json", b"[1, 2]", 400),
        ("POST", "tickets.json", b'{"ticket": []}', 400),
        ("POST", "tickets.json", b"[" * 100_000 + b"]" * 100_000, 400),
        (
            "POST",
            "tickets.json",
            b'{"ticket": {"comment": {"body": "x"}, "n": 1' + b"0" * 5000 + b"}}",
            400,
        ),
        ("POST", "tickets.json", b'{"ticket": {"subject": 5, "comment": {"body": "x"}}}', 422),
        ("POST", "tickets.json", b'{"ticket": {"comment": {"body": "x"}, "tags": {"a": 1}}}', 422),
        ("POST", "tickets.json", b'{"ticket": {"comment": {"body": 7}}}', 422),
        ("POST", "tickets.json", b'{"ticket": {"comment": "x"}}', 422),
        (
            "POST",
            "tickets.json",
            b'{"ticket": {"comment": {"body": "x"}, "custom_fields": "a"}}',
            422,
        ),
        (
            "POST",
            "tickets.json",
            b'{"ticket": {"comment": {"body": "x"}, "organization_id": "abc"}}',
            422,
        ),
        (
            "POST",
            "tickets.json",
            b'{"ticket": {"comment": {"body": "x"}, "requester_id": 1e400}}',
            422,
        ),
        (
            "POST",
            "tickets.json",
            b'{"ticket": {"comment": {"body": "x"}, "priority": ["high"]}}',
            422,
        ),
        ("POST", "organizations.json", b'{"organization": {"name": null}}', 422),
        (
            "POST",
            "organizations.json",
            b'{"organization": {"name": "x", "organization_fields": {"a": {}}}}',
            422,
        ),
        ("PUT", "tickets/1.json", b"", 400),
        ("PUT", "tickets/not-a-number.json", b'{"ticket": {}}', 404),
        ("GET", "tickets/99999999999999999999999.json", b"", 404),
        ("GET", "tickets.json?page=-1", b"", 400),
        ("GET", "tickets.json?page[size]=10&page[after]=%FF%FE", b"", 400),
        ("GET", "incremental/tickets.json?start_time=yesterday", b"", 400),
        ("GET", "incremental/tickets/cursor.json?cursor=bm9wZQ", b"", 400),
        ("GET", "users/show_many.json?ids=" + ",".join(["1"] * 101), b"", 400),
        (
            "POST",
            "webhooks",
            b'{"webhook": {"name": "x", "endpoint": "http://127.0.0.1:1/", "subscriptions": "all"}}',
            400,
        ),
        ("PATCH", "tickets.json", b"{}", 404),
        ("GET", "no/such/thing.json", b"", 404),
    ],
    ids=lambda value: (
        f"{len(value)}-bytes" if isinstance(value, bytes) and len(value) > 60 else None
    ),
)
def test_hostile_input_is_a_4xx(
    sandbox: SupportSandbox, method: str, path: str, body: bytes, status: int
) -> None:
    answer = raw(sandbox).request(
        method, api(sandbox, path), data=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert "error" in answer.json() or "errors" in answer.json()
    assert raw(sandbox).get(api(sandbox, "users/me.json")).status_code == 200


# -- persistence, seed, process ----------------------------------------------------------------------


def test_records_survive_a_restart_and_ids_keep_increasing(
    tmp_path: Path, receiver: Receiver
) -> None:
    with SupportSandbox(tmp_path) as first:
        zenpy = connect(first)
        org = zenpy.organizations.create(Organization(name="Durable", external_id="d-1"))
        ticket = new_ticket(zenpy, organization_id=org.id)
        zenpy.tickets.delete(new_ticket(zenpy, subject="gone"))
        hook = _hook(zenpy, receiver, "zen:event-type:ticket.created")
    with SupportSandbox(tmp_path) as second:
        zenpy = connect(second)
        assert zenpy.organizations(id=org.id).external_id == "d-1"
        assert zenpy.tickets(id=ticket.id).organization_id == org.id
        assert [c.body for c in zenpy.tickets.comments(ticket.id)] == ["first"]
        assert zenpy.users.me().id == second.admin_id
        later = new_ticket(zenpy, subject="after restart")
        assert later.id == ticket.id + 2  # the deleted ticket's id is not reused
        assert second.wait_for_deliveries()
        assert [d.ticket_id for d in second.deliveries()] == [later.id]
        assert zenpy.webhooks(id=hook.id).name == "revsync"


def _estate(sandbox: SupportSandbox) -> dict[str, Any]:
    store = sandbox.store
    tickets = store.all("ticket")
    return {
        "organizations": store.all("organization"),
        "users": store.all("user"),
        "tickets": tickets,
        "comments": [c for t in tickets for c in store.all("comment", parent=t["id"])],
    }


def test_the_same_seed_gives_the_same_estate(tmp_path: Path) -> None:
    with SupportSandbox(tmp_path / "a", seed=8) as a:
        estate, report = _estate(a), a.seeded
    with SupportSandbox(tmp_path / "b", seed=8) as b:
        assert _estate(b) == estate
        assert b.seeded == report
    with SupportSandbox(tmp_path / "c", seed=9) as c:
        assert _estate(c)["tickets"] != estate["tickets"]
    assert report is not None
    assert report.organizations == 8
    assert [o["external_id"] for o in estate["organizations"]] == [
        f"org-{n:05d}" for n in range(1, 9)
    ]
    assert all(o["domain_names"] for o in estate["organizations"])
    statuses = {t["status"] for t in estate["tickets"]}
    assert {"new", "open", "solved"} <= statuses
    assert {c["public"] for c in estate["comments"]} == {True, False}
    assert max(t["updated_at"] for t in estate["tickets"]) < "2026-06-01"
    with pytest.raises(ValueError, match="seeded with 8"):
        SupportSandbox(tmp_path / "a", seed=3).start()


def test_python_m_serves_until_terminated(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "revsync.sandbox.support", "--dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:")
        session = requests.Session()
        session.verify = str(tmp_path / "cert.pem")
        session.trust_env = False
        credentials = json.loads((tmp_path / "credentials.json").read_text())
        zenpy = Zenpy(
            subdomain="127",
            domain=url.removeprefix("https://127."),
            email=credentials["email"],
            token=credentials["token"],
            session=session,
        )
        assert zenpy.users.me().role == "admin"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
