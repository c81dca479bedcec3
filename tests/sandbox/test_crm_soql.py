"""The CRM sandbox's SOQL subset parser, and its record ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from revsync.sandbox.crm.ids import checksum, make_id, to18
from revsync.sandbox.crm.soql import BoolOp, Condition, Literal, OrderItem, SoqlError, parse


def test_a_full_query_parses_into_its_parts() -> None:
    query = parse(
        "SELECT Id, Name, Parent.Name FROM Account WHERE Name = 'A' AND Score__c > 5 "
        "ORDER BY Name DESC, Id LIMIT 10 OFFSET 20"
    )
    assert query.object_name == "Account"
    assert query.fields == (("Id",), ("Name",), ("Parent", "Name"))
    assert query.where == BoolOp(
        "and",
        (
            Condition(("Name",), "=", Literal("string", "A")),
            Condition(("Score__c",), ">", Literal("number", Decimal(5))),
        ),
    )
    assert query.order_by == (
        OrderItem(("Name",), descending=True, nulls_last=True),
        OrderItem(("Id",)),
    )
    assert (query.limit, query.offset, query.count_only) == (10, 20, False)


def test_keywords_are_case_insensitive_and_count_has_no_fields() -> None:
    query = parse("select count() from contract where status != 'Draft'")
    assert query.count_only is True
    assert query.fields == ()
    assert query.where == Condition(("status",), "!=", Literal("string", "Draft"))


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00.000+0000",
        "2026-01-01T00:00:00.000Z",
        "2026-01-01T01:00:00+01:00",
    ],
)
def test_every_datetime_literal_form_means_the_same_moment(text: str) -> None:
    query = parse(f"SELECT Id FROM Account WHERE SystemModstamp >= {text}")
    assert query.where == Condition(
        ("SystemModstamp",), ">=", Literal("datetime", datetime(2026, 1, 1, tzinfo=UTC))
    )


def test_literals_of_every_kind() -> None:
    query = parse(
        r"SELECT Id FROM Account WHERE A = 'it\'s \\ ok' OR B = -1.5 OR C = true OR D = null "
        "OR E = 2026-02-03 OR F IN ('x', 'y') OR G NOT IN (1, 2) OR H LIKE 'Ac%' OR NOT (I <> false)"
    )
    assert isinstance(query.where, BoolOp)
    parts = query.where.parts
    assert parts[0] == Condition(("A",), "=", Literal("string", "it's \\ ok"))
    assert parts[1] == Condition(("B",), "=", Literal("number", Decimal("-1.5")))
    assert parts[2] == Condition(("C",), "=", Literal("boolean", True))
    assert parts[3] == Condition(("D",), "=", Literal("null", None))
    assert parts[4] == Condition(("E",), "=", Literal("date", date(2026, 2, 3)))
    assert parts[5] == Condition(("F",), "in", (Literal("string", "x"), Literal("string", "y")))
    assert parts[6].op == "not in"  # type: ignore[union-attr]
    assert parts[7] == Condition(("H",), "like", Literal("string", "Ac%"))
    assert parts[8] == BoolOp("not", (Condition(("I",), "!=", Literal("boolean", False)),))


def test_and_binds_tighter_than_or() -> None:
    query = parse("SELECT Id FROM Task WHERE A = 1 OR B = 2 AND C = 3")
    assert isinstance(query.where, BoolOp)
    assert query.where.op == "or"
    assert isinstance(query.where.parts[1], BoolOp)
    assert query.where.parts[1].op == "and"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SELECT FROM Account",
        "SELECT Id Account",
        "SELECT Id FROM Account WHERE",
        "SELECT Id FROM Account WHERE Name = ",
        "SELECT Id FROM Account WHERE Name 'x'",
        "SELECT Id FROM Account WHERE Name = 'unterminated",
        "SELECT Id FROM Account LIMIT -1",
        "SELECT Id FROM Account ORDER Name",
        "SELECT COUNT(Id) FROM Account",
        "SELECT Id FROM Account WHERE Name = 'a' extra",
        "SELECT Id FROM Account WHERE CreatedDate > 2026-13-01",
        "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        'SELECT Id FROM Account WHERE Name = "double"',
    ],
)
def test_what_is_not_in_the_subset_is_refused(text: str) -> None:
    with pytest.raises(SoqlError):
        parse(text)


def test_ids_carry_the_case_safe_suffix() -> None:
    assert checksum("001D000000IqhSL") == "IAZ"
    assert to18("001D000000IqhSL") == "001D000000IqhSLIAZ"
    assert to18("001D000000IqhSLiaz") == "001D000000IqhSLIAZ"
    assert to18("001D000000IqhSLAAA") is None
    assert to18("001D000000IqhS") is None
    assert to18("001D000000Iqh-L") is None
    made = make_id("800", 1234567)
    assert len(made) == 18
    assert made.startswith("800")
    assert to18(made[:15]) == made
