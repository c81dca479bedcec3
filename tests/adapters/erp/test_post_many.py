"""``Erp.post_many`` against a real trytond: a batch is posted in its order (Tryton's numbers
follow the documents, not the ids), in one ``create`` and one ``post`` call; it is idempotent by
key as ``post`` is; a refusal ends it after the documents before it are posted, whether revsync
refuses it (totals, an unknown tax) or Tryton refuses the batch's ``post`` call (split to find
the document); dates out of order are numbered as if posted one by one."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from revsync.adapters.connectors.erp.tryton import TrytonErp
from revsync.adapters.connectors.erp.tryton_posting import _warning_key
from revsync.ports.erp import ErpDocument, ErpParty, ErpPosting, ErpRefused, ErpUnavailable
from tests.contract.test_erp_contract import (
    ACME,
    CALLS,
    DAY,
    FEE,
    _close,
    invoice,
    invoices_with_key,
)
from tests.support.erp import YEAR, rpc_for, with_erp, with_rpc
from tests.support.tryton import TrytonServer

BETA = ErpParty("RS-beta", "Beta GmbH", "FR")
#: the calls of a batch that changes invoices (the counts are per batch, never per document)
INVOICE_CALLS = (
    "model.account.invoice.search_read",
    "model.account.invoice.create",
    "model.account.invoice.read",
    "model.account.invoice.validate_invoice",
    "model.account.invoice.post",
    "model.account.invoice.cancel",
    "model.account.invoice.delete",
    "model.party.party.create",
    "model.res.user.warning.create",
    "model.res.user.warning.skip",
)


def post_many(
    server: TrytonServer, documents: list[ErpDocument], calls: Counter[str] | None = None
) -> list[ErpPosting | ErpRefused]:
    """``post_many`` with a fresh adapter, counting its JSON-RPC calls by method."""

    async def work(erp: TrytonErp) -> list[ErpPosting | ErpRefused]:
        if calls is not None:
            call = erp.rpc.call

            async def counting(method: str, params: list[Any]) -> Any:
                calls[method] += 1
                return await call(method, params)

            erp.rpc.call = counting  # type: ignore[method-assign]
        return await erp.post_many(documents)

    return with_erp(server, work)


def numbers(results: list[ErpPosting | ErpRefused]) -> list[tuple[Any, ...]]:
    return [
        (r.number, r.party, r.invoice_date, r.rolled_forward_from, r.found)
        if isinstance(r, ErpPosting)
        else ("refused",)
        for r in results
    ]


def stored(server: TrytonServer, *keys: str) -> list[list[tuple[Any, ...]]]:
    """Each key's invoices as the ERP holds them: (number, state, total, tax, date)."""
    return [
        [
            (i["number"], i["state"], i["total_amount"], i["tax_amount"], i["invoice_date"])
            for i in invoices_with_key(server, key)
        ]
        for key in keys
    ]


def draft_id(server: TrytonServer, document: ErpDocument) -> int:
    """A draft as an attempt interrupted before posting leaves it."""
    return with_erp(server, lambda erp: erp._create(document))


def test_a_batch_is_posted_in_its_order_with_one_create_and_one_post(
    erp_server: TrytonServer,
) -> None:
    batch = [
        invoice(f"rsv1-b{n}", f"INV-00010{n}", DAY, party=BETA if n % 2 == 0 else ACME)
        for n in range(1, 6)
    ]
    calls: Counter[str] = Counter()
    results = post_many(erp_server, batch, calls)
    assert numbers(results) == [
        (f"INV-{YEAR}-00001", "RS-acme", DAY, None, False),
        (f"INV-{YEAR}-00002", "RS-beta", DAY, None, False),
        (f"INV-{YEAR}-00003", "RS-acme", DAY, None, False),
        (f"INV-{YEAR}-00004", "RS-beta", DAY, None, False),
        (f"INV-{YEAR}-00005", "RS-acme", DAY, None, False),
    ]
    assert stored(erp_server, *(d.key for d in batch)) == [
        [(f"INV-{YEAR}-0000{n}", "posted", Decimal("122.40"), Decimal("20.40"), DAY)]
        for n in range(1, 6)
    ]
    # one search for the keys and one for the last number, both parties created in one call,
    # one create, one read of the totals, the warnings (taxes, a due date past) acknowledged in
    # one call, one validation, one post, one read back
    assert {m: calls[m] for m in INVOICE_CALLS} == {
        "model.account.invoice.search_read": 2,
        "model.account.invoice.create": 1,
        "model.account.invoice.read": 2,
        "model.account.invoice.validate_invoice": 1,
        "model.account.invoice.post": 1,
        "model.account.invoice.cancel": 0,
        "model.account.invoice.delete": 0,
        "model.party.party.create": 1,
        "model.res.user.warning.create": 1,
        "model.res.user.warning.skip": 0,
    }
    parties = with_rpc(
        erp_server,
        lambda c: c.model(
            "party.party",
            "search_read",
            [("code", "in", ["RS-acme", "RS-beta"])],
            0,
            None,
            [("code", "ASC")],
            ["code", "name"],
        ),
    )
    assert [(p["code"], p["name"]) for p in parties] == [
        ("RS-acme", "Acme SARL"),
        ("RS-beta", "Beta GmbH"),
    ]


def test_a_batch_sent_again_returns_the_same_postings_and_creates_nothing(
    erp_server: TrytonServer,
) -> None:
    batch = [invoice(f"rsv1-r{n}", f"INV-00020{n}", DAY) for n in range(1, 4)]
    first = post_many(erp_server, batch)
    calls: Counter[str] = Counter()
    again = post_many(erp_server, batch, calls)
    assert again == first
    assert numbers(again) == [
        (f"INV-{YEAR}-00001", "RS-acme", DAY, None, True),
        (f"INV-{YEAR}-00002", "RS-acme", DAY, None, True),
        (f"INV-{YEAR}-00003", "RS-acme", DAY, None, True),
    ]
    assert [p.found for p in first if isinstance(p, ErpPosting)] == [False, False, False]
    # found by their keys in one search: nothing created, nothing posted
    assert {m: calls[m] for m in INVOICE_CALLS} == {
        "model.account.invoice.search_read": 1,
        "model.account.invoice.create": 0,
        "model.account.invoice.read": 0,
        "model.account.invoice.validate_invoice": 0,
        "model.account.invoice.post": 0,
        "model.account.invoice.cancel": 0,
        "model.account.invoice.delete": 0,
        "model.party.party.create": 0,
        "model.res.user.warning.create": 0,
        "model.res.user.warning.skip": 0,
    }
    everything = with_rpc(
        erp_server, lambda c: c.model("account.invoice", "search", [], 0, None, None)
    )
    assert len(everything) == 3


def test_a_draft_left_by_an_earlier_attempt_is_reused_and_numbered_in_the_batch_order(
    erp_server: TrytonServer,
) -> None:
    left = invoice("rsv1-d3", "INV-000303", DAY)
    draft = draft_id(erp_server, left)  # the lowest id of the three
    batch = [invoice("rsv1-d1", "INV-000301", DAY), invoice("rsv1-d2", "INV-000302", DAY), left]
    results = post_many(erp_server, batch)
    # Tryton numbers one call's invoices of a date in the order of the ids given, not by id
    assert numbers(results) == [
        (f"INV-{YEAR}-00001", "RS-acme", DAY, None, False),
        (f"INV-{YEAR}-00002", "RS-acme", DAY, None, False),
        (f"INV-{YEAR}-00003", "RS-acme", DAY, None, False),
    ]
    assert isinstance(results[2], ErpPosting) and results[2].remote_id == str(draft)
    assert stored(erp_server, "rsv1-d1", "rsv1-d2", "rsv1-d3") == [
        [(f"INV-{YEAR}-0000{n}", "posted", Decimal("122.40"), Decimal("20.40"), DAY)]
        for n in range(1, 4)
    ]


def _refused_third(kind: str) -> tuple[ErpDocument, str, str | None]:
    """The third document of five, refused by revsync before posting: its document, the
    refusal, and the state the fourth and fifth are left in (None: not created)."""
    if kind == "totals":
        return (
            invoice("rsv1-x3", "INV-000403", DAY, total="122.41", tax="20.41"),
            "the ERP computes untaxed/tax/total 102.00/20.40/122.40 where revsync billed "
            "102.00/20.41/122.41; the draft was deleted",
            "draft",  # created in the batch's one create call, never posted
        )
    unknown = replace(FEE, taxes=("FR super 99%",))
    return (
        invoice("rsv1-x3", "INV-000403", DAY, unknown, CALLS),
        "the ERP has no tax 'FR super 99%' (run 'revsync erp provision')",
        None,  # planning stopped at the third: nothing after it was created
    )


@pytest.mark.parametrize("kind", ["totals", "unknown tax"])
def test_a_third_document_refused_posts_the_first_two_and_leaves_the_last_two(
    erp_server: TrytonServer, kind: str
) -> None:
    third, refusal, left_after = _refused_third(kind)
    batch = [
        invoice("rsv1-x1", "INV-000401", DAY),
        invoice("rsv1-x2", "INV-000402", DAY),
        third,
        invoice("rsv1-x4", "INV-000404", DAY),
        invoice("rsv1-x5", "INV-000405", DAY),
    ]
    results = post_many(erp_server, batch)
    assert numbers(results) == [
        (f"INV-{YEAR}-00001", "RS-acme", DAY, None, False),
        (f"INV-{YEAR}-00002", "RS-acme", DAY, None, False),
        ("refused",),
    ]
    assert str(results[2]) == refusal
    later = (
        [] if left_after is None else [(None, "draft", Decimal("122.40"), Decimal("20.40"), DAY)]
    )
    assert stored(erp_server, "rsv1-x1", "rsv1-x2", "rsv1-x3", "rsv1-x4", "rsv1-x5") == [
        [(f"INV-{YEAR}-00001", "posted", Decimal("122.40"), Decimal("20.40"), DAY)],
        [(f"INV-{YEAR}-00002", "posted", Decimal("122.40"), Decimal("20.40"), DAY)],
        [],
        later,
        later,
    ]
    # the rest, sent again: posted next (the drafts left are reused, none is made twice)
    rest = post_many(erp_server, batch[3:])
    assert numbers(rest) == [
        (f"INV-{YEAR}-00003", "RS-acme", DAY, None, False),
        (f"INV-{YEAR}-00004", "RS-acme", DAY, None, False),
    ]
    assert [len(found) for found in stored(erp_server, "rsv1-x4", "rsv1-x5")] == [1, 1]


def test_a_document_tryton_refuses_in_the_batchs_post_call_is_found_by_splitting_the_call(
    erp_server: TrytonServer,
) -> None:
    feb20, feb25, apr2, apr3 = (date(YEAR, m, d) for m, d in ((2, 20), (2, 25), (4, 2), (4, 3)))
    second = invoice("rsv1-y2", "INV-000502", feb25)
    third = invoice("rsv1-y3", "INV-000503", DAY)
    drafts = [draft_id(erp_server, second), draft_id(erp_server, third)]  # an earlier attempt's
    closed = with_rpc(erp_server, lambda c: _close(c, DAY))  # then March is closed in the ERP
    batch = [
        invoice("rsv1-y1", "INV-000501", feb20),
        second,
        third,  # its draft is dated in the closed March: Tryton refuses to post it
        invoice("rsv1-y4", "INV-000504", apr2),
        invoice("rsv1-y5", "INV-000505", apr3),
    ]
    calls: Counter[str] = Counter()
    results = post_many(erp_server, batch, calls)
    assert numbers(results) == [
        (f"INV-{YEAR}-00001", "RS-acme", feb20, None, False),
        (f"INV-{YEAR}-00002", "RS-acme", feb25, None, False),
        ("refused",),
    ]
    assert isinstance(results[1], ErpPosting) and results[1].remote_id == str(drafts[0])
    assert closed == f"{YEAR}-03"
    assert str(results[2]) == (  # Tryton's own refusal
        f'To continue, you must reopen the period "{YEAR}-03" of company "revsync Test SA" '
        f'for the date "03/10/{YEAR}".'
    )
    # all five validated in one call; posted in one call, refused; then 1-2 (posted) and 3-5
    # (refused); then 3 alone
    assert calls["model.account.invoice.validate_invoice"] == 1
    assert calls["model.account.invoice.post"] == 4
    # what the refusal left is validated (its taxes checked), still without a number
    left = [
        [(None, "validated", Decimal("122.40"), Decimal("20.40"), DAY)],
        [(None, "validated", Decimal("122.40"), Decimal("20.40"), apr2)],
        [(None, "validated", Decimal("122.40"), Decimal("20.40"), apr3)],
    ]
    assert stored(erp_server, "rsv1-y3", "rsv1-y4", "rsv1-y5") == left
    # March reopened, the rest sent again: posted from what was left, not validated twice
    with_rpc(erp_server, lambda c: _reopen(c, closed))
    again: Counter[str] = Counter()
    rest = post_many(erp_server, batch[2:], again)
    assert numbers(rest) == [
        (f"INV-{YEAR}-00003", "RS-acme", DAY, None, False),
        (f"INV-{YEAR}-00004", "RS-acme", apr2, None, False),
        (f"INV-{YEAR}-00005", "RS-acme", apr3, None, False),
    ]
    assert (again["model.account.invoice.create"], again["model.account.invoice.post"]) == (0, 1)
    assert again["model.account.invoice.validate_invoice"] == 0
    assert [row[0][:2] for row in stored(erp_server, "rsv1-y3", "rsv1-y4", "rsv1-y5")] == [
        (f"INV-{YEAR}-0000{n}", "posted") for n in (3, 4, 5)
    ]


async def _reopen(client: Any, name: str) -> None:
    found = await client.model("account.period", "search", [("name", "=", name)], 0, 1, None)
    await client.model("account.period", "reopen", found)


def test_dates_out_of_order_are_numbered_as_if_posted_one_by_one(erp_server: TrytonServer) -> None:
    later, earlier = date(YEAR, 6, 20), date(YEAR, 6, 5)
    note = invoice(
        "rsv1-z2",
        "CN-000602",
        earlier,
        replace(FEE, description="Credit: Platform fee", unit_price=Decimal("-99.00")),
        untaxed="-99.00",
        tax="-19.80",
        total="-118.80",
    )
    batch = [
        invoice("rsv1-z1", "INV-000601", later),
        note,  # credit notes have their own series: not held back by the invoice
        invoice("rsv1-z3", "INV-000603", earlier),  # numbered after June 20: moves to it
    ]
    calls: Counter[str] = Counter()
    results = post_many(erp_server, batch, calls)
    assert numbers(results) == [
        (f"INV-{YEAR}-00001", "RS-acme", later, None, False),
        (f"CN-{YEAR}-00001", "RS-acme", earlier, None, False),
        (f"INV-{YEAR}-00002", "RS-acme", later, earlier, False),
    ]
    assert calls["model.account.invoice.post"] == 2  # the third waited for the first's number
    held = [
        invoice("rsv1-z4", "INV-000604", date(YEAR, 7, 20)),
        invoice("rsv1-z5", "INV-000605", date(YEAR, 7, 5)),
        invoice("rsv1-z6", "INV-000606", date(YEAR, 7, 25)),
    ]
    results = with_erp(erp_server, lambda erp: erp.post_many(held), policy="hold")
    assert numbers(results) == [
        (f"INV-{YEAR}-00003", "RS-acme", date(YEAR, 7, 20), None, False),
        ("refused",),
    ]
    assert str(results[1]) == (
        f"the ERP numbered INV-{YEAR}-00003 on {YEAR}-07-20, after {YEAR}-07-05, and numbers "
        f"must follow dates (policy: hold until the case is approved to post it on that later "
        f"date)"
    )
    assert stored(erp_server, "rsv1-z5", "rsv1-z6") == [[], []]


def test_an_erp_that_is_down_is_unavailable_and_nothing_was_sent(erp_server: TrytonServer) -> None:
    erp_server.stop()
    with pytest.raises(ErpUnavailable) as error:
        post_many(erp_server, [invoice("rsv1-u1", "INV-000701", DAY)])
    assert error.value.sent is False


@pytest.mark.parametrize("overtaken", ["validate_invoice", "post"])
def test_a_draft_an_earlier_attempt_posts_meanwhile_counts_as_posted(
    erp_server: TrytonServer, overtaken: str
) -> None:
    """An attempt whose answer was lost may still be posting in Tryton when the next one
    looks its key up and finds a draft: by the time the next one validates it, or posts it,
    it is posted. That is the document posted once, not a refusal."""
    left = invoice("rsv1-r1", "INV-000501", DAY)
    draft = draft_id(erp_server, left)

    async def work(erp: TrytonErp) -> list[ErpPosting | ErpRefused]:
        call = erp.rpc.call
        raced: list[bool] = []

        async def racing(method: str, params: list[Any]) -> Any:
            if method == f"model.account.invoice.{overtaken}" and not raced:
                raced.append(True)  # the earlier attempt gets there first, once
                earlier = rpc_for(erp_server)
                try:
                    await earlier.model("account.invoice", "post", [draft])
                finally:
                    await earlier.aclose()
            return await call(method, params)

        erp.rpc.call = racing  # type: ignore[method-assign]
        return await erp.post_many([left, invoice("rsv1-r2", "INV-000502", DAY)])

    results = with_erp(erp_server, work)
    assert numbers(results) == [
        (f"INV-{YEAR}-00001", "RS-acme", DAY, None, False),
        (f"INV-{YEAR}-00002", "RS-acme", DAY, None, False),
    ]
    assert stored(erp_server, "rsv1-r1", "rsv1-r2") == [
        [(f"INV-{YEAR}-0000{n}", "posted", Decimal("122.40"), Decimal("20.40"), DAY)]
        for n in (1, 2)
    ]


def test_a_validated_invoice_whose_totals_differ_is_cancelled_and_deleted(
    erp_server: TrytonServer,
) -> None:
    """A refused ``post`` leaves its invoices validated; if the document sent again no longer
    matches what the ERP computes, the invoice is deleted as a draft would be (Tryton deletes
    drafts and cancelled invoices only: it is cancelled first — not set back to draft, which
    Tryton 8.2 refuses over JSON-RPC once the sale module is active)."""
    first = invoice("rsv1-v1", "INV-000801", DAY)
    left = draft_id(erp_server, first)

    async def validate(client: Any) -> None:  # as a refused post leaves it
        await client.model("res.user.warning", "skip", _warning_key("invoice_taxes", left), False)
        await client.model("account.invoice", "validate_invoice", [left])

    with_rpc(erp_server, validate)
    changed = invoice("rsv1-v1", "INV-000801", DAY, total="122.41", tax="20.41")
    calls: Counter[str] = Counter()
    [refused] = post_many(erp_server, [changed], calls)
    assert str(refused) == (
        "the ERP computes untaxed/tax/total 102.00/20.40/122.40 where revsync billed "
        "102.00/20.41/122.41; the draft was deleted"
    )
    assert (calls["model.account.invoice.cancel"], calls["model.account.invoice.delete"]) == (1, 1)
    assert stored(erp_server, "rsv1-v1") == [[]]
