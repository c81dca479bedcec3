"""Failpoints: armed in code or from the environment's spec, fired a number of times, after
letting a number of hits pass."""

from __future__ import annotations

import pytest

from revsync.adapters.failpoints import FailpointError, Failpoints


def fired(points: Failpoints, name: str, hits: int) -> list[int]:
    """The hits (1-based) at which ``name`` fired."""
    found = []
    for n in range(1, hits + 1):
        try:
            points.hit(name)
        except FailpointError:
            found.append(n)
    return found


def test_a_spec_arms_points_with_times_and_skips() -> None:
    points = Failpoints("a=raise:2, b=raise@3, c=raise:1@2, d")
    assert fired(points, "a", 5) == [1, 2]
    assert fired(points, "b", 6) == [4, 5, 6]
    assert fired(points, "c", 5) == [3]
    assert fired(points, "d", 2) == [1, 2]
    assert fired(points, "unarmed", 3) == []


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="'raise' or 'kill'"):
        Failpoints("a=explode")
