"""The collections ladder's rules: the rung of a customer's overdue invoices, what a move on
the ladder opens, closes, flags and restricts, and — over any history of moves — that what is
in force is what the rungs up to the last one say, with every task opened closed again once
the customer is back at rung 0."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.collections import (
    Assignee,
    Ladder,
    Policy,
    Restriction,
    Rung,
    Standing,
    check_ladder,
    climb,
    level_of,
    rung_of,
    standing,
)
from revsync.domain.entitlements import (
    Decision,
    Enforcement,
    EntitlementReason,
    Feature,
    FeatureKind,
    decide,
    restrict,
)

SOFT = Restriction(Policy.SOFT_LIMIT, ("api_calls",))
SUSPEND = Restriction(Policy.SUSPEND, ("exports", "api_calls"))
LADDER = check_ladder(
    [
        Rung(1, Assignee.OWNER),
        Rung(2, Assignee.SUCCESS_MANAGER, flag_tickets=True),
        Rung(3, restriction=SOFT),
        Rung(4, restriction=SUSPEND),
    ]
)


def test_dunning_levels_read_as_rungs() -> None:
    assert [level_of(x) for x in ("level 1", "Level 3", " level 12 ", None, "", "Reminder")] == [
        1,
        3,
        12,
        0,
        0,
        1,  # a level the ERP names otherwise: dunning began
    ]
    assert rung_of(["level 1", None, "level 3", "level 2"]) == 3
    assert rung_of([]) == 0


def test_going_down_the_ladder_takes_each_rung_passed() -> None:
    move = climb(LADDER, Standing(0), 3)
    assert (move.opened, move.closed, move.flag, move.after.restriction) == ((1, 2), (), True, SOFT)
    assert move.restricted


def test_coming_back_up_undoes_the_rungs_above() -> None:
    at_four = standing(LADDER, 4)
    assert at_four == Standing(4, (1, 2), True, SUSPEND)  # the highest rung's restriction
    move = climb(LADDER, at_four, 1)
    assert (move.opened, move.closed, move.flag, move.after) == (
        (),
        (2,),
        False,
        Standing(1, (1,), False, None),
    )
    paid = climb(LADDER, move.after, 0)
    assert (paid.closed, paid.flag, paid.after) == ((1,), None, Standing(0))


def test_what_was_opened_is_closed_even_when_the_ladder_changed_meanwhile() -> None:
    before = Standing(2, (1, 2), True, SOFT)  # taken under an older ladder
    now = Ladder((Rung(1, Assignee.OWNER),))
    move = climb(now, before, 0)
    assert (move.closed, move.flag, move.after.restriction, move.restricted) == (
        (2, 1),
        False,
        None,
        True,
    )


@pytest.mark.parametrize(
    ("rungs", "error"),
    [
        ([Rung(0)], "level 0: levels start at 1"),
        ([Rung(2), Rung(2)], "level 2: one rung per level"),
        ([Rung(3, restriction=Restriction(Policy.SUSPEND, ()))], "level 3: a restriction names"),
    ],
)
def test_a_ladder_refuses_what_it_cannot_mean(rungs: list[Rung], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        check_ladder(rungs)


@given(st.lists(st.integers(min_value=0, max_value=6), max_size=20))
def test_any_history_of_moves_leaves_in_force_what_the_last_rung_says(moves: list[int]) -> None:
    held = Standing(0)
    opened: list[int] = []
    closed: list[int] = []
    flagged = False
    for level in moves:
        move = climb(LADDER, held, level)
        opened += move.opened
        closed += move.closed
        if move.flag is not None:
            assert move.flag != flagged  # a flag is only ever changed, never set twice
            flagged = move.flag
        held = move.after
    assert held == standing(LADDER, moves[-1] if moves else 0)
    assert flagged == held.flagged
    # every task open now was opened once more than it was closed
    for rung in (1, 2):
        assert opened.count(rung) - closed.count(rung) == (1 if rung in held.tasks else 0)
    back = climb(LADDER, held, 0).after
    assert back == Standing(0)


QUOTA = Feature("api_calls", FeatureKind.QUOTA, "api_calls", Decimal(100), Enforcement.SOFT)
HARD = Feature("exports", FeatureKind.QUOTA, "exports", Decimal(10), Enforcement.HARD)
SSO = Feature("sso", FeatureKind.BOOLEAN)


def test_a_soft_limit_holds_a_soft_quota_to_its_limit_and_names_itself() -> None:
    over = decide(QUOTA, Decimal(5), used=Decimal(99))
    assert (over.allowed, over.reason) == (True, EntitlementReason.OVER_SOFT_LIMIT)
    held = restrict(over, SOFT)
    assert held == Decision(
        "api_calls",
        False,
        EntitlementReason.OVER_LIMIT,
        FeatureKind.QUOTA,
        Decimal(100),
        Decimal(99),
        Decimal(1),
        Policy.SOFT_LIMIT,
    )
    within = restrict(decide(QUOTA, Decimal(1), used=Decimal(99)), SOFT)
    assert (within.allowed, within.reason, within.restriction) == (
        True,
        EntitlementReason.WITHIN_LIMIT,
        Policy.SOFT_LIMIT,
    )


def test_a_suspension_refuses_the_features_it_names_and_no_other() -> None:
    exports = restrict(decide(HARD, Decimal(1), used=Decimal(0)), SUSPEND)
    assert (exports.allowed, exports.reason, exports.restriction, exports.remaining) == (
        False,
        EntitlementReason.SUSPENDED,
        Policy.SUSPEND,
        Decimal(10),
    )
    sso = decide(SSO, Decimal(1))
    assert restrict(sso, SUSPEND) == sso
    missing = decide(None, Decimal(1), key="exports")
    assert restrict(missing, SUSPEND) == missing  # not in the plan: said so, not "suspended"
