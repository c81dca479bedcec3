"""The contract every support adapter passes (ports/support.py): incremental reads of tickets
and organizations by mark (each change once, every page), revsync's fields written by role and
the others refused before any request, keyed comments made once (also after a lost answer),
revsync's tags only, the rate limit read and a 429 retriable after its Retry-After, outages
retriable and refusals in the tool's words. The Zendesk adapter runs it against the support
sandbox; what it wrote is read back with zenpy, an independent client of the same API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from zenpy import Zenpy
from zenpy.lib.api_objects import Organization

from revsync.ports.support import OwnershipViolation, SupportRefused, SupportUnavailable
from revsync.sandbox.support import Fault, SupportSandbox
from tests.support.zendesk import FIELDS, OWNED, Clock, new_ticket, with_support, zenpy_for


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def sandbox(tmp_path: Path, clock: Clock) -> Iterator[SupportSandbox]:
    with SupportSandbox(
        tmp_path / "support", page_size=5, export_page_size=5, clock=clock
    ) as running:
        yield running


@pytest.fixture
def zenpy(sandbox: SupportSandbox) -> Zenpy:
    return zenpy_for(sandbox)


@pytest.fixture
def provisioned(sandbox: SupportSandbox) -> SupportSandbox:
    created = with_support(sandbox, lambda s: s.provision())
    assert sorted(created) == sorted(FIELDS.values())
    return sandbox


def organization(zenpy: Zenpy, name: str = "Acme", external_id: str = "acme") -> int:
    return int(zenpy.organizations.create(Organization(name=name, external_id=external_id)).id)


def test_tickets_are_read_on_from_the_mark_each_change_once_across_pages(
    provisioned: SupportSandbox, zenpy: Zenpy, clock: Clock
) -> None:
    org = organization(zenpy)
    made = []
    for n in range(12):  # pages of five; two tickets a second
        made.append(new_ticket(zenpy, f"Ticket {n}", organization_id=org).id)
        if n % 2:
            clock.tick()
    first = with_support(provisioned, lambda s: s.tickets(None))
    assert [t.id for t in first.tickets] == made
    assert first.mark == first.tickets[-1].mark
    assert {t.organization_id for t in first.tickets} == {org}
    assert first.tickets[0].subject == "Ticket 0" and first.tickets[0].status == "new"
    same = with_support(provisioned, lambda s: s.tickets(first.mark))
    assert ([t.id for t in same.tickets], same.mark) == (made[-2:], first.mark)  # its second

    clock.tick()
    changed = zenpy.tickets(id=made[3])
    changed.status = "open"
    changed.priority = "urgent"
    zenpy.tickets.update(changed)
    clock.tick()
    later = new_ticket(zenpy, "Later", organization_id=org).id
    again = with_support(provisioned, lambda s: s.tickets(first.mark))
    assert [t.id for t in again.tickets] == [*made[-2:], made[3], later]
    assert (again.tickets[2].status, again.tickets[2].priority) == ("open", "urgent")
    assert again.mark is not None and first.mark is not None and again.mark > first.mark


def test_an_overlap_reads_again_what_changed_just_before_the_mark(
    provisioned: SupportSandbox, zenpy: Zenpy
) -> None:
    made = [new_ticket(zenpy, f"T{n}").id for n in range(3)]
    read = with_support(provisioned, lambda s: s.tickets(None))
    again = with_support(provisioned, lambda s: s.tickets(read.mark, overlap_seconds=3600))
    assert [t.id for t in again.tickets] == made


def test_organizations_are_read_on_from_a_time_with_their_external_ids(
    provisioned: SupportSandbox, zenpy: Zenpy
) -> None:
    ids = [organization(zenpy, f"Org {n}", f"ext-{n}") for n in range(7)]
    found = with_support(provisioned, lambda s: s.organizations(None))
    assert [(o.id, o.name, o.external_id) for o in found] == [
        (i, f"Org {n}", f"ext-{n}") for n, i in enumerate(ids)
    ]
    later = with_support(provisioned, lambda s: s.organizations(found[-1].updated_at))
    assert found[-1].id in [o.id for o in later]  # at or after the time given


def test_fields_are_written_by_role_typed_and_read_back(
    provisioned: SupportSandbox, zenpy: Zenpy
) -> None:
    ticket = new_ticket(zenpy)
    values = {
        "plan": "Growth (growth)",
        "renewal_date": date(2027, 3, 1),
        "overdue_amount": Decimal("1250.50"),
        "dunning_level": "2",
        "health_score": 40,
    }

    async def write_then_read(support: Any) -> Any:
        await support.write_fields(ticket.id, values)
        return await support.ticket(ticket.id)

    read = with_support(provisioned, write_then_read)
    assert dict(read.fields) == {
        "plan": "Growth (growth)",
        "renewal_date": "2027-03-01",
        "overdue_amount": "1250.50",
        "dunning_level": "2",
        "health_score": "40",  # as the tool gives it: numbers as strings of digits
    }
    titles = {f.id: f.title for f in zenpy.ticket_fields()}
    seen = {titles[f["id"]]: f["value"] for f in zenpy.tickets(id=ticket.id).custom_fields}
    assert (seen[FIELDS["health_score"]], seen[FIELDS["renewal_date"]]) == ("40", "2027-03-01")
    with_support(provisioned, lambda s: s.write_fields(ticket.id, {"dunning_level": None}))
    cleared = with_support(provisioned, lambda s: s.ticket(ticket.id))
    assert "dunning_level" not in cleared.fields and cleared.fields["health_score"] == "40"


def test_a_field_revsync_does_not_own_is_refused_before_any_request(
    provisioned: SupportSandbox, zenpy: Zenpy
) -> None:
    ticket = new_ticket(zenpy)
    provisioned.reset_request_counts()
    owned = {k: v for k, v in OWNED.items() if k != "plan"}
    with pytest.raises(OwnershipViolation, match="plan: revsync may not write"):
        with_support(
            provisioned,
            lambda s: s.write_fields(ticket.id, {"plan": "x", "health_score": 1}),
            owned=owned,
        )
    assert provisioned.usage.counts == {}
    with pytest.raises(OwnershipViolation, match="credit_amount: revsync may not write"):
        with_support(provisioned, lambda s: s.write_fields(ticket.id, {"credit_amount": "5"}))
    assert provisioned.usage.counts == {}


def test_the_fields_agents_fill_in_are_read_by_role(
    provisioned: SupportSandbox, zenpy: Zenpy
) -> None:
    ids = {f.title: f.id for f in zenpy.ticket_fields()}
    ticket = new_ticket(
        zenpy,
        custom_fields=[
            {"id": ids[FIELDS["credit_amount"]], "value": "50.00"},
            {"id": ids[FIELDS["credit_invoice"]], "value": "INV-000001"},
            {"id": ids[FIELDS["credit_reason"]], "value": "four hours down"},
        ],
    )
    read = with_support(provisioned, lambda s: s.ticket(ticket.id))
    assert dict(read.fields) == {
        "credit_amount": "50.00",
        "credit_invoice": "INV-000001",
        "credit_reason": "four hours down",
    }


def test_provisioning_creates_only_what_is_missing_and_a_missing_field_is_named(
    sandbox: SupportSandbox, zenpy: Zenpy
) -> None:
    ticket = new_ticket(zenpy)
    with pytest.raises(SupportRefused, match=r"no ticket field titled .*'revsync plan'"):
        with_support(sandbox, lambda s: s.ticket(ticket.id))
    assert len(with_support(sandbox, lambda s: s.provision())) == len(FIELDS)
    assert with_support(sandbox, lambda s: s.provision()) == []
    types = {f.title: f.type for f in zenpy.ticket_fields()}
    assert types[FIELDS["renewal_date"]] == "date"
    assert types[FIELDS["overdue_amount"]] == "decimal"
    assert types[FIELDS["health_score"]] == "integer"


def test_a_keyed_comment_is_made_once_as_an_internal_note(
    provisioned: SupportSandbox, zenpy: Zenpy
) -> None:
    ticket = new_ticket(zenpy)
    first = with_support(
        provisioned, lambda s: s.put_comment(ticket.id, "context:abc", "Plan: Growth", public=False)
    )
    again = with_support(
        provisioned, lambda s: s.put_comment(ticket.id, "context:abc", "Plan: Growth", public=False)
    )
    assert first.created and not again.created and again.comment_id == first.comment_id
    comments = list(zenpy.tickets.comments(ticket=ticket.id))
    assert [c.public for c in comments] == [True, False]  # the first comment, then the note
    assert (
        comments[1].body.startswith("Plan: Growth") and "[revsync:context:abc]" in comments[1].body
    )
    read = with_support(provisioned, lambda s: s.comments(ticket.id))
    assert [(c.key, c.public) for c in read] == [(None, True), ("context:abc", False)]


def test_after_a_lost_answer_the_comment_is_found_not_made_twice(
    provisioned: SupportSandbox, zenpy: Zenpy
) -> None:
    ticket = new_ticket(zenpy)
    provisioned.fault(
        Fault("drop", method="PUT", path=f"tickets/{ticket.id}.json", after_commit=True)
    )
    with pytest.raises(SupportUnavailable) as lost:
        with_support(
            provisioned,
            lambda s: s.put_comment(ticket.id, "credit:7", "Credit issued", public=True),
        )
    assert lost.value.sent
    again = with_support(
        provisioned, lambda s: s.put_comment(ticket.id, "credit:7", "Credit issued", public=True)
    )
    assert not again.created
    bodies = [c.body for c in zenpy.tickets.comments(ticket=ticket.id)]
    assert sum("[revsync:credit:7]" in b for b in bodies) == 1


def test_only_revsync_tags_are_added_and_removed(provisioned: SupportSandbox, zenpy: Zenpy) -> None:
    ticket = new_ticket(zenpy, tags=["vip", "billing"])

    async def tag(support: Any) -> None:
        await support.tag(ticket.id, add=["revsync_overdue", "revsync_dunning_2"])
        await support.tag(ticket.id, remove=["revsync_dunning_2"])

    with_support(provisioned, tag)
    assert sorted(zenpy.tickets(id=ticket.id).tags) == ["billing", "revsync_overdue", "vip"]
    provisioned.reset_request_counts()
    with pytest.raises(OwnershipViolation, match="vip"):
        with_support(provisioned, lambda s: s.tag(ticket.id, remove=["vip"]))
    assert provisioned.usage.counts == {}


def test_the_rate_limit_is_read_a_429_is_retriable_and_a_spent_window_waited_for(
    provisioned: SupportSandbox, zenpy: Zenpy
) -> None:
    ticket = new_ticket(zenpy)
    provisioned.fault(Fault("429", path="tickets", seconds=7))
    with pytest.raises(SupportUnavailable, match="429") as limited:
        with_support(provisioned, lambda s: s.ticket(ticket.id))
    assert (limited.value.retry_after, limited.value.outage, limited.value.sent) == (
        7,
        False,
        False,
    )

    waits: list[float] = []

    async def sleeps(seconds: float) -> None:  # the minute passes at once
        waits.append(seconds)
        provisioned.set_rate_limit(700)

    async def near_the_end(support: Any) -> Any:
        await support.ticket(ticket.id)
        first = support.budget()
        provisioned.set_rate_limit(used=first.limit - 1)  # one left in this minute
        await support.ticket(ticket.id)  # takes the last one
        await support.ticket(ticket.id)  # waits for the window to reset first
        return first

    first = with_support(provisioned, near_the_end, sleep=sleeps)
    assert first.limit == 700 and 0 < first.remaining < 700
    assert len(waits) == 1 and 0 < waits[0] <= 60


def test_an_outage_is_retriable_and_a_refusal_is_in_the_tools_words(
    provisioned: SupportSandbox, zenpy: Zenpy
) -> None:
    ticket = new_ticket(zenpy)
    provisioned.fault(Fault("503", path="tickets"))
    with pytest.raises(SupportUnavailable, match="HTTP 503") as down:
        with_support(provisioned, lambda s: s.ticket(ticket.id))
    assert down.value.outage
    with pytest.raises(SupportRefused, match="authenticate"):
        with_support(provisioned, lambda s: s.ticket(ticket.id), token="wrong")
    with pytest.raises(SupportRefused, match="RecordNotFound"):
        with_support(provisioned, lambda s: s.ticket(999_999))
    closed = zenpy.tickets(id=ticket.id)
    closed.status = "closed"
    zenpy.tickets.update(closed)
    with pytest.raises(SupportRefused, match="HTTP 422"):
        with_support(provisioned, lambda s: s.write_fields(ticket.id, {"health_score": 10}))
    other = new_ticket(zenpy)
    with pytest.raises(SupportRefused, match="HTTP 422"):
        with_support(provisioned, lambda s: s.write_fields(other.id, {"health_score": "many"}))
