"""A property of usage billed as it arrives (hypothesis, a fresh world per example): whatever
the events, their late arrivals, the days billing runs and the grace period, a charge billed as
it arrives — its usage invoices and the period's invoice — bills exactly what the same charge
billed in arrears bills on the period's invoice, per model; no usage invoice is negative, and
each is issued by a run, through the day before it (docs/billing.md, "Usage billed as it
arrives")."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scenarios.harness import make_world
from tests.scenarios.test_properties import Events, at, completion
from tests.support.databases import sqlite_copy

# --- a property: billed as it arrives or in arrears, the period comes to the same --------------

#: usage charges on ``llm_tokens`` (a sum of ``tokens``), one per model that may be billed in
#: advance
TOKEN_CHARGES: dict[str, dict[str, Any]] = {
    "per_unit": {"model": "per_unit", "amount": "0.0015"},
    "graduated": {
        "model": "graduated",
        "tiers": [
            {"up_to": "1000", "unit_amount": "0.004", "flat_amount": "1.00"},
            {"up_to": "5000", "unit_amount": "0.002", "flat_amount": "3.00"},
            {"up_to": None, "unit_amount": "0.0007"},
        ],
    },
    "package": {"model": "package", "amount": "2.50", "package_size": "1000", "included": "500"},
    "allowance": {"model": "allowance", "included": "2000", "amount": "0.0043"},
    "percentage": {
        "model": "percentage",
        "rate": "1.5",
        "fixed_amount": "0.10",
        "free_transactions": 1,
        "max_per_transaction": "20",
    },
}


def token_plan(model: str, timing: str) -> dict[str, Any]:
    charge = {
        "key": "tokens",
        "description": "Tokens",
        "meter": "llm_tokens",
        "timing": timing,
        **TOKEN_CHARGES[model],
    }
    return {
        "code": f"{model.replace('_', '-')}-{timing.replace('_', '-')}",
        "name": model,
        "currency": "EUR",
        "interval": "month",
        "charges": [charge],
    }


november_usage = st.lists(
    # (day of November it happened, tokens, days later it arrives)
    st.tuples(st.integers(0, 29), st.integers(1, 9000), st.integers(0, 3)),
    max_size=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=november_usage,
    runs=st.sets(st.integers(1, 29), max_size=6),
    grace=st.sampled_from([0, 72]),
)
def test_billed_as_it_arrives_or_in_arrears_a_period_comes_to_the_same(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    events: list[tuple[int, int, int]],
    runs: set[int],
    grace: int,
) -> None:
    """For every model, the usage invoices and the period's invoice of a charge billed as it
    arrives bill, together, exactly what the charge billed in arrears bills on the period's
    invoice — whatever the runs, late arrivals and grace; no usage invoice is negative."""
    plans = [token_plan(m, t) for m in TOKEN_CHARGES for t in ("in_advance", "in_arrears")]
    url = sqlite_copy(sqlite_template, tmp_path_factory.mktemp("in-advance"))
    with make_world(
        url, plans=plans, start="2026-10-31T00:00:00Z", billing={"grace_period_hours": grace}
    ) as w:
        for data in plans:
            w.customer(data["code"])
            w.subscribe(f"s-{data['code']}", data["code"], data["code"], "2026-11-01")
        november = date(2026, 11, 1)
        # (day it arrives, when it happened, tokens): one second apart, so that a percentage's
        # free transaction is the same one for every customer (ties go by event id)
        arriving = sorted(
            (min(day + lag, 30), at(november + timedelta(days=day)) + timedelta(seconds=n), tokens)
            for n, (day, tokens, lag) in enumerate(events)
        )
        sent, events_sent = 0, Events()
        for run in [*sorted(runs), 30]:  # the 30th is 1 December, the period's invoice
            due = [e for e in arriving[sent:] if e[0] <= run]
            w.at(f"{(november + timedelta(days=run)).isoformat()}T06:00:00Z")
            events_sent.send(
                w,
                [
                    (f"t-{data['code']}", when, completion(tokens))
                    for _, when, tokens in due
                    for data in plans
                ],
            )
            sent += len(due)
            w.at(f"{(november + timedelta(days=run)).isoformat()}T09:00:00Z")
            assert w.bill((november + timedelta(days=run)).isoformat()).errors == []
        assert w.at("2026-12-04T09:00:00Z").bill("2026-12-04").errors == []
        for model in TOKEN_CHARGES:
            advance = w.raw_invoices(f"s-{token_plan(model, 'in_advance')['code']}")
            (arrears,) = w.raw_invoices(f"s-{token_plan(model, 'in_arrears')['code']}")
            assert {i.status.value for i in [*advance, arrears]} == {"finalized"}
            usage_invoices = [i for i in advance if i.kind.value == "usage"]
            assert all(i.totals.total > 0 for i in usage_invoices), model
            # each issued by a run of November, through the day before it; none for the 30th
            # (the period's invoice bills it) nor made by the run of 1 December
            run_days = {november + timedelta(days=r) for r in runs}
            assert {(i.period.end, i.issue_date) for i in usage_invoices} <= {
                (day, day) for day in run_days if day <= date(2026, 11, 30)
            }, model
            assert sum(i.totals.total for i in advance) == arrears.totals.total, model
            (closing,) = [i for i in advance if i.kind.value == "arrears"]
            charged = [(x.key, x.quantity, x.amount) for x in closing.lines if x.lineage]
            assert charged == [(x.key, x.quantity, x.amount) for x in arrears.lines], model
