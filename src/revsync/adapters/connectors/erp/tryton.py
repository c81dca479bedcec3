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
- Documents are posted many per call, numbered in their order
  (:mod:`~revsync.adapters.connectors.erp.tryton_posting` says how, and what Tryton does).
- Sale orders are placed once by key, confirmed and processed, never invoiced by Tryton: an
  invoice line with a ``sale_line`` has that line as its origin, which links the invoice to
  the sale (:mod:`~revsync.adapters.connectors.erp.tryton_sales`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from revsync.adapters.connectors.erp.rpc import (
    TrytonAccessError,
    TrytonAuthError,
    TrytonError,
    TrytonRpc,
    TrytonUnavailable,
    TrytonUserError,
)
from revsync.adapters.connectors.erp.tryton_posting import PeriodPolicy as PeriodPolicy
from revsync.adapters.connectors.erp.tryton_posting import (
    PostingRun,
    TrytonIds,
    TrytonParties,
    TrytonPoster,
    posting_of,
)
from revsync.adapters.connectors.erp.tryton_sales import SaleRun, TrytonSales
from revsync.domain.reconciliation import LedgerEntry
from revsync.ports.erp import (
    ErpDocument,
    ErpInvoiceState,
    ErpPeriod,
    ErpPosting,
    ErpRefused,
    ErpSale,
    ErpSaleOrder,
    ErpUnavailable,
)

T = TypeVar("T")
#: invoices read per call when reconciling
_PAGE = 500


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
        self._ids = TrytonIds(rpc)
        parties = TrytonParties(rpc)
        self._sales = TrytonSales(rpc, self._ids, parties)
        self._poster = TrytonPoster(
            rpc,
            self._ids,
            parties,
            receivable_account=receivable_account,
            payment_term_days=payment_term_days,
            period_policy=period_policy,
        )

    @property
    def rpc(self) -> TrytonRpc:
        """The JSON-RPC client (provisioning uses it)."""
        return self._rpc

    async def aclose(self) -> None:
        await self._rpc.aclose()

    # --- the port ----------------------------------------------------------------------

    async def post(self, document: ErpDocument) -> ErpPosting:
        [result] = await self.post_many([document])
        if isinstance(result, ErpRefused):
            raise result
        return result

    async def post_many(self, documents: Sequence[ErpDocument]) -> list[ErpPosting | ErpRefused]:
        run = PostingRun()
        try:
            await _guard(self._poster.post_many(documents, run))
        except ErpRefused as refusal:  # not one document's own (revsync's login or rights…):
            run.results.append(refusal)  # the next document is refused, as post() would be
        except ErpUnavailable as error:
            if run.wrote and not error.sent:  # an earlier write of the batch may have arrived
                raise ErpUnavailable(str(error), sent=True, outage=error.outage) from error
            raise
        return run.results

    async def find(self, key: str) -> ErpPosting | None:
        found = (await _guard(self._poster.lookup([key]))).get(key)
        if found is None or found["state"] not in ("posted", "paid"):
            return None
        return posting_of(found, found=True)

    async def place_sale(self, order: ErpSaleOrder) -> ErpSale:
        run = SaleRun()
        try:
            return await _guard(self._sales.place(order, run))
        except ErpUnavailable as error:
            if run.wrote and not error.sent:  # an earlier write may have arrived
                raise ErpUnavailable(str(error), sent=True, outage=error.outage) from error
            raise

    async def find_sale(self, key: str) -> ErpSale | None:
        return await _guard(self._sales.find(key))

    async def _create_sale(self, order: ErpSaleOrder) -> int:
        """A draft sale for ``order``, as an attempt interrupted before confirming leaves it
        (for tests)."""
        return await self._sales.create(order)

    async def _create(self, document: ErpDocument) -> int:
        """A draft for ``document``, as an attempt interrupted before posting leaves it (for
        tests and the benchmark's baseline)."""
        return await self._poster.create(document)

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

    async def ledger(self, since: date) -> list[LedgerEntry]:
        return await _guard(self._ledger(since))

    async def _ledger(self, since: date) -> list[LedgerEntry]:
        domain = [
            ("type", "=", "out"),
            ["OR", ("invoice_date", ">=", since), ("invoice_date", "=", None)],
        ]
        fields = [
            "reference",
            "number",
            "party.code",
            "currency.code",
            "untaxed_amount",
            "tax_amount",
            "total_amount",
            "state",
        ]
        found: list[dict[str, Any]] = []
        while True:  # a page at a time, by id
            page = await self._rpc.model(
                "account.invoice", "search_read", domain, len(found), _PAGE, [("id", "ASC")], fields
            )
            found.extend(page)
            if len(page) < _PAGE:
                break
        posted = [str(i["id"]) for i in found if i["state"] in ("posted", "paid")]
        paid: set[str] = set()
        for start in range(0, len(posted), _PAGE):
            states = await self._states(posted[start : start + _PAGE], since)
            paid.update(remote for remote, state in states.items() if state.paid)
        return [
            LedgerEntry(
                remote_id=str(i["id"]),
                key=i["reference"] or None,
                number=i["number"] or None,
                party=str((i.get("party.") or {}).get("code") or ""),
                currency=str((i.get("currency.") or {}).get("code") or ""),
                untaxed=Decimal(i["untaxed_amount"]),
                tax=Decimal(i["tax_amount"]),
                total=Decimal(i["total_amount"]),
                state=str(i["state"]),
                paid=str(i["id"]) in paid,
            )
            for i in found
        ]

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

    async def _company(self) -> int:
        return await self._ids.company()


async def _guard(work: Awaitable[T]) -> T:
    """Tryton's errors as the port's: refusals, unavailability, or a retriable failure."""
    try:
        return await work
    except (ErpRefused, ErpUnavailable):
        raise
    except TrytonUnavailable as error:
        raise ErpUnavailable(str(error), sent=error.sent, outage=error.outage) from error
    except TrytonUserError as error:
        raise ErpRefused(error.message if not error.description else str(error)) from error
    except (TrytonAuthError, TrytonAccessError) as error:
        raise ErpRefused(f"the ERP refused revsync's login or rights: {error}") from error
    except TrytonError as error:
        raise ErpUnavailable(f"the ERP failed: {error}", sent=True, outage=False) from error


def day_before(day: date) -> date:
    """The last day of a period that ends (exclusively) on ``day``."""
    return day - timedelta(days=1)


def _level_label(level: dict[str, Any]) -> str:
    """``level N`` for the levels revsync provisions (sequence 1, 2, ...), else Tryton's name."""
    sequence = level.get("sequence")
    return f"level {sequence}" if sequence else str(level["rec_name"])
