"""Salesforce record ids: 15 case-sensitive characters, or 18 with a case-safe suffix."""

from __future__ import annotations

import re

#: the key prefixes of the objects the sandbox knows
ACCOUNT_PREFIX = "001"
CONTRACT_PREFIX = "800"
OPPORTUNITY_PREFIX = "006"
TASK_PREFIX = "00T"
PRODUCT_PREFIX = "01t"
PRICEBOOK_PREFIX = "01s"
PRICEBOOK_ENTRY_PREFIX = "01u"
OPPORTUNITY_LINE_PREFIX = "00k"
USER_PREFIX = "005"
ORG_PREFIX = "00D"
LOCATOR_PREFIX = "01g"

_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID15 = re.compile(r"[0-9A-Za-z]{15}")
_POD = "Rv"


def checksum(id15: str) -> str:
    """The 3-character suffix: one character per block of 5, a bit per upper-case letter."""
    suffix = ""
    for start in (0, 5, 10):
        block = id15[start : start + 5]
        bits = sum(1 << i for i, char in enumerate(block) if "A" <= char <= "Z")
        suffix += _SUFFIX[bits]
    return suffix


def to18(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id; None when it is not an id."""
    head = value[:15]
    if len(value) not in (15, 18) or not _ID15.fullmatch(head):
        return None
    expected = checksum(head)
    if len(value) == 18 and value[15:].upper() != expected:
        return None
    return head + expected


def make_id(prefix: str, number: int) -> str:
    """The 18-character id number ``number`` (from 1) under a 3-character key prefix."""
    if len(prefix) != 3 or number < 0:
        raise ValueError(f"bad id parts {prefix!r}, {number!r}")
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    body = digits.rjust(10, "0")
    if len(body) > 10:
        raise ValueError("id space exhausted")
    id15 = prefix + _POD + body
    return id15 + checksum(id15)


#: the one user every record belongs to, and the org tokens name
SANDBOX_USER_ID = make_id(USER_PREFIX, 1)
#: the org's users a record may be owned by or refer to: the integration user (the first) and
#: nine more (account owners, success managers)
USER_IDS = frozenset(make_id(USER_PREFIX, n) for n in range(1, 11))
SANDBOX_ORG_ID = make_id(ORG_PREFIX, 1)
#: the standard price book every org has from the start
STANDARD_PRICEBOOK_ID = make_id(PRICEBOOK_PREFIX, 1)
