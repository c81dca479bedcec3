"""Usage corrections: voided events leave the usage and the next invoice adjusts a finalized
one that counted them; a voided event sent again is never counted anew; a key that matches
nothing refuses the whole correction. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from revsync.application.corrections import CorrectionReport, CorrectUsage
from revsync.application.ingestion import IngestContext, IngestReport
from revsync.domain.errors import InvalidField
from revsync.schemas.cloudevents_v1 import decode_items
from tests.scenarios.harness import World, invoice, moment
from tests.scenarios.test_late_usage import (
    DEC,
    JAN,
    NOV,
    PLATFORM,
    TIER_1,
    TIER_2,
    november_arrears_id,
    november_billed,
)
from tests.support.events import encode, event

SOURCE = "app://scenario"


def resend(w: World, ids: list[str]) -> IngestReport:
    """The scenario's events (as the harness sent them) once more."""
    when = moment("2026-11-20T10:00:00Z")
    events = [
        event(i, subject="t-acme", type="api.request", time=when, source=SOURCE, data={})
        for i in ids
    ]
    return w.container.ingestion.ingest(
        decode_items([encode(e) for e in events]), IngestContext("api", "scenario")
    )


def void(w: World, ids: list[str], reason: str = "the export job ran twice") -> CorrectionReport:
    keys = tuple((SOURCE, event_id) for event_id in ids)
    return w.container.corrections.correct(CorrectUsage(reason, keys, (), "ops@example.com"))


def test_voided_events_are_credited_on_the_next_invoice_once(world: Callable[..., World]) -> None:
    # November: 1,300 calls invoiced (300 above the 1,000 free: 3.60), then 200 are voided
    w = november_billed(world, 1300)
    w.at("2026-12-10T09:00:00Z")
    report = void(w, [f"ev-{n}" for n in range(1, 201)])
    assert (len(report.voided), report.already_voided, report.added) == (200, (), None)
    # the same events sent again are duplicates, never counted anew
    again = resend(w, [f"ev-{n}" for n in range(1, 201)])
    assert (again.accepted, again.duplicates) == (0, 200)
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    w.bill("2027-01-04")  # billing again changes nothing
    november = november_arrears_id()
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (
                ("usage:calls:2026-11-01:tier-1", TIER_1, "1000", "0", "0.00"),
                ("usage:calls:2026-11-01:tier-2", TIER_2, "300", "0.012", "3.60"),
            ),
            "3.60",
        ),
        invoice("advance", DEC, "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            DEC,
            # the total is negative: numbered in the credit-note series
            "CN-000001",
            (
                ("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),
                # November is now 1,100 calls: tier 2 holds 100, 200 fewer than invoiced:
                # 200 × 0.012 = 2.40 back
                (
                    f"adjustment:{november}:usage:calls:2026-11-01:tier-2",
                    f"Adjustment: {TIER_2}",
                    "-200",
                    "0.012",
                    "-2.40",
                ),
            ),
            "-2.40",
        ),
        invoice("advance", JAN, "INV-000004", (PLATFORM,), "99.00"),
    ]
    audited = [
        (e.record.actor, dict(e.record.after or {}))
        for e in w.container.audit.entries(after=None, limit=1000)
        if e.record.action == "usage.corrected"
    ]
    assert audited == [
        (
            "ops@example.com",
            {
                "reason": "the export job ran twice",
                "voided": [[SOURCE, f"ev-{n}"] for n in sorted(range(1, 201), key=str)],
                "added": 0,
            },
        )
    ]


def test_a_key_that_matches_no_event_voids_nothing(world: Callable[..., World]) -> None:
    w = november_billed(world, 1100)
    with pytest.raises(InvalidField, match="no stored event with source 'app://scenario' and id"):
        void(w, ["ev-1", "no-such-event"])
    again = resend(w, ["ev-1"])
    assert again.duplicates == 1  # still stored: nothing was voided
    assert void(w, ["ev-1"]).voided == ((SOURCE, "ev-1"),)
    assert void(w, ["ev-1"]).already_voided == ((SOURCE, "ev-1"),)
