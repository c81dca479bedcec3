"""Properties of thresholds and progressive billing on generated usage histories (hypothesis, a
fresh world per example): whatever arrives when, and however often the watcher looks,

- each threshold fires once, exactly when what it watches has reached its limit;
- the interim invoices and the period's invoice together bill what one invoice of the whole
  period bills (the same usage lines as a world without thresholds), to the cent;
- a look that finds nothing new changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.invoicing import Invoice, InvoiceKind, LineKind
from tests.scenarios.harness import World
from tests.scenarios.test_properties import (
    MONOTONE_PLANS,
    NO_GRACE,
    NOVEMBER,
    PROPERTY,
    Events,
    at,
    completion,
    fresh_world,
)

THRESHOLDS = [
    {"key": "tokens-5k", "kind": "usage", "meter": "llm_tokens", "value": "5000"},
    {"key": "spend-5", "kind": "spend", "value": "5", "invoice": True},
    {"key": "spend-12", "kind": "spend", "value": "12", "invoice": True},
    {"key": "spend-20", "kind": "spend", "value": "20"},
]
histories = st.lists(
    st.tuples(st.integers(min_value=1, max_value=24), st.integers(min_value=0, max_value=9000)),
    min_size=1,
    max_size=6,
)


def watched(w: World, plan: dict[str, Any], usage: list[tuple[int, int]], look: bool) -> None:
    """The subscription on ``plan``, and the usage arriving day by day, the watcher looking
    after each arrival when ``look``."""
    w.customer("acme")
    w.subscribe("s1", "acme", plan["code"], NOVEMBER.isoformat())
    sender = Events()
    for day, tokens in sorted(usage):
        when = at(NOVEMBER + timedelta(days=day))
        w.clock.set(when + timedelta(minutes=5))
        sender.send(w, [("t-acme", when, completion(tokens))])
        if look:
            w.container.thresholds.sweep()
            assert w.container.thresholds.sweep().crossings == []  # nothing new: nothing
    w.at("2026-12-04T09:00:00Z").bill("2026-12-04")


def usage_lines(invoice: Invoice) -> list[tuple[str, Decimal, Decimal]]:
    return [(x.key, x.quantity, x.amount) for x in invoice.lines if x.kind is LineKind.USAGE]


@pytest.mark.parametrize("model", sorted(MONOTONE_PLANS))
@PROPERTY
@given(usage=histories)
def test_interim_and_final_invoices_bill_the_whole_period_once(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    model: str,
    usage: list[tuple[int, int]],
) -> None:
    plan = {**MONOTONE_PLANS[model], "thresholds": THRESHOLDS}
    with fresh_world(
        sqlite_template, tmp_path_factory, plans=[MONOTONE_PLANS[model]], billing=NO_GRACE
    ) as reference:
        watched(reference, MONOTONE_PLANS[model], usage, look=False)
        [whole] = [i for i in reference.raw_invoices("s1") if i.kind is InvoiceKind.ARREARS]
    with fresh_world(sqlite_template, tmp_path_factory, plans=[plan], billing=NO_GRACE) as w:
        watched(w, plan, usage, look=True)
        found = w.raw_invoices("s1")
        crossings = w.container.thresholds.crossings(None, None, 100)
    [final] = [i for i in found if i.kind is InvoiceKind.ARREARS]
    interim = [i for i in found if i.kind is InvoiceKind.INTERIM]

    assert usage_lines(final) == usage_lines(whole)
    billed = sum((i.totals.subtotal for i in [final, *interim]), Decimal(0))
    assert billed == whole.totals.subtotal
    assert all(i.totals.total > 0 and i.number for i in interim)

    tokens = sum(t for _, t in usage)
    spend = sum((amount for _, _, amount in usage_lines(whole)), Decimal(0))
    expected = {"tokens-5k"} if tokens >= 5000 else set()
    expected |= {f"spend-{v}" for v in (5, 12, 20) if spend >= v}
    assert sorted(c.threshold_key for c in crossings) == sorted(expected)
    # an interim invoice per look that reached a new spend threshold that bills, at most
    assert len(interim) <= len(expected & {"spend-5", "spend-12"})
    assert all(
        c.interim_invoice_id in {i.id for i in interim} for c in crossings if c.interim_invoice_id
    )
