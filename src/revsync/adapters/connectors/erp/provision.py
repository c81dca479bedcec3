"""``revsync erp provision``: make a Tryton database ready for revsync's postings.

Company and currencies, the chart of accounts (Tryton's universal chart), fiscal years with
monthly periods and their sequences, a payment term, taxes from revsync's tax table, one
service product per posting rule (salable, for the sale orders of won deals), the deferred
revenue account, a payment method and a dunning procedure. Each step looks before it creates,
so running it again changes nothing.

Sale orders need nothing more: Tryton's sale module numbers them with the sequence it ships
(``Sale``, shared by every company), and an order of service products needs no warehouse,
shipment address or customer location (nothing is shipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from revsync.adapters.connectors.erp.rpc import TrytonRpc
from revsync.domain.money import minor_units

#: the chart revsync creates (Tryton's account module ships it)
CHART = "Universal Chart of Accounts"


@dataclass(frozen=True, slots=True)
class Blueprint:
    """What the ERP must hold for revsync."""

    company: str
    currency: str
    currencies: Sequence[str]
    years: Sequence[int]
    receivable_account: str
    payable_account: str
    tax_account: str
    deferred_revenue_account: str
    cash_account: str
    payment_term_days: int
    dunning_days: Sequence[int]
    taxes: Sequence[tuple[str, str, Decimal]]  # (country, tax code, percent)
    products: Sequence[tuple[str, str]]  # (product code, revenue account code)


@dataclass(slots=True)
class Provisioned:
    """What a run created (empty when everything was there already)."""

    created: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.created.append(what)


def tax_name(country: str, code: str, percent: Decimal) -> str:
    """The name of the ERP tax for a country's tax code."""
    return f"{country} {code} {percent.normalize():f}%"


def payment_term_name(days: int) -> str:
    return f"revsync {days} days"


async def provision(rpc: TrytonRpc, blueprint: Blueprint) -> Provisioned:
    """Bring the ERP in line with ``blueprint``; returns what was created."""
    done = Provisioned()
    currencies = {code: await _currency(rpc, code, done) for code in blueprint.currencies}
    company = await _company(rpc, blueprint, currencies[blueprint.currency], done)
    await _user(rpc, company, done)
    await _chart(rpc, blueprint, company, done)
    for year in blueprint.years:
        await _fiscal_year(rpc, year, company, done)
    await _payment_term(rpc, blueprint.payment_term_days, done)
    tax_account = await account_id(rpc, blueprint.tax_account)
    for country, code, percent in blueprint.taxes:
        await _tax(rpc, tax_name(country, code, percent), percent, tax_account, company, done)
    unit = await _one(rpc, "product.uom", [("name", "=", "Unit")])
    for product, account in blueprint.products:
        await _product(rpc, product, await account_id(rpc, account), unit, done)
    await _configuration(rpc, blueprint, done)
    await _payment_method(rpc, blueprint, company, done)
    await _dunning(rpc, blueprint.dunning_days, done)
    return done


async def account_id(rpc: TrytonRpc, code: str) -> int:
    """The open account with ``code`` (raises when the chart has none)."""
    found = await rpc.model(
        "account.account", "search", [("code", "=", code), ("closed", "=", False)], 0, 1, None
    )
    if not found:
        raise LookupError(f"the ERP's chart has no open account {code!r}")
    return int(found[0])


async def _one(rpc: TrytonRpc, model: str, domain: list[object]) -> int | None:
    found = await rpc.model(model, "search", domain, 0, 1, None)
    return int(found[0]) if found else None


async def _currency(rpc: TrytonRpc, code: str, done: Provisioned) -> int:
    existing = await _one(rpc, "currency.currency", [("code", "=", code)])
    if existing is not None:
        return existing
    digits = minor_units(code)
    rounding = Decimal(1).scaleb(-digits)
    [created] = await rpc.model(
        "currency.currency",
        "create",
        [{"name": code, "code": code, "symbol": code, "rounding": rounding, "digits": digits}],
    )
    done.add(f"currency {code}")
    return int(created)


async def _company(rpc: TrytonRpc, blueprint: Blueprint, currency: int, done: Provisioned) -> int:
    existing = await _one(rpc, "company.company", [("party.name", "=", blueprint.company)])
    if existing is not None:
        return existing
    [party] = await rpc.model("party.party", "create", [{"name": blueprint.company}])
    [company] = await rpc.model(
        "company.company", "create", [{"party": party, "currency": currency, "timezone": "UTC"}]
    )
    done.add(f"company {blueprint.company}")
    return int(company)


async def _user(rpc: TrytonRpc, company: int, done: Provisioned) -> None:
    """The integration user works in the company with every business group."""
    uid = await rpc.user_id()
    [user] = await rpc.model("res.user", "read", [uid], ["companies", "company", "groups"])
    groups = await rpc.model("res.group", "search", [], 0, None, None)
    missing = sorted(set(groups) - set(user["groups"]))
    changes: dict[str, object] = {}
    if missing:
        changes["groups"] = [("add", missing)]
    if company not in user["companies"]:
        changes["companies"] = [("add", [company])]
    if user["company"] != company:
        changes["company"] = company
    if changes:
        await rpc.model("res.user", "write", [uid], changes)
        rpc.forget_context()
        done.add("user groups and company")


async def _chart(rpc: TrytonRpc, blueprint: Blueprint, company: int, done: Provisioned) -> None:
    if await _one(rpc, "account.account", [("company", "=", company)]) is not None:
        return
    template = await _one(rpc, "account.account.template", [("name", "=", CHART)])
    if template is None:
        raise LookupError(f"the ERP has no chart template {CHART!r}")
    context = await rpc.context()
    session, start, _ = await rpc.call("wizard.account.create_chart.create", [context])
    try:
        await rpc.call("wizard.account.create_chart.execute", [session, {}, start, context])
        await rpc.call(
            "wizard.account.create_chart.execute",
            [
                session,
                {"account": {"company": company, "account_template": template}},
                "create_account",
                context,
            ],
        )
        properties = {
            "company": company,
            "account_receivable": await account_id(rpc, blueprint.receivable_account),
            "account_payable": await account_id(rpc, blueprint.payable_account),
        }
        await rpc.call(
            "wizard.account.create_chart.execute",
            [session, {"properties": properties}, "create_properties", context],
        )
    finally:
        await rpc.call("wizard.account.create_chart.delete", [session, context])
    done.add(f"chart of accounts ({CHART})")


async def _fiscal_year(rpc: TrytonRpc, year: int, company: int, done: Provisioned) -> None:
    name = str(year)
    if await _one(rpc, "account.fiscalyear", [("name", "=", name), ("company", "=", company)]):
        return
    move_type = await _one(rpc, "ir.sequence.type", [("name", "=", "Account Move")])
    invoice_type = await _one(rpc, "ir.sequence.type", [("name", "=", "Invoice")])
    sequences = await rpc.model(
        "ir.sequence.strict",
        "create",
        [
            {"name": f"Moves {year}", "sequence_type": move_type, "company": company},
            *(
                {
                    "name": f"{label} {year}",
                    "sequence_type": invoice_type,
                    "company": company,
                    "prefix": prefix,
                    "padding": 5,
                }
                for label, prefix in (
                    ("Customer invoices", f"INV-{year}-"),
                    ("Customer credit notes", f"CN-{year}-"),
                    ("Supplier invoices", f"SINV-{year}-"),
                    ("Supplier credit notes", f"SCN-{year}-"),
                )
            ),
        ],
    )
    move, out_invoice, out_credit, in_invoice, in_credit = sequences
    [fiscal_year] = await rpc.model(
        "account.fiscalyear",
        "create",
        [
            {
                "name": name,
                "start_date": date(year, 1, 1),
                "end_date": date(year, 12, 31),
                "company": company,
                "move_sequence": move,
                "invoice_sequences": [
                    (
                        "create",
                        [
                            {
                                "company": company,
                                "out_invoice_sequence": out_invoice,
                                "out_credit_note_sequence": out_credit,
                                "in_invoice_sequence": in_invoice,
                                "in_credit_note_sequence": in_credit,
                            }
                        ],
                    )
                ],
            }
        ],
    )
    await rpc.model("account.fiscalyear", "create_period", [fiscal_year])
    done.add(f"fiscal year {year} with monthly periods")


async def _payment_term(rpc: TrytonRpc, days: int, done: Provisioned) -> None:
    name = payment_term_name(days)
    if await _one(rpc, "account.invoice.payment_term", [("name", "=", name)]) is not None:
        return
    line = {"type": "remainder", "relativedeltas": [("create", [{"days": days}])]}
    await rpc.model(
        "account.invoice.payment_term", "create", [{"name": name, "lines": [("create", [line])]}]
    )
    done.add(f"payment term {name}")


async def _tax(
    rpc: TrytonRpc, name: str, percent: Decimal, account: int, company: int, done: Provisioned
) -> None:
    if await _one(rpc, "account.tax", [("name", "=", name), ("company", "=", company)]):
        return
    await rpc.model(
        "account.tax",
        "create",
        [
            {
                "name": name,
                "description": name,
                "type": "percentage",
                "rate": percent / 100,
                "invoice_account": account,
                "credit_note_account": account,
                "company": company,
            }
        ],
    )
    done.add(f"tax {name}")


async def _product(
    rpc: TrytonRpc, code: str, revenue_account: int, unit: int | None, done: Provisioned
) -> None:
    """A service product, salable in its unit; one made before sales were provisioned is made
    salable (nothing else of it changes)."""
    found = await rpc.model(
        "product.product", "search_read", [("code", "=", code)], 0, 1, None, ["template"]
    )
    if found:
        template = found[0]["template"]
        [read] = await rpc.model("product.template", "read", [template], ["salable", "sale_uom"])
        if not read["salable"]:
            sale_uom = read["sale_uom"] or unit
            await rpc.model(
                "product.template", "write", [template], {"salable": True, "sale_uom": sale_uom}
            )
            done.add(f"product {code} salable")
        return
    [category] = await rpc.model(
        "product.category",
        "create",
        [{"name": f"revsync {code}", "accounting": True, "account_revenue": revenue_account}],
    )
    await rpc.model(
        "product.template",
        "create",
        [
            {
                "name": code,
                "code": code,
                "type": "service",
                "default_uom": unit,
                "salable": True,
                "sale_uom": unit,
                "list_price": Decimal(0),
                "account_category": category,
                "products": [("create", [{}])],
            }
        ],
    )
    done.add(f"product {code}")


async def _configuration(rpc: TrytonRpc, blueprint: Blueprint, done: Provisioned) -> None:
    deferred = await account_id(rpc, blueprint.deferred_revenue_account)
    [config] = await rpc.model("account.configuration", "read", [1], ["deferred_account_revenue"])
    if config["deferred_account_revenue"] != deferred:
        await rpc.model(
            "account.configuration", "write", [1], {"deferred_account_revenue": deferred}
        )
        done.add("deferred revenue account")


async def _payment_method(
    rpc: TrytonRpc, blueprint: Blueprint, company: int, done: Provisioned
) -> None:
    name = "revsync cash"
    if await _one(rpc, "account.invoice.payment.method", [("name", "=", name)]) is not None:
        return
    journal = await _one(rpc, "account.journal", [("type", "=", "cash")])
    cash = await account_id(rpc, blueprint.cash_account)
    await rpc.model(
        "account.invoice.payment.method",
        "create",
        [
            {
                "name": name,
                "company": company,
                "journal": journal,
                "credit_account": cash,
                "debit_account": cash,
            }
        ],
    )
    done.add(f"payment method {name}")


async def _dunning(rpc: TrytonRpc, days: Sequence[int], done: Provisioned) -> None:
    name = "revsync"
    if await _one(rpc, "account.dunning.procedure", [("name", "=", name)]) is not None:
        return
    levels = [{"sequence": n, "overdue": timedelta(days=d)} for n, d in enumerate(days, 1)]
    [procedure] = await rpc.model(
        "account.dunning.procedure", "create", [{"name": name, "levels": [("create", levels)]}]
    )
    await rpc.model("account.configuration", "write", [1], {"default_dunning_procedure": procedure})
    done.add(f"dunning procedure ({', '.join(str(d) for d in days)} days overdue)")
