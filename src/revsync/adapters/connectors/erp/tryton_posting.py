"""Posting documents to Tryton, one or many at a time, in as few JSON-RPC calls as it allows:
one search for every key, the fiscal periods and the last invoice numbered in each series read
once, the parties found (or created) in one go, one ``create`` with every new invoice, one read
of the totals, the warnings acknowledged in one call, one ``validate_invoice`` and one ``post``
with every id, one read back.

Why validate first: Tryton 8.2 runs a ``post`` call about three times (its transaction starts
again each time it first needs a strict sequence's lock, the invoice's and then the move's), and
checks the taxes of each draft in each run; a validated invoice's taxes are not checked again.
Validating in a call of its own costs one round trip and saves trytond ~17% of its work per
invoice (docs/benchmarks.md, "ERP posting"). An invoice a refused ``post`` leaves is therefore
``validated``, not a draft: found by its key on the next attempt, it is posted (or, if its
totals no longer match, cancelled and deleted) as a draft would be.

How Tryton 8.2 numbers the invoices of one ``post`` call (``Invoice.set_number`` in
``account_invoice/invoice.py``, and seen against a real trytond): it sorts them by invoice date
with Python's stable sort, so invoices of one date take their numbers in the order of the ids
given, not in id order (four drafts of one date posted as ``[4, 2, 3, 1]`` are numbered 1, 2, 3,
4 in that order), and an invoice of an earlier date comes first whatever its place in the call.
Each series (customer invoices, credit notes; one sequence per fiscal year) draws its numbers in
one go. A refusal of one invoice refuses the call as a whole: nothing of it is kept. ``read``
answers in its own order, not in the order of the ids asked.

So the numbers follow the documents' order as long as, within one call, no document is dated
before an earlier one of its series. A batch is posted in runs: a document dated before an
earlier one of the run in its series (or carrying a key the run has already seen) starts the next
run, planned once the run before it is numbered — it is then rolled forward or held exactly as if
it were posted alone. Billing issues invoices in date order, so a batch is nearly always one run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, TypeVar

from revsync.adapters.connectors.erp.provision import account_id, payment_term_name
from revsync.adapters.connectors.erp.rpc import TrytonRpc, TrytonUserError, TrytonUserWarning
from revsync.ports.erp import ErpDocument, ErpLine, ErpParty, ErpPosting, ErpRefused

PeriodPolicy = Literal["roll_forward", "hold"]
#: what a posting is read back with
INVOICE_FIELDS = ["number", "state", "invoice_date", "party.code", "reference"]
_TOTALS = ["untaxed_amount", "tax_amount", "total_amount"]
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class PostingRun:
    """One ``post_many`` call as it goes: the result of each document settled so far, in order
    (it ends at the first refusal), and whether anything was written to the ERP yet (then an
    answer lost from here on leaves the outcome unknown)."""

    results: list[ErpPosting | ErpRefused] = field(default_factory=list)
    wrote: bool = False


@dataclass(eq=False)
class _Entry:
    """A document of the run being posted."""

    document: ErpDocument
    day: date  # the date it posts on
    invoice_id: int | None = None  # its draft: left by an earlier attempt, or created
    validated: bool = False  # its draft was validated by an earlier attempt (taxes checked)
    posting: ErpPosting | None = None  # posted already (found by its key), or once read back
    values: dict[str, Any] | None = None  # a new draft's values, but for its party


@dataclass
class _Calendar:
    """The standard fiscal periods from a date on (each with its fiscal year's end), and the
    latest-dated invoice numbered in each series and fiscal year: read once for a run."""

    periods: list[dict[str, Any]]
    latest: dict[tuple[date, bool], dict[str, Any] | None] = field(default_factory=dict)


class TrytonIds:
    """The ids of what revsync provisioned in Tryton (accounts, products, taxes…), looked up
    once by name."""

    def __init__(self, rpc: TrytonRpc) -> None:
        self._rpc = rpc
        self._found: dict[str, int] = {}

    async def company(self) -> int:
        return int((await self._rpc.context())["company"])

    async def journal(self) -> int:
        return await self._cached(
            "journal:revenue", "account.journal", [("type", "=", "revenue")], "revenue journal"
        )

    async def of(self, kind: str, name: str) -> int:
        """The id of the ``kind`` (account, product, tax, currency, unit, payment_term) named
        ``name``; a refusal when the ERP has none."""
        if kind == "account":
            key = f"account:{name}"
            if key not in self._found:
                try:
                    self._found[key] = await account_id(self._rpc, name)
                except LookupError as error:
                    raise ErpRefused(str(error)) from None
            return self._found[key]
        model, attribute = {
            "product": ("product.product", "code"),
            "tax": ("account.tax", "name"),
            "currency": ("currency.currency", "code"),
            "unit": ("product.uom", "name"),
            "payment_term": ("account.invoice.payment_term", "name"),
        }[kind]
        domain = [(attribute, "=", name)]
        return await self._cached(f"{kind}:{name}", model, domain, f"{kind} {name!r}")

    async def _cached(self, key: str, model: str, domain: list[Any], what: str) -> int:
        if key not in self._found:
            found = await self._rpc.model(model, "search", domain, 0, 1, None)
            if not found:
                raise ErpRefused(f"the ERP has no {what} (run 'revsync erp provision')")
            self._found[key] = int(found[0])
        return self._found[key]


class TrytonParties:
    """Customers' parties, by code: found, or created once with an address. An existing party
    is never written to (the ERP owns it); one without an address gets one added. Posting and
    sale orders both find their parties here."""

    def __init__(self, rpc: TrytonRpc) -> None:
        self._rpc = rpc

    async def resolve(self, parties: Sequence[ErpParty]) -> dict[str, tuple[int, int]]:
        """Each party's id and address, by code: found by code (an address added when it has
        none), else created with an address, in one call for all."""
        wanted: dict[str, ErpParty] = {}
        for party in parties:
            wanted.setdefault(party.code, party)
        found = await self._rpc.model(
            "party.party",
            "search_read",
            [("code", "in", list(wanted))],
            0,
            None,
            None,
            ["code", "addresses"],
        )
        known: dict[str, tuple[int, list[int]]] = {}
        for party in found:
            known.setdefault(str(party["code"]), (int(party["id"]), list(party["addresses"])))
        resolved = {code: (p, int(a[0])) for code, (p, a) in known.items() if a}
        bare = [code for code in known if code not in resolved]
        if bare:
            added = await self._rpc.model(
                "party.address", "create", [{"party": known[code][0]} for code in bare]
            )
            for code, address in zip(bare, added, strict=True):
                resolved[code] = (known[code][0], int(address))
        missing = [party for code, party in wanted.items() if code not in known]
        if missing:
            resolved |= await self._create(missing)
        return resolved

    async def _create(self, parties: list[ErpParty]) -> dict[str, tuple[int, int]]:
        codes = sorted({p.country for p in parties if p.country})
        countries: dict[str, int] = {}
        if codes:
            found = await self._rpc.model(
                "country.country", "search_read", [("code", "in", codes)], 0, None, None, ["code"]
            )
            for country in found:
                countries.setdefault(str(country["code"]), int(country["id"]))
        values = []
        for party in parties:
            address = {"country": countries[party.country]} if party.country in countries else {}
            values.append(
                {"name": party.name, "code": party.code, "addresses": [("create", [address])]}
            )
        created = [int(i) for i in await self._rpc.model("party.party", "create", values)]
        read = await self._rpc.model("party.party", "read", created, ["addresses"])
        addresses = {int(p["id"]): int(p["addresses"][0]) for p in read}
        return {p.code: (i, addresses[i]) for p, i in zip(parties, created, strict=True)}


class TrytonPoster:
    """Posts documents to a Tryton company set up by ``revsync erp provision``: idempotent by
    key, totals checked, dates by period policy, numbers in the documents' order."""

    def __init__(
        self,
        rpc: TrytonRpc,
        ids: TrytonIds,
        parties: TrytonParties,
        *,
        receivable_account: str,
        payment_term_days: int,
        period_policy: PeriodPolicy,
    ) -> None:
        self._rpc = rpc
        self._ids = ids
        self._parties = parties
        self._receivable = receivable_account
        self._term_days = payment_term_days
        self._payment_term = payment_term_name(payment_term_days)
        self._policy = period_policy

    async def lookup(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The customer invoice carrying each key, read with :data:`INVOICE_FIELDS` (for a key
        on several, the first Tryton lists: the one a search for that key alone finds)."""
        found = await self._rpc.model(
            "account.invoice",
            "search_read",
            [("reference", "in", list(keys)), ("type", "=", "out")],
            0,
            None,
            None,
            INVOICE_FIELDS,
        )
        invoices: dict[str, dict[str, Any]] = {}
        for invoice in found:
            invoices.setdefault(str(invoice["reference"]), dict(invoice))
        return invoices

    async def post_many(self, documents: Sequence[ErpDocument], run: PostingRun) -> None:
        """Post ``documents`` in order, run by run, adding each one's result to ``run``; stops
        after the first refusal."""
        rest = list(documents)
        while rest:
            settled = await self._run(rest, run)
            if isinstance(run.results[-1], ErpRefused):
                return
            rest = rest[settled:]

    async def create(self, document: ErpDocument) -> int:
        """A draft for ``document``, as an attempt interrupted before posting leaves it (tests
        and the benchmark's baseline make drafts with it)."""
        calendar = await self._calendar(document.invoice_date)
        day, rolled = _open_period_date(
            calendar.periods, document.invoice_date, self._policy, document.approved
        )
        entry = await self._new(document, day, rolled, calendar)
        [invoice] = await self._create([await self._values(entry)])
        return invoice

    # --- one run -----------------------------------------------------------------------

    async def _run(self, documents: list[ErpDocument], run: PostingRun) -> int:
        """Post the longest first run of ``documents`` that one ``post`` call numbers in their
        order; returns how many documents have their result in ``run`` now."""
        entries, refusal = await self._plan(documents)
        new = [e for e in entries if e.posting is None and e.invoice_id is None]
        if new:
            parties = await self._parties.resolve([e.document.party for e in new])
            values = [await self._values(e, parties) for e in new]
            run.wrote = True
            created, refused = await _prefix(values, self._create)
            for entry, invoice_id in zip(new, created, strict=False):
                entry.invoice_id = invoice_id
            if refused is not None:
                entries, refusal = entries[: entries.index(new[len(created)])], refused
        drafts = [e for e in entries if e.posting is None]
        if drafts:
            differs = await self._check_totals(drafts, run)
            if differs is not None:
                entries, refusal = entries[: entries.index(differs[0])], differs[1]
                drafts = drafts[: drafts.index(differs[0])]
        if drafts:
            run.wrote = True
            await self._acknowledge(drafts)
            unchecked = [_draft(e) for e in drafts if not e.validated]
            validated, refused = (
                await _prefix(unchecked, self._validate) if unchecked else ([], None)
            )
            if refused is not None:
                first = next(e for e in drafts if _draft(e) == unchecked[len(validated)])
                entries, refusal = entries[: entries.index(first)], refused
                drafts = drafts[: drafts.index(first)]
        if drafts:
            posted, refused = await _prefix([_draft(e) for e in drafts], self._post)
            if refused is not None:
                entries, refusal = entries[: entries.index(drafts[len(posted)])], refused
            await self._read_back(drafts[: len(posted)])
        for entry in entries:
            assert entry.posting is not None
            run.results.append(entry.posting)
        if refusal is not None:
            run.results.append(refusal)
        return len(entries) + (refusal is not None)

    async def _plan(self, documents: list[ErpDocument]) -> tuple[list[_Entry], ErpRefused | None]:
        """The run's entries: each document found by its key or planned as a new draft, up to
        the first that is refused (returned with them) or that must wait for the run to be
        numbered: one dated before an earlier one of its series, or a key seen already."""
        found = await self.lookup([d.key for d in documents])
        calendar: _Calendar | None = None
        latest: dict[bool, date] = {}  # by series (credit notes or not): the latest date to post
        entries: list[_Entry] = []
        keys: set[str] = set()
        for document in documents:
            if document.key in keys:
                break
            credit = document.total < 0
            record = found.get(document.key)
            try:
                if record is not None:
                    entry = _found(document, record)
                    if entry.posting is None and latest.get(credit, entry.day) > entry.day:
                        break
                else:
                    if calendar is None:
                        since = min(d.invoice_date for d in documents if d.key not in found)
                        calendar = await self._calendar(since)
                    day, rolled = _open_period_date(
                        calendar.periods, document.invoice_date, self._policy, document.approved
                    )
                    if latest.get(credit, day) > day:
                        break
                    entry = await self._new(document, day, rolled, calendar)
            except ErpRefused as refusal:
                return entries, refusal
            if entry.posting is None:
                latest[credit] = max(latest.get(credit, entry.day), entry.day)
            entries.append(entry)
            keys.add(document.key)
        return entries, None

    async def _new(
        self, document: ErpDocument, day: date, rolled: bool, calendar: _Calendar
    ) -> _Entry:
        """A new draft's entry on ``day`` (open), or later: numbers must follow dates, so a day
        before the date of the last invoice numbered in its series and fiscal year moves to that
        date, or is refused by policy (an approved document moves whatever the policy)."""
        credit = document.total < 0
        last = await self._latest(calendar, _year_end(calendar.periods, day), credit)
        if last is not None and last["invoice_date"] > day:
            if self._policy == "hold" and not document.approved:
                raise ErpRefused(
                    f"the ERP numbered {last['number']} on {last['invoice_date'].isoformat()}, "
                    f"after {day.isoformat()}, and numbers must follow dates (policy: hold until "
                    f"the case is approved to post it on that later date)"
                )
            day, rolled = last["invoice_date"], True
        # recognition cannot be booked in a closed period: a rolled-forward invoice's deferrals
        # start on its new date (the closed months are recognised over the remaining ones)
        lines = [await self._line(line, day if rolled else None) for line in document.lines]
        values = {
            "type": "out",
            "company": await self._ids.company(),
            "account": await self._ids.of("account", self._receivable),
            "journal": await self._ids.journal(),
            "payment_term": await self._ids.of("payment_term", self._payment_term),
            "currency": await self._ids.of("currency", document.currency),
            "invoice_date": day,
            "reference": document.key,
            "description": document.number,
            "lines": [("create", lines)],
        }
        return _Entry(document, day, values=values)

    async def _line(self, line: ErpLine, defer_not_before: date | None) -> dict[str, Any]:
        values: dict[str, Any] = {
            "type": "line",
            "product": await self._ids.of("product", line.product),
            "account": await self._ids.of("account", line.account),
            "description": line.description,
            "quantity": line.quantity,  # exact on the wire (a Decimal), never a binary float
            "unit": await self._ids.of("unit", "Unit"),
            "unit_price": line.unit_price,
        }
        if line.taxes:
            values["taxes"] = [("add", [await self._ids.of("tax", name) for name in line.taxes])]
        if line.sale_line is not None:  # the sale order line it invoices: the sale lists it
            if not (line.sale_line.isascii() and line.sale_line.isdigit()):
                raise ErpRefused(f"not an ERP sale line id: {line.sale_line!r}")
            values["origin"] = f"sale.line,{line.sale_line}"
        if line.defer_from is not None and line.defer_to is not None:
            start = line.defer_from
            if defer_not_before is not None and start < defer_not_before <= line.defer_to:
                start = defer_not_before
            values["defer_from"] = start
            values["defer_to"] = line.defer_to
        return values

    async def _values(
        self, entry: _Entry, parties: dict[str, tuple[int, int]] | None = None
    ) -> dict[str, Any]:
        """The new draft's values with its party and the party's address."""
        assert entry.values is not None
        if parties is None:
            parties = await self._parties.resolve([entry.document.party])
        party, address = parties[entry.document.party.code]
        return entry.values | {"party": party, "invoice_address": address}

    async def _create(self, values: list[dict[str, Any]]) -> list[int]:
        created = await self._rpc.model("account.invoice", "create", values)
        return [int(i) for i in created]

    async def _check_totals(
        self, drafts: list[_Entry], run: PostingRun
    ) -> tuple[_Entry, ErpRefused] | None:
        """The first draft whose totals differ from revsync's (its draft deleted: the ledger
        never holds an amount revsync did not bill), with its refusal."""
        ids = [_draft(e) for e in drafts]
        totals = {
            int(t["id"]): t for t in await self._rpc.model("account.invoice", "read", ids, _TOTALS)
        }
        for entry in drafts:
            document, found = entry.document, totals[_draft(entry)]
            ours = (document.untaxed, document.tax, document.total)
            theirs = (found["untaxed_amount"], found["tax_amount"], found["total_amount"])
            if ours != theirs:
                run.wrote = True
                if entry.validated:  # Tryton deletes drafts and cancelled invoices only
                    # (not back to draft: with the sale module, Tryton 8.2's ``draft`` fails
                    # over JSON-RPC, "not allowed to modify the field State")
                    await self._rpc.model("account.invoice", "cancel", [_draft(entry)])
                await self._rpc.model("account.invoice", "delete", [_draft(entry)])
                return entry, ErpRefused(
                    "the ERP computes untaxed/tax/total "
                    + "/".join(str(t) for t in theirs)
                    + " where revsync billed "
                    + "/".join(str(o) for o in ours)
                    + "; the draft was deleted"
                )
        return None

    async def _acknowledge(self, drafts: list[_Entry]) -> None:
        """Acknowledge, in one call, the warnings posting raises for each invoice: revsync sets
        each line's taxes itself (by the customer's country), which Tryton warns about ("not
        the default taxes of the product"), and an invoice whose payment term ends before today
        (Tryton's today) has a due date in the past. Acknowledged before the first try, so that
        posting runs once; any other warning is acknowledged when it is raised."""
        today = await self._rpc.model("ir.date", "today")
        user = await self._rpc.user_id()
        names = []
        for entry in drafts:
            names.append(_warning_key("invoice_taxes", _draft(entry)))
            if entry.day + timedelta(days=self._term_days) < today:
                names.append(_warning_key("invoice_payment_term", _draft(entry)))
        warnings = [{"user": user, "name": name, "always": False} for name in names]
        await self._rpc.model("res.user.warning", "create", warnings)

    async def _validate(self, ids: list[int]) -> list[int]:
        """Validate ``ids`` in one call: Tryton checks their taxes here, once, rather than in
        each of the three times its ``post`` call runs (it starts again for each sequence lock
        it takes). An invoice a refused ``post`` leaves is validated: it needs no second one."""
        return await self._transition("validate_invoice", ids, ("validated", "posted", "paid"))

    async def _post(self, ids: list[int]) -> list[int]:
        """Post ``ids`` in one call."""
        return await self._transition("post", ids, ("posted", "paid"))

    async def _transition(self, button: str, ids: list[int], done: tuple[str, ...]) -> list[int]:
        """Press ``button`` for ``ids`` in one call (a warning is acknowledged and the call
        tried again). An invoice already in a ``done`` state by the time the call runs got
        there by an earlier attempt whose answer was lost (Tryton may still have been working
        on it when this attempt looked its key up): it counts as done, and the call goes on
        with the others."""
        waiting = list(ids)
        for _ in range(len(ids) + 4):
            try:
                await self._rpc.model("account.invoice", button, waiting)
                return ids
            except TrytonUserWarning as warning:  # e.g. a date in the future: acknowledged
                await self._rpc.model("res.user.warning", "skip", warning.key, False)
            except TrytonUserError:
                read = await self._rpc.model("account.invoice", "read", waiting, ["state"])
                finished = {int(i["id"]) for i in read if i["state"] in done}
                if not finished:
                    raise
                waiting = [i for i in waiting if i not in finished]
                if not waiting:
                    return ids
        which = "invoice " if len(ids) == 1 else "invoices "
        raise ErpRefused(
            f"the ERP kept asking to confirm warnings for {which}{', '.join(map(str, ids))}"
        )

    async def _read_back(self, posted: list[_Entry]) -> None:
        if not posted:
            return
        read = await self._rpc.model(
            "account.invoice", "read", [_draft(e) for e in posted], INVOICE_FIELDS
        )
        invoices = {int(i["id"]): i for i in read}
        for entry in posted:
            invoice = invoices[_draft(entry)]
            moved = invoice["invoice_date"] != entry.document.invoice_date
            entry.posting = posting_of(invoice, entry.document.invoice_date if moved else None)

    # --- dates -------------------------------------------------------------------------

    async def _calendar(self, since: date) -> _Calendar:
        company = await self._ids.company()
        periods = await self._rpc.model(
            "account.period",
            "search_read",
            [("company", "=", company), ("type", "=", "standard"), ("end_date", ">=", since)],
            0,
            None,
            [("start_date", "ASC")],
            ["name", "start_date", "end_date", "state", "fiscalyear.end_date"],
        )
        return _Calendar([dict(p) for p in periods])

    async def _latest(
        self, calendar: _Calendar, year_end: date, credit: bool
    ) -> dict[str, Any] | None:
        """The latest-dated invoice (or credit note) numbered up to ``year_end``: the last
        numbered after a day of that fiscal year when it is dated after it."""
        if (year_end, credit) not in calendar.latest:
            found = await self._rpc.model(
                "account.invoice",
                "search_read",
                [
                    ("company", "=", await self._ids.company()),
                    ("type", "=", "out"),
                    ("number", "!=", None),
                    ("invoice_date", "<=", year_end),
                    ("total_amount", "<" if credit else ">=", 0),
                ],
                0,
                1,
                [("invoice_date", "DESC")],
                ["invoice_date", "number"],
            )
            calendar.latest[year_end, credit] = dict(found[0]) if found else None
        return calendar.latest[year_end, credit]


def posting_of(
    invoice: dict[str, Any], rolled: date | None = None, *, found: bool = False
) -> ErpPosting:
    """A posting as read with :data:`INVOICE_FIELDS`."""
    party = invoice.get("party.")
    return ErpPosting(
        remote_id=str(invoice["id"]),
        number=str(invoice["number"]),
        party=str(party.get("code")) if isinstance(party, dict) else "",
        invoice_date=invoice["invoice_date"],
        rolled_forward_from=rolled,
        found=found,
    )


def _found(document: ErpDocument, invoice: dict[str, Any]) -> _Entry:
    """The entry of a document the ERP has under its key: posted (the answer), a draft an
    earlier attempt left (dated already: it is finished), or cancelled (refused)."""
    if invoice["state"] in ("posted", "paid"):
        posting = posting_of(invoice, found=True)
        return _Entry(document, invoice["invoice_date"], posting=posting)
    if invoice["state"] == "cancelled":
        raise ErpRefused(f"the ERP invoice {invoice['id']} for this document was cancelled")
    validated = invoice["state"] == "validated"
    return _Entry(document, invoice["invoice_date"], int(invoice["id"]), validated=validated)


def _draft(entry: _Entry) -> int:
    assert entry.invoice_id is not None
    return entry.invoice_id


def _open_period_date(
    periods: list[dict[str, Any]], wanted: date, policy: PeriodPolicy, approved: bool
) -> tuple[date, bool]:
    """``wanted`` if its period is open; else, by policy (an approved document rolls forward
    whatever the policy), the first day of the next open period (and True: rolled forward)."""
    periods = [p for p in periods if p["end_date"] >= wanted]
    current = next((p for p in periods if p["start_date"] <= wanted), None)
    if current is None:
        raise ErpRefused(f"the ERP has no fiscal period for {wanted.isoformat()}")
    if current["state"] == "open":
        return wanted, False
    if policy == "hold" and not approved:
        raise ErpRefused(
            f"period {current['name']} is {current['state']} in the ERP "
            f"(policy: hold until the period is reopened, or the case is approved to "
            f"post it in the next open period)"
        )
    later = next((p for p in periods if p["start_date"] > wanted and p["state"] == "open"), None)
    if later is None:
        raise ErpRefused(
            f"period {current['name']} is {current['state']} and no later period is open"
        )
    return later["start_date"], True


def _year_end(periods: list[dict[str, Any]], day: date) -> date:
    """The end of the fiscal year of the period holding ``day``."""
    period = next(p for p in periods if p["start_date"] <= day <= p["end_date"])
    end: date = period["fiscalyear."]["end_date"]
    return end


async def _prefix(
    items: list[T], call: Callable[[list[T]], Awaitable[list[R]]]
) -> tuple[list[R], ErpRefused | None]:
    """``call`` with every item at once; when Tryton refuses that call (it keeps nothing of
    it), with each half, the first half first, down to the item it refuses. Returns what the
    calls answered for the items that went through, in order (a prefix of ``items``), and the
    refusal of the item after them (None when all went through)."""
    try:
        return await call(items), None
    except TrytonUserError as error:
        # as the port's refusal reads it (tryton._guard)
        refusal = ErpRefused(error.message if not error.description else str(error))
    except ErpRefused as error:
        refusal = error
    if len(items) == 1:
        return [], refusal
    half = len(items) // 2
    done, refused = await _prefix(items[:half], call)
    if refused is not None:
        return done, refused
    rest, refused = await _prefix(items[half:], call)
    return done + rest, refused


def _warning_key(name: str, invoice_id: int) -> str:
    """The name Tryton gives a warning about one invoice (``res.user.warning.format``)."""
    digest = hashlib.md5(f"account.invoice,{invoice_id}".encode(), usedforsecurity=False)
    return f"{digest.hexdigest()}.{name}"
