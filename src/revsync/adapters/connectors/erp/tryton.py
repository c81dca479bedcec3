"""Tryton as revsync's ERP (:class:`~revsync.ports.erp.Erp`), over JSON-RPC.

- Parties are found by code (the customer's ERP reference, else ``RS-<customer id>``) and
  created once, with an address; an existing party is never written to (the ERP owns it).
- An invoice carries the idempotency key in ``reference`` and revsync's number in
  ``description``. Posting looks the key up first: a posted document is returned as it is, a
  draft left by an interrupted attempt is checked and posted, nothing is created twice.
- The draft's totals are compared with revsync's before posting; a difference deletes the
  draft and refuses the document (the ledger never holds an amount revsync did not bill).
- An invoice dated in a closed period is rolled forward to the first day of the next open
  period, or refused, by policy. Warnings (a due date in the past) are acknowledged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from revsync.adapters.connectors.erp.provision import account_id, payment_term_name
from revsync.adapters.connectors.erp.rpc import (
    TrytonAccessError,
    TrytonAuthError,
    TrytonError,
    TrytonRpc,
    TrytonUnavailable,
    TrytonUserError,
    TrytonUserWarning,
)
from revsync.ports.erp import (
    ErpDocument,
    ErpInvoiceState,
    ErpParty,
    ErpPeriod,
    ErpPosting,
    ErpRefused,
    ErpUnavailable,
)

PeriodPolicy = Literal["roll_forward", "hold"]
T = TypeVar("T")
_INVOICE_FIELDS = ["number", "state", "invoice_date", "party.code", "reference"]


class TrytonErp:
    """:class:`~revsync.ports.erp.Erp` for a Tryton company set up by ``revsync erp
    provision``."""

    def __init__(
        self,
        rpc: TrytonRpc,
        *,
        receivable_account: str,
        payment_term_days: int,
        period_policy: PeriodPolicy = "roll_forward",
    ) -> None:
        self._rpc = rpc
        self._receivable = receivable_account
        self._payment_term = payment_term_name(payment_term_days)
        self._policy = period_policy
        self._ids: dict[str, int] = {}

    @property
    def rpc(self) -> TrytonRpc:
        """The JSON-RPC client (provisioning uses it)."""
        return self._rpc

    async def aclose(self) -> None:
        await self._rpc.aclose()

    # --- the port ----------------------------------------------------------------------

    async def post(self, document: ErpDocument) -> ErpPosting:
        return await _guard(self._post_document(document))

    async def _post_document(self, document: ErpDocument) -> ErpPosting:
        found = await self._invoice(document.key)
        if found is not None and found["state"] in ("posted", "paid"):
            return _posting(found)
        if found is not None and found["state"] == "cancelled":
            raise ErpRefused(f"the ERP invoice {found['id']} for this document was cancelled")
        if found is None:
            invoice_id = await self._create(document)
        else:
            invoice_id = int(found["id"])  # a draft an earlier attempt left: dated already
        await self._check_totals(invoice_id, document)
        await self._post(invoice_id)
        [posted] = await self._rpc.model("account.invoice", "read", [invoice_id], _INVOICE_FIELDS)
        moved = posted["invoice_date"] != document.invoice_date
        return _posting(posted, document.invoice_date if moved else None)

    async def find(self, key: str) -> ErpPosting | None:
        found = await _guard(self._invoice(key))
        if found is None or found["state"] not in ("posted", "paid"):
            return None
        return _posting(found)

    async def states(self, remote_ids: Sequence[str], today: date) -> dict[str, ErpInvoiceState]:
        return await _guard(self._states(remote_ids, today))

    async def _states(self, remote_ids: Sequence[str], today: date) -> dict[str, ErpInvoiceState]:
        ids = [int(i) for i in remote_ids]
        invoices = await self._rpc.model(
            "account.invoice",
            "read",
            ids,
            ["state", "amount_to_pay", "lines_to_pay", "number", "total_amount"],
        )
        line_ids = [line for invoice in invoices for line in invoice["lines_to_pay"]]
        lines = await self._rpc.model(
            "account.move.line", "read", line_ids, ["maturity_date", "reconciliation"]
        )
        open_dates = {
            line["id"]: line["maturity_date"] for line in lines if not line["reconciliation"]
        }
        reconciled = {line["id"] for line in lines if line["reconciliation"]}
        levels = await self._dunning_levels(ids)
        found = {}
        for invoice in invoices:
            due = [open_dates[i] for i in invoice["lines_to_pay"] if open_dates.get(i)]
            due_date = min(due) if due else None
            to_pay = Decimal(invoice["amount_to_pay"] or 0)
            remote = str(invoice["id"])
            found[remote] = ErpInvoiceState(
                remote_id=remote,
                # paid, or fully reconciled while Tryton's queue has yet to mark it paid
                paid=invoice["state"] == "paid"
                or (
                    bool(invoice["lines_to_pay"]) and reconciled.issuperset(invoice["lines_to_pay"])
                ),
                amount_to_pay=to_pay,
                overdue=to_pay > 0 and due_date is not None and due_date < today,
                due_date=due_date,
                dunning_level=levels.get(int(invoice["id"])),
                number=invoice["number"],
                total=invoice["total_amount"],
            )
        return found

    async def settle(self, invoice_id: str, credit_note_ids: Sequence[str]) -> Decimal:
        return await _guard(self._settle(int(invoice_id), [int(i) for i in credit_note_ids]))

    async def _settle(self, invoice_id: int, notes: Sequence[int]) -> Decimal:
        """Credit notes' receivable lines become payment lines of the invoice (Tryton lowers
        its amount to pay); when nothing is left, the lines are reconciled."""
        fields = ["state", "lines_to_pay", "payment_lines", "amount_to_pay"]
        [invoice] = await self._rpc.model("account.invoice", "read", [invoice_id], fields)
        if invoice["state"] == "paid":
            return Decimal(0)
        read = await self._rpc.model("account.invoice", "read", list(notes), ["lines_to_pay"])
        credits = [int(line) for note in read for line in note["lines_to_pay"]]
        added = [line for line in credits if line not in invoice["payment_lines"]]
        if added:
            await self._rpc.model(
                "account.invoice", "write", [invoice_id], {"payment_lines": [("add", added)]}
            )
        [after] = await self._rpc.model("account.invoice", "read", [invoice_id], fields)
        left = Decimal(after["amount_to_pay"] or 0)
        if left == 0 and after["state"] == "posted":
            lines = [*after["lines_to_pay"], *after["payment_lines"]]
            context = await self._rpc.context()
            active = {
                "active_model": "account.move.line",
                "active_id": lines[0],
                "active_ids": lines,
            }
            await self._wizard("account.move.reconcile_lines", {}, "start", context | active)
        return left

    async def periods(self, since: date) -> list[ErpPeriod]:
        return [
            ErpPeriod(p["name"], p["start_date"], p["end_date"], p["state"])
            for p in await _guard(self._periods(since))
        ]

    async def _periods(self, since: date) -> list[dict[str, Any]]:
        company = await self._company()
        found = await self._rpc.model(
            "account.period",
            "search_read",
            [("company", "=", company), ("type", "=", "standard"), ("end_date", ">=", since)],
            0,
            None,
            [("start_date", "ASC")],
            ["name", "start_date", "end_date", "state"],
        )
        return [dict(p) for p in found]

    async def run_collections(self, today: date) -> int:
        return await _guard(self._run_collections(today))

    async def _run_collections(self, today: date) -> int:
        """Tryton does not schedule dunning: generate the dunnings due today, then process
        the new ones (they move to ``waiting``, with their level)."""
        context = await self._rpc.context()
        company = await self._company()
        await self._wizard(
            "account.dunning.create",
            {"start": {"date": today, "companies": [company]}},
            "create_",
            context,
        )
        drafts = await self._rpc.model(
            "account.dunning", "search", [("state", "=", "draft")], 0, None, None
        )
        if drafts:
            active = {
                "active_model": "account.dunning",
                "active_id": drafts[0],
                "active_ids": drafts,
            }
            await self._wizard(
                "account.dunning.process", {"start": {}}, "process", context | active
            )
        return len(drafts)

    async def _wizard(
        self, name: str, data: dict[str, Any], state: str, context: dict[str, Any]
    ) -> None:
        """Run one state of a wizard (always deleting its session)."""
        session, _, _ = await self._rpc.call(f"wizard.{name}.create", [context])
        try:
            await self._rpc.call(f"wizard.{name}.execute", [session, data, state, context])
        finally:
            await self._rpc.call(f"wizard.{name}.delete", [session, context])

    async def run_deferrals(self) -> int:
        return await _guard(self._run_deferrals())

    async def _run_deferrals(self) -> int:
        drafts = await self._rpc.model(
            "account.invoice.deferred", "search", [("state", "=", "draft")], 0, None, None
        )
        if drafts:
            await self._rpc.model("account.invoice.deferred", "run", drafts)
        context = await self._rpc.context()
        await self._wizard("account.invoice.deferred.create_moves", {}, "create_moves", context)
        return len(drafts)

    # --- documents ---------------------------------------------------------------------

    async def _invoice(self, key: str) -> dict[str, Any] | None:
        found = await self._rpc.model(
            "account.invoice",
            "search_read",
            [("reference", "=", key), ("type", "=", "out")],
            0,
            1,
            None,
            _INVOICE_FIELDS,
        )
        return dict(found[0]) if found else None

    async def _create(self, document: ErpDocument) -> int:
        party, address = await self._party(document.party)
        invoice_date, rolled = await self._open_date(
            document.invoice_date, document.approved, credit=document.total < 0
        )
        # recognition cannot be booked in a closed period: a rolled-forward invoice's deferrals
        # start on its new date (the closed months are recognised over the remaining ones)
        lines = [
            await self._line(line, invoice_date if rolled else None) for line in document.lines
        ]
        [invoice] = await self._rpc.model(
            "account.invoice",
            "create",
            [
                {
                    "type": "out",
                    "company": await self._company(),
                    "party": party,
                    "invoice_address": address,
                    "account": await self._id("account", self._receivable),
                    "journal": await self._journal(),
                    "payment_term": await self._id("payment_term", self._payment_term),
                    "currency": await self._id("currency", document.currency),
                    "invoice_date": invoice_date,
                    "reference": document.key,
                    "description": document.number,
                    "lines": [("create", lines)],
                }
            ],
        )
        return int(invoice)

    async def _line(self, line: Any, defer_not_before: date | None) -> dict[str, Any]:
        values: dict[str, Any] = {
            "type": "line",
            "product": await self._id("product", line.product),
            "account": await self._id("account", line.account),
            "description": line.description,
            "quantity": line.quantity,  # exact on the wire (a Decimal), never a binary float
            "unit": await self._id("unit", "Unit"),
            "unit_price": line.unit_price,
        }
        if line.taxes:
            values["taxes"] = [("add", [await self._id("tax", name) for name in line.taxes])]
        if line.defer_from is not None:
            start = line.defer_from
            if defer_not_before is not None and start < defer_not_before <= line.defer_to:
                start = defer_not_before
            values["defer_from"] = start
            values["defer_to"] = line.defer_to
        return values

    async def _check_totals(self, invoice_id: int, document: ErpDocument) -> None:
        [totals] = await self._rpc.model(
            "account.invoice",
            "read",
            [invoice_id],
            ["untaxed_amount", "tax_amount", "total_amount"],
        )
        ours = (document.untaxed, document.tax, document.total)
        theirs = (totals["untaxed_amount"], totals["tax_amount"], totals["total_amount"])
        if ours != theirs:
            await self._rpc.model("account.invoice", "delete", [invoice_id])
            raise ErpRefused(
                "the ERP computes untaxed/tax/total "
                + "/".join(str(t) for t in theirs)
                + " where revsync billed "
                + "/".join(str(o) for o in ours)
                + "; the draft was deleted"
            )

    async def _post(self, invoice_id: int) -> None:
        # revsync sets each line's taxes itself (by the customer's country), which Tryton warns
        # about ("not the default taxes of the product"): acknowledged before the first try, so
        # that posting runs once; any other warning is acknowledged when it is raised
        await self._rpc.model("res.user.warning", "skip", _warning_key("invoice_taxes", invoice_id))
        for _ in range(5):
            try:
                await self._rpc.model("account.invoice", "post", [invoice_id])
                return
            except TrytonUserWarning as warning:  # e.g. a due date in the past: acknowledged
                await self._rpc.model("res.user.warning", "skip", warning.key, False)
        raise ErpRefused(f"the ERP kept asking to confirm warnings for invoice {invoice_id}")

    # --- master data -------------------------------------------------------------------

    async def _party(self, party: ErpParty) -> tuple[int, int]:
        found = await self._rpc.model(
            "party.party", "search_read", [("code", "=", party.code)], 0, 1, None, ["addresses"]
        )
        if found:
            addresses = found[0]["addresses"]
            if addresses:
                return int(found[0]["id"]), int(addresses[0])
            [address] = await self._rpc.model(
                "party.address", "create", [{"party": found[0]["id"]}]
            )
            return int(found[0]["id"]), int(address)
        address_values: dict[str, Any] = {}
        if party.country:
            country = await self._rpc.model(
                "country.country", "search", [("code", "=", party.country)], 0, 1, None
            )
            if country:
                address_values["country"] = country[0]
        [created] = await self._rpc.model(
            "party.party",
            "create",
            [
                {
                    "name": party.name,
                    "code": party.code,
                    "addresses": [("create", [address_values])],
                }
            ],
        )
        [read] = await self._rpc.model("party.party", "read", [created], ["addresses"])
        return int(created), int(read["addresses"][0])

    async def _open_date(
        self, wanted: date, approved: bool, *, credit: bool
    ) -> tuple[date, date | None]:
        """The date to post on: ``wanted`` if its period is open and no later invoice of its
        sequence is numbered yet, else by policy (an approved document rolls forward whatever
        the policy): the first day of the next open period, then the date of the last invoice
        numbered in that fiscal year — strict sequences need numbers to follow dates."""
        day, rolled = await self._open_period_date(wanted, approved)
        last = await self._last_numbered(day, credit)
        if last is None or last["invoice_date"] <= day:
            return day, rolled
        if self._policy == "hold" and not approved:
            raise ErpRefused(
                f"the ERP numbered {last['number']} on {last['invoice_date'].isoformat()}, after "
                f"{day.isoformat()}, and numbers must follow dates (policy: hold until the case "
                f"is approved to post it on that later date)"
            )
        return last["invoice_date"], wanted

    async def _last_numbered(self, day: date, credit: bool) -> dict[str, Any] | None:
        """The latest-dated invoice (or credit note) numbered after ``day`` in its fiscal year."""
        company = await self._company()
        years = await self._rpc.model(
            "account.fiscalyear",
            "search_read",
            [("company", "=", company), ("start_date", "<=", day), ("end_date", ">=", day)],
            0,
            1,
            None,
            ["end_date"],
        )
        if not years:
            return None
        found = await self._rpc.model(
            "account.invoice",
            "search_read",
            [
                ("company", "=", company),
                ("type", "=", "out"),
                ("number", "!=", None),
                ("invoice_date", ">", day),
                ("invoice_date", "<=", years[0]["end_date"]),
                ("total_amount", "<" if credit else ">=", 0),
            ],
            0,
            1,
            [("invoice_date", "DESC")],
            ["invoice_date", "number"],
        )
        return dict(found[0]) if found else None

    async def _open_period_date(self, wanted: date, approved: bool) -> tuple[date, date | None]:
        """``wanted`` if its period is open, else by policy."""
        periods = await self._periods(wanted)
        current = next((p for p in periods if p["start_date"] <= wanted), None)
        if current is None:
            raise ErpRefused(f"the ERP has no fiscal period for {wanted.isoformat()}")
        if current["state"] == "open":
            return wanted, None
        if self._policy == "hold" and not approved:
            raise ErpRefused(
                f"period {current['name']} is {current['state']} in the ERP "
                f"(policy: hold until the period is reopened, or the case is approved to "
                f"post it in the next open period)"
            )
        later = next(
            (p for p in periods if p["start_date"] > wanted and p["state"] == "open"), None
        )
        if later is None:
            raise ErpRefused(
                f"period {current['name']} is {current['state']} and no later period is open"
            )
        return later["start_date"], wanted

    async def _dunning_levels(self, invoice_ids: Sequence[int]) -> dict[int, str]:
        if not invoice_ids:
            return {}
        origins = [f"account.invoice,{i}" for i in invoice_ids]
        found = await self._rpc.model(
            "account.dunning",
            "search_read",
            [("line.move.origin", "in", origins), ("state", "!=", "cancelled")],
            0,
            None,
            None,
            ["level.rec_name", "level.sequence", "line.move.origin"],
        )
        levels: dict[int, str] = {}
        for dunning in found:
            origin = dunning.get("line.")
            move = origin.get("move.") if isinstance(origin, dict) else None
            reference = move.get("origin") if isinstance(move, dict) else None
            level = dunning.get("level.")
            if isinstance(reference, str) and isinstance(level, dict):
                levels[int(reference.split(",", 1)[1])] = _level_label(level)
        return levels

    # --- ids ---------------------------------------------------------------------------

    async def _company(self) -> int:
        return int((await self._rpc.context())["company"])

    async def _journal(self) -> int:
        return await self._cached(
            "journal:revenue", "account.journal", [("type", "=", "revenue")], "revenue journal"
        )

    async def _id(self, kind: str, name: str) -> int:
        if kind == "account":
            key = f"account:{name}"
            if key not in self._ids:
                try:
                    self._ids[key] = await account_id(self._rpc, name)
                except LookupError as error:
                    raise ErpRefused(str(error)) from None
            return self._ids[key]
        model, field = {
            "product": ("product.product", "code"),
            "tax": ("account.tax", "name"),
            "currency": ("currency.currency", "code"),
            "unit": ("product.uom", "name"),
            "payment_term": ("account.invoice.payment_term", "name"),
        }[kind]
        return await self._cached(f"{kind}:{name}", model, [(field, "=", name)], f"{kind} {name!r}")

    async def _cached(self, key: str, model: str, domain: list[Any], what: str) -> int:
        if key not in self._ids:
            found = await self._rpc.model(model, "search", domain, 0, 1, None)
            if not found:
                raise ErpRefused(f"the ERP has no {what} (run 'revsync erp provision')")
            self._ids[key] = int(found[0])
        return self._ids[key]


def _posting(invoice: dict[str, Any], rolled: date | None = None) -> ErpPosting:
    party = invoice.get("party.")
    return ErpPosting(
        remote_id=str(invoice["id"]),
        number=str(invoice["number"]),
        party=str(party.get("code")) if isinstance(party, dict) else "",
        invoice_date=invoice["invoice_date"],
        rolled_forward_from=rolled,
    )


async def _guard(work: Awaitable[T]) -> T:
    """Tryton's errors as the port's: refusals, unavailability, or a retriable failure."""
    try:
        return await work
    except (ErpRefused, ErpUnavailable):
        raise
    except TrytonUnavailable as error:
        raise ErpUnavailable(str(error), sent=error.sent) from error
    except TrytonUserError as error:
        raise ErpRefused(error.message if not error.description else str(error)) from error
    except (TrytonAuthError, TrytonAccessError) as error:
        raise ErpRefused(f"the ERP refused revsync's login or rights: {error}") from error
    except TrytonError as error:
        raise ErpUnavailable(f"the ERP failed: {error}", sent=True) from error


def day_before(day: date) -> date:
    """The last day of a period that ends (exclusively) on ``day``."""
    return day - timedelta(days=1)


def _level_label(level: dict[str, Any]) -> str:
    """``level N`` for the levels revsync provisions (sequence 1, 2, ...), else Tryton's name."""
    sequence = level.get("sequence")
    return f"level {sequence}" if sequence else str(level["rec_name"])


def _warning_key(name: str, invoice_id: int) -> str:
    """The name Tryton gives a warning about one invoice (``res.user.warning.format``)."""
    digest = hashlib.md5(f"account.invoice,{invoice_id}".encode(), usedforsecurity=False)
    return f"{digest.hexdigest()}.{name}"
