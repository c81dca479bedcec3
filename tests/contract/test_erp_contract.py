"""The contract every ERP adapter passes (ports/erp.py): posting is idempotent, a document
left half-done by a lost answer is found by its key and finished, a closed period is refused
or rolled forward by policy (or by approval), credit notes post and settle their invoice,
payment state and dunning levels are read back, a total that the ERP computes differently is
refused, and an existing party is never written to. A sale order is placed once, refused when
it names a product the ERP does not have, and the invoices posted with its lines are linked to
it. The Tryton adapter runs it against a real trytond."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from revsync.ports.erp import (
    ErpDocument,
    ErpLine,
    ErpParty,
    ErpRefused,
    ErpSaleLine,
    ErpSaleOrder,
    ErpUnavailable,
)
from tests.support.erp import YEAR, pay, with_erp, with_rpc
from tests.support.tryton import TrytonServer

ACME = ErpParty("RS-acme", "Acme SARL", "FR")
FEE = ErpLine(
    "Platform fee", "REVSYNC", "4.1.2", Decimal(1), Decimal("99.00"), ("FR standard 20%",)
)
CALLS = ErpLine("API calls", "USAGE", "4.1.2", Decimal(250), Decimal("0.012"), ("FR standard 20%",))


def invoice(
    key: str, number: str, day: date, *lines: ErpLine, party: ErpParty = ACME, **totals: str
) -> ErpDocument:
    """A document with its totals stated (untaxed, tax, total)."""
    return ErpDocument(
        key=key,
        number=number,
        party=party,
        currency="EUR",
        invoice_date=day,
        lines=lines or (FEE, CALLS),
        untaxed=Decimal(totals.get("untaxed", "102.00")),
        tax=Decimal(totals.get("tax", "20.40")),
        total=Decimal(totals.get("total", "122.40")),
    )


def invoices_with_key(server: TrytonServer, key: str) -> list[dict[str, Any]]:
    """Read the ERP back: every customer invoice carrying ``key``."""
    return with_rpc(
        server,
        lambda c: c.model(
            "account.invoice",
            "search_read",
            [("reference", "=", key)],
            0,
            None,
            None,
            ["number", "state", "total_amount", "tax_amount", "invoice_date", "party.code"],
        ),
    )


DAY = date(YEAR, 3, 10)


def test_posting_twice_posts_once(erp_server: TrytonServer) -> None:
    doc = invoice("rsv1-k1", "INV-000001", DAY)
    first = with_erp(erp_server, lambda erp: erp.post(doc))
    again = with_erp(erp_server, lambda erp: erp.post(doc))
    assert again == first
    assert first.number == f"INV-{YEAR}-00001"
    assert (first.party, first.invoice_date, first.rolled_forward_from) == ("RS-acme", DAY, None)
    [stored] = invoices_with_key(erp_server, "rsv1-k1")
    assert (stored["state"], stored["total_amount"], stored["tax_amount"]) == (
        "posted",
        Decimal("122.40"),
        Decimal("20.40"),
    )
    # the party was created once, with the customer's code
    parties = with_rpc(
        erp_server,
        lambda c: c.model("party.party", "search", [("code", "=", "RS-acme")], 0, None, None),
    )
    assert len(parties) == 1


def test_a_draft_left_by_a_lost_answer_is_found_by_its_key_and_finished(
    erp_server: TrytonServer,
) -> None:
    doc = invoice("rsv1-k2", "INV-000002", DAY)

    async def half_done(erp: Any) -> None:
        # the first attempt created the draft, then its answer was lost
        await erp._create(doc)

    with_erp(erp_server, half_done)
    assert with_erp(erp_server, lambda erp: erp.find("rsv1-k2")) is None  # not posted yet
    posted = with_erp(erp_server, lambda erp: erp.post(doc))
    assert [i["state"] for i in invoices_with_key(erp_server, "rsv1-k2")] == ["posted"]
    assert with_erp(erp_server, lambda erp: erp.find("rsv1-k2")) == posted


async def _close(client: Any, day: date) -> str:
    [period] = await client.model(
        "account.period",
        "search_read",
        [("start_date", "<=", day), ("end_date", ">=", day), ("type", "=", "standard")],
        0,
        1,
        None,
        ["name"],
    )
    await client.model("account.period", "close", [period["id"]])
    return str(period["name"])


def test_periods_are_listed_with_their_state(erp_server: TrytonServer) -> None:
    with_rpc(erp_server, lambda c: _close(c, date(YEAR, 2, 10)))
    found = with_erp(erp_server, lambda erp: erp.periods(date(YEAR, 1, 15)))
    assert [(p.start, p.end, p.state) for p in found[:3]] == [
        (date(YEAR, 1, 1), date(YEAR, 1, 31), "open"),
        (date(YEAR, 2, 1), date(YEAR, 2, 28 if YEAR % 4 else 29), "closed"),
        (date(YEAR, 3, 1), date(YEAR, 3, 31), "open"),
    ]
    assert found[-1].end == date(YEAR + 1, 12, 31)  # the years provisioned


def test_a_closed_period_is_refused_on_hold_and_rolled_forward_otherwise(
    erp_server: TrytonServer,
) -> None:
    closed = with_rpc(erp_server, lambda c: _close(c, DAY))
    held = invoice("rsv1-k3", "INV-000003", DAY)
    with pytest.raises(ErpRefused, match=f"period {closed} is closed"):
        with_erp(erp_server, lambda erp: erp.post(held), policy="hold")
    assert invoices_with_key(erp_server, "rsv1-k3") == []
    approved = replace(invoice("rsv1-k3b", "INV-000004", DAY), approved=True)
    posted = with_erp(erp_server, lambda erp: erp.post(approved), policy="hold")
    assert (posted.invoice_date, posted.rolled_forward_from) == (date(YEAR, 4, 1), DAY)
    rolled = with_erp(erp_server, lambda erp: erp.post(held))
    next_month = date(YEAR, 4, 1)
    assert (rolled.invoice_date, rolled.rolled_forward_from) == (next_month, DAY)
    assert invoices_with_key(erp_server, "rsv1-k3")[0]["invoice_date"] == next_month


def test_numbers_follow_dates_an_earlier_invoice_moves_to_the_last_numbered_date(
    erp_server: TrytonServer,
) -> None:
    later, earlier = date(YEAR, 6, 20), date(YEAR, 6, 5)
    with_erp(erp_server, lambda erp: erp.post(invoice("rsv1-k30", "MANUAL-1", later)))
    held = invoice("rsv1-k31", "INV-000031", earlier)
    with pytest.raises(ErpRefused, match="numbers must follow dates"):
        with_erp(erp_server, lambda erp: erp.post(held), policy="hold")
    moved = with_erp(erp_server, lambda erp: erp.post(held))
    assert (moved.invoice_date, moved.rolled_forward_from) == (later, earlier)
    note = invoice(
        "rsv1-k32",
        "CN-000032",
        earlier,
        refund("-99.00"),
        untaxed="-99.00",
        tax="-19.80",
        total="-118.80",
    )
    credited = with_erp(erp_server, lambda erp: erp.post(note))  # credit notes: their own series
    assert (credited.invoice_date, credited.rolled_forward_from) == (earlier, None)


def refund(amount: str) -> ErpLine:
    return ErpLine(
        "Credit: Platform fee",
        "REVSYNC",
        "4.1.2",
        Decimal(1),
        Decimal(amount),
        ("FR standard 20%",),
    )


def test_a_credit_note_posts_with_negative_amounts_and_its_own_sequence(
    erp_server: TrytonServer,
) -> None:
    with_erp(erp_server, lambda erp: erp.post(invoice("rsv1-k4", "INV-000004", DAY)))
    note = invoice(
        "rsv1-k5",
        "CN-000001",
        DAY,
        refund("-99.00"),
        untaxed="-99.00",
        tax="-19.80",
        total="-118.80",
    )
    posted = with_erp(erp_server, lambda erp: erp.post(note))
    assert posted.number == f"CN-{YEAR}-00001"
    [stored] = invoices_with_key(erp_server, "rsv1-k5")
    assert stored["total_amount"] == Decimal("-118.80")


def test_credit_notes_settled_against_their_invoice_lower_then_close_it(
    erp_server: TrytonServer,
) -> None:
    today = date.today()
    original = with_erp(
        erp_server,
        lambda erp: erp.post(invoice("rsv1-k20", "INV-000020", today - timedelta(days=60))),
    )
    part = invoice(
        "rsv1-k21",
        "CN-000021",
        today,
        refund("-20.00"),
        untaxed="-20.00",
        tax="-4.00",
        total="-24.00",
    )
    rest = invoice(
        "rsv1-k22",
        "CN-000022",
        today,
        refund("-79.00"),
        replace(CALLS, quantity=Decimal(-250)),
        untaxed="-82.00",
        tax="-16.40",
        total="-98.40",
    )
    partial = with_erp(erp_server, lambda erp: erp.post(part))
    left = with_erp(erp_server, lambda erp: erp.settle(original.remote_id, [partial.remote_id]))
    assert left == Decimal("98.40")
    again = with_erp(erp_server, lambda erp: erp.settle(original.remote_id, [partial.remote_id]))
    assert again == Decimal("98.40")  # settling twice takes the credit once
    state = with_erp(erp_server, lambda erp: erp.states([original.remote_id], today))
    assert state[original.remote_id].amount_to_pay == Decimal("98.40")
    voiding = with_erp(erp_server, lambda erp: erp.post(rest))
    notes = [partial.remote_id, voiding.remote_id]
    assert with_erp(erp_server, lambda erp: erp.settle(original.remote_id, notes)) == 0
    closed = with_erp(erp_server, lambda erp: erp.states([original.remote_id, *notes], today))
    assert [closed[i].paid for i in (original.remote_id, *notes)] == [True, True, True]
    assert with_erp(erp_server, lambda erp: erp.run_collections(today)) == 0  # nothing to dun


def test_payment_state_is_read_back(erp_server: TrytonServer) -> None:
    today = date.today()
    old = invoice("rsv1-k6", "INV-000006", today - timedelta(days=60))
    fresh = invoice("rsv1-k7", "INV-000007", today)
    paid_doc = invoice("rsv1-k8", "INV-000008", today)
    postings = [with_erp(erp_server, lambda erp, d=d: erp.post(d)) for d in (old, fresh, paid_doc)]
    with_rpc(erp_server, lambda c: pay(c, int(postings[2].remote_id), Decimal("122.40"), today))
    states = with_erp(erp_server, lambda erp: erp.states([p.remote_id for p in postings], today))
    overdue, due, paid = (states[p.remote_id] for p in postings)
    assert (overdue.paid, overdue.overdue, overdue.amount_to_pay) == (
        False,
        True,
        Decimal("122.40"),
    )
    assert overdue.due_date == today - timedelta(days=30)
    assert (due.paid, due.overdue, due.due_date) == (False, False, today + timedelta(days=30))
    assert (paid.paid, paid.overdue, paid.amount_to_pay) == (True, False, Decimal(0))


def tryton_state(server: TrytonServer, invoice_id: int, awaited: str, within: float) -> str:
    """Tryton's own ``state`` of the invoice, read until it is ``awaited`` (at most ``within``
    seconds): the last state read."""
    deadline = time.monotonic() + within
    while True:
        [read] = with_rpc(
            server, lambda c: c.model("account.invoice", "read", [invoice_id], ["state"])
        )
        state = str(read["state"])
        if state == awaited or time.monotonic() >= deadline:
            return state
        time.sleep(0.1)


def test_a_paid_invoice_is_paid_in_trytons_own_state(erp_server: TrytonServer) -> None:
    """Tryton marks a fully reconciled invoice ``paid`` in a task it queues; the local Tryton
    runs its queued tasks (its queue off) before the payment's request returns, so Tryton's
    state agrees with revsync's ``paid`` — not only the reconciliation the adapter reads."""
    today = date.today()
    posted = with_erp(erp_server, lambda erp: erp.post(invoice("rsv1-k40", "INV-000040", today)))
    remote = int(posted.remote_id)
    assert tryton_state(erp_server, remote, "posted", within=0) == "posted"
    with_rpc(erp_server, lambda c: pay(c, remote, Decimal("122.40"), today))
    assert tryton_state(erp_server, remote, "paid", within=30) == "paid"
    state = with_erp(erp_server, lambda erp: erp.states([posted.remote_id], today))
    assert (state[posted.remote_id].paid, state[posted.remote_id].amount_to_pay) == (
        True,
        Decimal(0),
    )


def test_a_total_the_erp_computes_differently_is_refused_and_leaves_nothing(
    erp_server: TrytonServer,
) -> None:
    wrong = invoice("rsv1-k9", "INV-000009", DAY, total="122.41", tax="20.41")
    with pytest.raises(ErpRefused, match=r"122\.40 where revsync billed 102\.00/20\.41/122\.41"):
        with_erp(erp_server, lambda erp: erp.post(wrong))
    assert invoices_with_key(erp_server, "rsv1-k9") == []


def test_an_erp_that_is_down_is_unavailable_and_nothing_was_sent(erp_server: TrytonServer) -> None:
    erp_server.stop()
    with pytest.raises(ErpUnavailable) as error:
        with_erp(erp_server, lambda erp: erp.post(invoice("rsv1-k10", "INV-000010", DAY)))
    assert error.value.sent is False


def test_collections_raise_a_dunning_level_that_the_state_reports(erp_server: TrytonServer) -> None:
    today = date.today()
    late = with_erp(
        erp_server,
        lambda erp: erp.post(invoice("rsv1-k11", "INV-000011", today - timedelta(days=60))),
    )
    fresh = with_erp(erp_server, lambda erp: erp.post(invoice("rsv1-k12", "INV-000012", today)))
    raised = with_erp(erp_server, lambda erp: erp.run_collections(today))
    assert raised == 1  # 30 days overdue: past the first level (15 days), not the second (45)
    states = with_erp(erp_server, lambda erp: erp.states([late.remote_id, fresh.remote_id], today))
    assert states[late.remote_id].dunning_level == "level 1"
    assert states[fresh.remote_id].dunning_level is None
    assert with_erp(erp_server, lambda erp: erp.run_collections(today)) == 0  # not raised twice


def test_an_existing_party_is_never_written_to(erp_server: TrytonServer) -> None:
    with_erp(erp_server, lambda erp: erp.post(invoice("rsv1-k13", "INV-000013", DAY)))

    async def rename(client: Any) -> None:
        [party] = await client.model(
            "party.party", "search", [("code", "=", "RS-acme")], 0, 1, None
        )
        await client.model("party.party", "write", [party], {"name": "ACME (renamed in the ERP)"})

    with_rpc(erp_server, rename)
    renamed = ErpParty("RS-acme", "Acme SARL (revsync's name)", "FR")
    with_erp(
        erp_server, lambda erp: erp.post(invoice("rsv1-k14", "INV-000014", DAY, party=renamed))
    )
    parties = with_rpc(
        erp_server,
        lambda c: c.model(
            "party.party", "search_read", [("code", "=", "RS-acme")], 0, None, None, ["name"]
        ),
    )
    assert [p["name"] for p in parties] == ["ACME (renamed in the ERP)"]


# --- sale orders ---------------------------------------------------------------------------

SEATS = ErpSaleLine("growth:seats", "Seats", "REVSYNC", Decimal(10), Decimal("44.10"))
PLATFORM = ErpSaleLine("growth:platform", "Platform fee", "REVSYNC", Decimal(1), Decimal("99"))


def order(key: str, *lines: ErpSaleLine, party: ErpParty = ACME) -> ErpSaleOrder:
    return ErpSaleOrder(
        key=key,
        reference="006000000000001AAA",
        party=party,
        currency="EUR",
        sale_date=DAY,
        description="Acme — Growth (opp-006000000000001AAA)",
        lines=lines or (SEATS, PLATFORM),
    )


def sales_with_key(server: TrytonServer, key: str) -> list[dict[str, Any]]:
    """Read the ERP back: every sale carrying ``key`` (kept in its comment)."""
    return with_rpc(
        server,
        lambda c: c.model(
            "sale.sale",
            "search_read",
            [("comment", "=", key)],
            0,
            None,
            None,
            ["number", "state", "invoice_state", "invoices"],
        ),
    )


def test_placing_a_sale_twice_places_it_once(erp_server: TrytonServer) -> None:
    first = with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-s1")))
    assert (first.state, first.found) == ("processing", False)
    assert [key for key, _ in first.lines] == ["growth:seats", "growth:platform"]
    again = with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-s1")))
    assert again == first
    assert again.found is True
    assert with_erp(erp_server, lambda erp: erp.find_sale("rsv1-s1")) == first
    assert with_erp(erp_server, lambda erp: erp.find_sale("rsv1-none")) is None
    [stored] = sales_with_key(erp_server, "rsv1-s1")
    assert (str(stored["id"]), stored["number"], stored["state"]) == (
        first.remote_id,
        first.number,
        "processing",
    )


def test_a_sale_of_an_unknown_product_is_refused_naming_it(erp_server: TrytonServer) -> None:
    unknown = ErpSaleLine("growth:seats", "Seats", "NO-SUCH-SEAT", Decimal(1), Decimal(1))
    with pytest.raises(ErpRefused, match="'NO-SUCH-SEAT'"):
        with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-s2", PLATFORM, unknown)))
    assert sales_with_key(erp_server, "rsv1-s2") == []


def test_an_invoice_posted_with_a_sale_line_is_linked_to_the_sale(
    erp_server: TrytonServer,
) -> None:
    sale = with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-s3")))
    lines = dict(sale.lines)
    seats = replace(FEE, quantity=Decimal(10), unit_price=Decimal("44.10"))
    document = invoice(
        "rsv1-k50",
        "INV-000050",
        DAY,
        replace(seats, sale_line=lines["growth:seats"]),
        replace(FEE, sale_line=lines["growth:platform"]),
        CALLS,  # usage: invoices no sale line
        untaxed="543.00",
        tax="108.60",
        total="651.60",
    )
    posted = with_erp(erp_server, lambda erp: erp.post(document))
    [stored] = sales_with_key(erp_server, "rsv1-s3")
    assert (stored["invoices"], stored["invoice_state"]) == (
        [int(posted.remote_id)],
        "awaiting payment",
    )
    origins = with_rpc(
        erp_server,
        lambda c: c.model(
            "account.invoice.line",
            "search_read",
            [("invoice", "=", int(posted.remote_id))],
            0,
            None,
            [("id", "ASC")],
            ["origin"],
        ),
    )
    assert [o["origin"] for o in origins] == [
        f"sale.line,{lines['growth:seats']}",
        f"sale.line,{lines['growth:platform']}",
        None,
    ]
