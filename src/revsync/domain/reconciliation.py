"""Reconciliation: revsync's books against the usage behind them, the ERP and the CRM.

Pure comparisons. :func:`compare_ledger` sets what revsync sent to the ERP (:class:`Booked`)
beside what the ERP holds (:class:`LedgerEntry`) and returns every difference as a
:class:`Finding`; :func:`compare_lineage` does the same for a usage line and the events found
behind it again. A finding's :attr:`Finding.key` names the discrepancy, not the run, so that a
later run that finds it again updates the same exception case and one that no longer finds it
closes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class Check(StrEnum):
    """What a reconciliation run compares."""

    USAGE = "usage"  # each finalized usage line against the events behind it
    ERP = "erp"  # revsync's invoices and credit notes against the ERP's
    CRM = "crm"  # the CRM account fields revsync owns against what revsync last sent


class FindingKind(StrEnum):
    """A kind of discrepancy."""

    LINEAGE = "lineage"  # a usage line's events no longer are the ones it was billed on
    ERP_MISSING = "erp_missing"  # delivered to the ERP, and not there
    ERP_DUPLICATE = "erp_duplicate"  # there more than once under its key
    ERP_AMOUNTS = "erp_amounts"  # there with other amounts, currency or party
    ERP_STATE = "erp_state"  # there, but not posted (a draft, cancelled)
    ERP_PAYMENT = "erp_payment"  # paid on one side only
    ERP_UNKNOWN = "erp_unknown"  # a posted customer invoice in the ERP under no revsync key
    CRM_SIGNALS = "crm_signals"  # an account's revsync-owned fields are not what was sent
    CRM_MISSING = "crm_missing"  # the account revsync writes to is gone from the CRM
    CRM_CONTRACT = "crm_contract"  # a CRM contract and its subscription disagree, or one is gone


#: the finding kinds each check can report (a run closes the cases of the checks it ran)
KINDS: Mapping[Check, frozenset[FindingKind]] = {
    Check.USAGE: frozenset({FindingKind.LINEAGE}),
    Check.ERP: frozenset(k for k in FindingKind if k.value.startswith("erp_")),
    Check.CRM: frozenset(k for k in FindingKind if k.value.startswith("crm_")),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One discrepancy, with both sides' values."""

    kind: FindingKind
    object_type: str  # invoice, invoice_line, erp_invoice
    object_id: str
    message: str
    ours: Mapping[str, str] = field(default_factory=dict)
    theirs: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What the discrepancy is about, the same from run to run."""
        return f"{self.kind.value}:{self.object_type}:{self.object_id}"


@dataclass(frozen=True, slots=True)
class Booked:
    """An invoice or credit note revsync sent to the ERP, as revsync has it."""

    invoice_id: str
    number: str
    key: str  # the idempotency key it carries in the ERP
    currency: str
    untaxed: Decimal
    tax: Decimal
    total: Decimal
    delivered: bool  # the ERP confirmed it (the message was delivered)
    party: str | None = None  # the ERP party it was posted to, once posted
    paid: bool | None = None  # as the last payment sync read it; None before posting


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A customer invoice or credit note as the ERP holds it."""

    remote_id: str
    key: str | None  # the idempotency key it carries, if any
    number: str | None  # the ERP's number (None for a draft)
    party: str  # the party code
    currency: str
    untaxed: Decimal
    tax: Decimal
    total: Decimal
    state: str  # draft, validated, posted, paid, cancelled
    paid: bool


@dataclass(frozen=True, slots=True)
class ContractView:
    """A CRM contract in revsync's terms (its plan as a revsync plan code)."""

    contract_id: str
    subscription_id: str  # the subscription revsync keeps for it
    account_id: str
    active: bool
    plan: str | None
    seats: int | None
    renewal_date: date | None


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription of a CRM-linked customer, by its latest terms."""

    subscription_id: str
    account_ids: tuple[str, ...]  # the customer's CRM accounts
    in_service: bool
    plan: str
    seats: int
    renewal_date: date | None


@dataclass(frozen=True, slots=True)
class ReconciliationRun:
    """One reconciliation: what it compared, what it found, the cases it opened and closed."""

    id: str
    started_at: datetime
    finished_at: datetime
    since: date
    actor: str
    checks: tuple[Check, ...]
    checked: Mapping[str, int]  # per check, how many documents or lines it compared
    findings: Sequence[Finding]
    opened: Sequence[str] = field(default_factory=tuple)  # case ids opened or brought up to date
    closed: Sequence[str] = field(default_factory=tuple)  # case ids no longer found, resolved

    @property
    def clean(self) -> bool:
        return not self.findings


def accuracy(run: ReconciliationRun) -> float:
    """Of the invoices and credit notes an ERP reconciliation compared, the share it found in
    the ERP as revsync has them (1 when it compared none)."""
    compared = run.checked.get(Check.ERP.value, 0)
    wrong = {f.object_id for f in run.findings if f.object_type == "invoice"}
    return (compared - len(wrong)) / compared if compared else 1.0


#: ERP states in which a document is in the ledger
POSTED = frozenset({"posted", "paid"})


def compare_ledger(booked: Iterable[Booked], ledger: Iterable[LedgerEntry]) -> list[Finding]:
    """Every difference between what revsync sent to the ERP and what the ERP holds.

    A document revsync has yet to deliver (its message pending, or failed into a case) is
    compared only if the ERP has it: its absence is the outbox's business, not a discrepancy.
    """
    by_key: dict[str, list[LedgerEntry]] = {}
    for entry in ledger:
        by_key.setdefault(entry.key or "", []).append(entry)
    findings: list[Finding] = []
    for ours in sorted(booked, key=lambda b: b.number):
        theirs = by_key.pop(ours.key, [])
        if not theirs:
            if ours.delivered:
                findings.append(
                    Finding(
                        FindingKind.ERP_MISSING,
                        "invoice",
                        ours.invoice_id,
                        f"{ours.number} was posted, and the ERP has no document under its key",
                        _ours(ours),
                    )
                )
            continue
        live = [e for e in theirs if e.state != "cancelled"] or theirs
        if len(live) > 1:
            findings.append(
                Finding(
                    FindingKind.ERP_DUPLICATE,
                    "invoice",
                    ours.invoice_id,
                    f"{ours.number} is in the ERP {len(live)} times",
                    _ours(ours),
                    {"numbers": ", ".join(str(e.number) for e in live)},
                )
            )
            continue
        findings.extend(_compare_one(ours, live[0]))
    for key, entries in sorted(by_key.items()):
        for entry in entries:
            if entry.state in POSTED:
                findings.append(
                    Finding(
                        FindingKind.ERP_UNKNOWN,
                        "erp_invoice",
                        entry.remote_id,
                        f"the ERP's {entry.number} ({entry.party}, {entry.total} "
                        f"{entry.currency}) is no revsync invoice"
                        + (f" (key {key!r})" if key else ""),
                        {},
                        _theirs(entry),
                    )
                )
    return findings


def _compare_one(ours: Booked, theirs: LedgerEntry) -> list[Finding]:
    if theirs.state not in POSTED:
        if not ours.delivered and theirs.state in ("draft", "validated"):
            return []  # an attempt under way (or interrupted) left it: the outbox finishes it
        return [
            Finding(
                FindingKind.ERP_STATE,
                "invoice",
                ours.invoice_id,
                f"{ours.number} is {theirs.state} in the ERP",
                _ours(ours),
                _theirs(theirs),
            )
        ]
    findings = []
    mine: dict[str, object] = {
        "currency": ours.currency,
        "untaxed": ours.untaxed,
        "tax": ours.tax,
        "total": ours.total,
    }
    held: dict[str, object] = {
        "currency": theirs.currency,
        "untaxed": theirs.untaxed,
        "tax": theirs.tax,
        "total": theirs.total,
    }
    if ours.party is not None:  # known once posted
        mine["party"], held["party"] = ours.party, theirs.party
    differ = [name for name in mine if mine[name] != held[name]]
    if differ:
        findings.append(
            Finding(
                FindingKind.ERP_AMOUNTS,
                "invoice",
                ours.invoice_id,
                f"{ours.number} differs in the ERP ({theirs.number}): "
                + ", ".join(f"{n} {mine[n]} here, {held[n]} there" for n in differ),
                _ours(ours),
                _theirs(theirs),
            )
        )
    if ours.paid is not None and ours.paid != theirs.paid:
        here, there = ("paid", "unpaid") if ours.paid else ("unpaid", "paid")
        findings.append(
            Finding(
                FindingKind.ERP_PAYMENT,
                "invoice",
                ours.invoice_id,
                f"{ours.number} is {here} in revsync and {there} in the ERP ({theirs.number})",
                _ours(ours),
                _theirs(theirs),
            )
        )
    return findings


@dataclass(frozen=True, slots=True)
class SentSignals:
    """The account fields revsync last sent to a customer's CRM account."""

    customer_id: str
    account_id: str
    values: Mapping[str, object]


def compare_signals(
    sent: Iterable[SentSignals], read: Mapping[str, Mapping[str, object]]
) -> list[Finding]:
    """Each account's fields as the CRM holds them (``read``, by account id) against what
    revsync last sent; numbers compare by value (``12`` is ``12.0``)."""
    findings = []
    for signals in sorted(sent, key=lambda s: s.customer_id):
        held = read.get(signals.account_id)
        ours = {name: _text(value) for name, value in sorted(signals.values.items())}
        if held is None:
            findings.append(
                Finding(
                    FindingKind.CRM_MISSING,
                    "customer",
                    signals.customer_id,
                    f"{signals.customer_id}'s CRM account {signals.account_id} is gone",
                    ours,
                )
            )
            continue
        differ = sorted(n for n, v in signals.values.items() if not same_value(v, held.get(n)))
        if differ:
            findings.append(
                Finding(
                    FindingKind.CRM_SIGNALS,
                    "customer",
                    signals.customer_id,
                    f"{signals.customer_id}'s CRM account {signals.account_id}: "
                    + ", ".join(
                        f"{n} {_text(signals.values[n])} sent, {_text(held.get(n))} there"
                        for n in differ
                    ),
                    {n: ours[n] for n in differ},
                    {n: _text(held.get(n)) for n in differ},
                )
            )
    return findings


def compare_contracts(
    contracts: Iterable[ContractView], subscriptions: Mapping[str, SubscriptionView]
) -> list[Finding]:
    """Each CRM contract against the subscription revsync keeps for it (in service while the
    contract is active; same plan, seats, renewal date and account), and each subscription
    made from a contract against the contract still being there (``subscriptions`` holds only
    those made from contracts, by id)."""
    findings = []
    seen: set[str] = set()
    for contract in sorted(contracts, key=lambda c: c.subscription_id):
        seen.add(contract.subscription_id)
        sub = subscriptions.get(contract.subscription_id)
        theirs = _contract_values(contract)
        if sub is None:
            if contract.active:
                findings.append(
                    Finding(
                        FindingKind.CRM_CONTRACT,
                        "subscription",
                        contract.subscription_id,
                        f"CRM contract {contract.contract_id} is active and revsync has no "
                        "subscription for it",
                        {},
                        theirs,
                    )
                )
            continue
        ours = _subscription_values(sub, contract.account_id)
        differ = [
            name
            for name in ours
            if name in theirs
            and ours[name] != theirs[name]
            and (contract.active or name == "in_service")
        ]
        if differ:
            findings.append(
                Finding(
                    FindingKind.CRM_CONTRACT,
                    "subscription",
                    sub.subscription_id,
                    f"{sub.subscription_id} and CRM contract {contract.contract_id}: "
                    + ", ".join(
                        f"{n} {ours[n] or '-'} here, {theirs[n] or '-'} there" for n in differ
                    ),
                    {n: ours[n] for n in differ},
                    {n: theirs[n] for n in differ},
                )
            )
    for sub_id, sub in sorted(subscriptions.items()):
        if sub_id not in seen and sub.in_service:
            findings.append(
                Finding(
                    FindingKind.CRM_CONTRACT,
                    "subscription",
                    sub_id,
                    f"{sub_id} is in service and its CRM contract is gone",
                    _subscription_values(sub, None),
                    {},
                )
            )
    return findings


def _contract_values(contract: ContractView) -> dict[str, str]:
    values = {"in_service": _text(contract.active), "account": contract.account_id}
    if contract.plan is not None:
        values["plan"] = contract.plan
    if contract.seats is not None:
        values["seats"] = str(contract.seats)
    if contract.renewal_date is not None:  # what the contract does not state is not compared
        values["renewal_date"] = contract.renewal_date.isoformat()
    return values


def _subscription_values(sub: SubscriptionView, account_id: str | None) -> dict[str, str]:
    account = account_id if account_id in sub.account_ids else ",".join(sub.account_ids)
    return {
        "in_service": _text(sub.in_service),
        "account": account,
        "plan": sub.plan,
        "seats": str(sub.seats),
        "renewal_date": _text(sub.renewal_date),
    }


def same_value(sent: object, held: object) -> bool:
    """Whether a field holds what was sent: numbers by value, the rest as given."""
    if isinstance(sent, bool) or isinstance(held, bool) or sent is None or held is None:
        return sent == held
    if isinstance(sent, int | float | Decimal) or isinstance(held, int | float | Decimal):
        try:
            return Decimal(str(sent)) == Decimal(str(held))
        except ArithmeticError:
            return False
    return str(sent) == str(held)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def compare_lineage(
    invoice_id: str,
    number: str,
    line_key: str,
    billed: tuple[int, str],
    found: tuple[int, str],
) -> list[Finding]:
    """A usage line billed on ``billed`` (events, digest) whose events, read again up to the
    same ingest sequence number, are ``found``."""
    if billed == found:
        return []
    return [
        Finding(
            FindingKind.LINEAGE,
            "invoice_line",
            f"{invoice_id}/{line_key}",
            f"{number} line {line_key}: billed on {billed[0]} events, {found[0]} found behind "
            f"it now" + (" (other events)" if billed[0] == found[0] else ""),
            {"events": str(billed[0]), "events_hash": billed[1]},
            {"events": str(found[0]), "events_hash": found[1]},
        )
    ]


def _ours(booked: Booked) -> dict[str, str]:
    values = {
        "number": booked.number,
        "currency": booked.currency,
        "untaxed": str(booked.untaxed),
        "tax": str(booked.tax),
        "total": str(booked.total),
    }
    if booked.party is not None:
        values["party"] = booked.party
    if booked.paid is not None:
        values["paid"] = str(booked.paid).lower()
    return values


def _theirs(entry: LedgerEntry) -> dict[str, str]:
    return {
        "remote_id": entry.remote_id,
        "number": str(entry.number or ""),
        "state": entry.state,
        "party": entry.party,
        "currency": entry.currency,
        "untaxed": str(entry.untaxed),
        "tax": str(entry.tax),
        "total": str(entry.total),
        "paid": str(entry.paid).lower(),
    }


def summary(findings: Sequence[Finding]) -> dict[str, int]:
    """How many findings of each kind."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.kind.value] = counts.get(finding.kind.value, 0) + 1
    return counts
