"""The audit chain: the canonical record (RFC 8785), keyed links, and what verification finds
after each kind of tampering (the entry named and the reason)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from revsync.adapters.canonical_json import jcs
from revsync.domain.audit import (
    GENESIS,
    Algorithm,
    Anchor,
    AuditChain,
    AuditEntry,
    AuditHead,
    AuditKey,
    AuditKeyMissing,
    AuditRecord,
    InvalidAnchor,
    UnreadableEntry,
    anchor_of,
    canonical_legacy,
    check_chain,
    json_data,
    parse_anchors,
    record_data,
)

KEY = AuditKey(b"k" * 32)
KEYED = AuditChain(jcs, KEY, "REVSYNC_AUDIT_KEY")
UNKEYED = AuditChain(jcs, None, "REVSYNC_AUDIT_KEY")
T0 = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def record(n: int, **after: Any) -> AuditRecord:
    return AuditRecord(
        T0 + timedelta(seconds=n),
        "cli:alice",
        "customer.updated",
        "customer",
        f"c{n}",
        {"name": f"Customer {n}", "credit": Decimal("10.50")},
        {"name": f"Customer {n}!", "credit": Decimal("12.00"), **after},
    )


def stored(entry_record: AuditRecord, chain: AuditChain) -> AuditRecord:
    """The record as read back from the database (before / after through their JSON)."""

    def back(value: Any) -> Any:
        text = chain.stored_json(value)
        return None if text is None else json.loads(text)

    return replace(entry_record, before=back(entry_record.before), after=back(entry_record.after))


def written(
    chain: AuditChain, records: list[AuditRecord], after: list[AuditEntry] | None = None
) -> list[AuditEntry]:
    """Entries as the writer appends them (after ``after``, if given)."""
    entries = list(after or [])
    head = _head(entries)
    for r in records:
        alg, digest = chain.seal(head, r, chain.stored_json(r.before), chain.stored_json(r.after))
        entry = AuditEntry(head.seq + 1, stored(r, chain), head.hash, digest, alg)
        entries.append(entry)
        head = AuditHead(entry.seq, entry.hash, entry.alg)
    return entries


def forge(
    chain: AuditChain, records: list[AuditRecord], after: list[AuditEntry]
) -> list[AuditEntry]:
    """Entries relinked after ``after`` by someone writing to the database directly (no
    writer's rule stops them)."""
    entries = list(after)
    for r in records:
        prev = _head(entries)
        alg = chain.algorithm
        digest = chain.link(alg, prev.hash, chain.canonical(r))
        entries.append(AuditEntry(prev.seq + 1, stored(r, chain), prev.hash, digest, alg))
    return entries


def legacy(records: list[AuditRecord]) -> list[AuditEntry]:
    """Entries as revsync wrote them before keyed chains (SHA-256 of sorted-key JSON)."""
    import hashlib

    entries: list[AuditEntry] = []
    prev = GENESIS
    for n, r in enumerate(records, 1):
        digest = hashlib.sha256(prev.encode() + b"\n" + canonical_legacy(r)).hexdigest()
        back = replace(
            r,
            before=json.loads(json.dumps(r.before, sort_keys=True, default=str)),
            after=json.loads(json.dumps(r.after, sort_keys=True, default=str)),
        )
        entries.append(AuditEntry(n, back, prev, digest, Algorithm.SHA256_JSON))
        prev = digest
    return entries


def _head(entries: list[AuditEntry]) -> AuditHead:
    if not entries:
        return AuditHead(0, GENESIS)
    return AuditHead(entries[-1].seq, entries[-1].hash, entries[-1].alg)


def verify(entries: list[AuditEntry], chain: AuditChain = KEYED, **kwargs: Any) -> Any:
    head = kwargs.pop("head", _head(entries))
    return check_chain(entries, chain, head, **kwargs)


# --- the canonical record -----------------------------------------------------------------


def test_decimals_and_times_become_strings_the_same_way_every_time() -> None:
    paris = timezone(timedelta(hours=1))
    data = json_data(
        {
            "amount": Decimal("10.50"),
            "big": Decimal("1E+3"),
            "tiny": Decimal("-0.000001"),
            "when": datetime(2026, 11, 15, 13, 0, tzinfo=paris),
            "day": date(2026, 11, 15),
            "count": 3,
            "huge": 2**60,
            "items": (1, "two"),
            "flag": True,
        }
    )
    assert data == {
        "amount": "10.50",
        "big": "1000",
        "tiny": "-0.000001",
        "when": "2026-11-15T12:00:00.000000Z",
        "day": "2026-11-15",
        "count": 3,
        "huge": str(2**60),
        "items": [1, "two"],
        "flag": True,
    }


def test_the_hashed_bytes_are_rfc_8785_of_the_record() -> None:
    r = record(1)
    assert KEYED.canonical(r) == rfc8785.dumps(record_data(r))
    assert KEYED.canonical(r).startswith(b'{"action":"customer.updated","actor":"cli:alice",')
    assert b'"at":"2026-11-15T12:00:01.000000Z"' in KEYED.canonical(r)


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.text(max_size=12)
    | st.datetimes(timezones=st.just(UTC))
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
records = st.builds(
    AuditRecord,
    at=st.datetimes(timezones=st.just(UTC)),
    actor=st.text(max_size=20),
    action=st.text(max_size=20),
    object_type=st.text(max_size=10),
    object_id=st.text(max_size=10),
    before=st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    after=st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(records)
def test_the_record_put_together_from_its_parts_is_rfc_8785_and_survives_storage(
    r: AuditRecord,
) -> None:
    assert KEYED.canonical(r) == rfc8785.dumps(record_data(r))
    assert KEYED.canonical(stored(r, KEYED)) == KEYED.canonical(r)


def test_the_key_never_shows() -> None:
    secret = b"s3cret-" * 6
    key = AuditKey(secret)
    assert "s3cret" not in repr(key) and "s3cret" not in str(key)
    assert "s3cret" not in repr(AuditChain(jcs, key, "REVSYNC_AUDIT_KEY"))
    with pytest.raises(ValueError, match="at least 32 bytes") as refused:
        AuditKey(b"short-secret")
    assert "short-secret" not in str(refused.value)


# --- chains that hold ---------------------------------------------------------------------


def test_a_keyed_chain_holds_and_its_links_are_hmacs() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 6)])
    check = verify(entries)
    assert check.intact and check.checked == 5
    assert check.algorithms == {"hmac-sha256-jcs": 5}
    assert {e.alg for e in entries} == {Algorithm.HMAC_SHA256_JCS}


def test_entries_hashed_the_old_way_still_verify_and_keyed_ones_follow_them() -> None:
    old = legacy([record(n) for n in range(1, 4)])
    assert verify(old, UNKEYED).intact
    entries = written(KEYED, [record(n) for n in range(4, 7)], after=old)
    check = verify(entries)
    assert check.intact
    assert check.algorithms == {"sha256-json": 3, "hmac-sha256-jcs": 3}


def test_without_a_key_entries_are_unkeyed_and_anyone_can_check_them() -> None:
    entries = written(UNKEYED, [record(n) for n in range(1, 4)])
    assert {e.alg for e in entries} == {Algorithm.SHA256_JCS}
    assert verify(entries, UNKEYED).intact


# --- the four tamperings ------------------------------------------------------------------


def test_truncation_with_the_head_row_left_names_the_head_entry() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 11)])
    check = verify(entries[:7], head=_head(entries))
    assert not check.intact
    assert check.seq == 10 and check.broken is None
    assert check.reason == (
        "entry 10 is missing (the head row's entry) and the chain ends at entry 7: entries "
        "were removed from its end"
    )


def test_truncation_with_the_head_row_rolled_back_is_found_by_an_anchor() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 11)])
    anchor = anchor_of(entries[8])  # kept elsewhere when the chain ended at entry 9
    truncated = entries[:7]
    assert verify(truncated).intact  # the head row agrees: only an anchor can tell
    check = verify(truncated, anchors=[anchor])
    assert check.seq == 9 and not check.intact
    assert check.reason == (
        "entry 9 is missing (the anchored entry) and the chain ends at entry 7: entries were "
        "removed from its end"
    )
    assert verify(entries, anchors=[anchor]).intact


def test_deleting_an_entry_in_the_middle_names_the_entry_after_it() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 11)])
    check = verify(entries[:4] + entries[5:])
    assert check.seq == 6 and check.broken == entries[5]
    assert check.reason == (
        "its previous-hash does not match the hash of entry 4: an entry was removed or "
        "changed before it"
    )
    assert check.checked == 4


def test_deleting_an_anchored_entry_in_the_middle_names_it() -> None:
    entries = written(UNKEYED, [record(n) for n in range(1, 11)])
    # an unkeyed chain relinked after the deletion: only the anchor tells
    relinked = written(UNKEYED, [e.record for e in entries[:4] + entries[5:]])
    relinked = [replace(e, seq=e.seq + (1 if e.seq >= 5 else 0)) for e in relinked]
    check = verify(relinked, UNKEYED, anchors=[anchor_of(entries[4])])
    assert check.seq == 5 and check.broken is None
    assert check.reason == "entry 5 is missing (the anchored entry): it was removed"


def test_an_edit_of_a_record_names_the_edited_entry() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 11)])
    edited = replace(entries[3].record, after={**entries[3].record.after, "credit": "99.00"})  # type: ignore[dict-item]
    entries[3] = replace(entries[3], record=edited)
    check = verify(entries)
    assert check.seq == 4 and check.broken == entries[3]
    assert check.reason == (
        "its content does not match its hash (or it was written with another key): it was edited"
    )


def test_an_edit_recomputed_without_the_key_names_the_first_rewritten_entry() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 11)])
    edited = replace(entries[5].record, actor="cli:mallory")
    # rewritten from entry 6 on as unkeyed links, the head row updated too
    forged = forge(UNKEYED, [edited, *(e.record for e in entries[6:])], after=entries[:5])
    check = verify(forged)
    assert check.seq == 6 and check.broken == forged[5]
    assert check.reason == (
        "it is not keyed (sha256-jcs) but follows keyed entry 5: the chain was rewritten "
        "without the key"
    )
    # or with HMACs under a key of the forger's own
    guessed = AuditChain(jcs, AuditKey(b"g" * 32))
    forged = forge(guessed, [edited, *(e.record for e in entries[6:])], after=entries[:5])
    check = verify(forged)
    assert check.seq == 6
    assert check.reason is not None and check.reason.startswith(
        "its content does not match its hash (or it was written with another key)"
    )


def test_a_chain_rewritten_unkeyed_from_its_start_fails_when_a_key_is_set() -> None:
    old = legacy([record(n) for n in range(1, 4)])
    entries = written(KEYED, [record(n) for n in range(4, 8)], after=old)
    forged = forge(UNKEYED, [e.record for e in entries[3:]], after=old)
    assert verify(forged, UNKEYED).intact  # without the key nothing tells
    check = verify(forged)
    assert check.seq == 1 and check.broken == forged[0]
    assert check.reason == (
        "entries from 1 to the end are not keyed though REVSYNC_AUDIT_KEY is set: keyed "
        "entries were removed or rewritten without the key"
    )


@settings(max_examples=200, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=7),
    field=st.sampled_from(["at", "actor", "action", "object_type", "object_id", "before", "after"]),
    text=st.text(min_size=1, max_size=8),
    keyed=st.booleans(),
)
def test_any_single_edit_anywhere_is_found_at_that_entry(
    position: int, field: str, text: str, keyed: bool
) -> None:
    chain = KEYED if keyed else UNKEYED
    entries = written(chain, [record(n) for n in range(1, 9)])
    original = entries[position].record
    if field == "at":
        value: Any = original.at + timedelta(microseconds=len(text))
    elif field in ("before", "after"):
        value = {**(getattr(original, field) or {}), "name": text + "\u00e9"}
    else:
        value = getattr(original, field) + text
    entries[position] = replace(entries[position], record=replace(original, **{field: value}))
    check = verify(entries, chain)
    assert check.seq == position + 1
    assert check.reason is not None and "content does not match its hash" in check.reason


# --- the key -------------------------------------------------------------------------------


def test_keyed_entries_cannot_be_checked_without_the_key() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 4)])
    check = verify(entries, UNKEYED)
    assert check.unverifiable and check.seq == 1
    assert check.reason == "it is keyed and REVSYNC_AUDIT_KEY is not set: it cannot be checked"


def test_the_writer_refuses_an_unkeyed_entry_after_a_keyed_one() -> None:
    entries = written(KEYED, [record(1)])
    with pytest.raises(AuditKeyMissing, match="REVSYNC_AUDIT_KEY is not set"):
        written(UNKEYED, [record(2)], after=entries)


def test_an_unknown_algorithm_is_named() -> None:
    entries = written(KEYED, [record(1), record(2)])
    entries[1] = replace(entries[1], alg="md5")
    check = verify(entries)
    assert check.seq == 2 and check.reason == "its algorithm 'md5' is unknown"


# --- anchors -------------------------------------------------------------------------------


def test_an_anchor_is_one_line_of_json_read_back_the_same() -> None:
    entries = written(KEYED, [record(1)])
    anchor = anchor_of(entries[0])
    line = anchor.to_json()
    assert "\n" not in line
    assert json.loads(line) == {
        "seq": 1,
        "hash": entries[0].hash,
        "at": "2026-11-15T12:00:01.000000Z",
        "alg": "hmac-sha256-jcs",
    }
    assert parse_anchors(line + "\n\n" + Anchor(0, GENESIS).to_json()) == [
        anchor,
        Anchor(0, GENESIS),
    ]


def test_an_anchor_with_another_hash_names_the_entry() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 4)])
    check = verify(entries, anchors=[Anchor(2, "ab" * 32)])
    assert check.seq == 2
    assert check.reason == (
        "its hash is not the anchored one (abababababababab…): the chain was rewritten from here on"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no anchor given"),
        ("nope", "anchor line 1: not JSON"),
        ("[1]", "anchor line 1: not a JSON object"),
        ('{"seq": -1, "hash": "' + "0" * 64 + '"}', "anchor line 1: seq must be"),
        ('{"seq": 1, "hash": "XYZ"}', "anchor line 1: hash must be 64"),
        ('{"seq": 1, "hash": "' + "0" * 64 + '", "key": "x"}', "unknown field key"),
    ],
)
def test_an_unreadable_anchor_says_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidAnchor, match=reason):
        parse_anchors(text)


def test_content_that_cannot_be_canonicalised_or_read_is_named() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 5)])
    entries[1] = replace(entries[1], record=replace(entries[1].record, after={"x": "\ud800"}))
    check = verify(entries)
    assert check.seq == 2
    assert check.reason == (
        "its content is not JSON data that RFC 8785 takes (input contains non-UTF-8 "
        "codepoints): it was edited"
    )

    def unreadable() -> Any:
        yield from entries[:2]
        raise UnreadableEntry(3, "its before or after is not JSON")

    entries = written(KEYED, [record(n) for n in range(1, 5)])
    check = check_chain(unreadable(), KEYED, _head(entries))
    assert (check.seq, check.reason) == (3, "its before or after is not JSON: it was edited")


def test_edits_of_the_links_themselves_and_swaps_are_named() -> None:
    entries = written(KEYED, [record(n) for n in range(1, 6)])
    edited = list(entries)
    edited[2] = replace(entries[2], prev_hash="ab" * 32)
    check = verify(edited)
    assert check.seq == 3 and check.reason is not None
    assert check.reason.startswith("its previous-hash does not match the hash of entry 2")
    edited = list(entries)
    edited[2] = replace(entries[2], hash="ab" * 32)
    check = verify(edited)
    assert check.seq == 3 and check.reason is not None
    assert check.reason.startswith("its content does not match its hash")
    swapped = [
        *entries[:1],
        replace(entries[2], seq=2),
        replace(entries[1], seq=3),
        *entries[3:],
    ]
    check = verify(swapped)
    assert check.seq == 2 and check.reason is not None
    assert check.reason.startswith("its previous-hash does not match the hash of entry 1")


def test_an_unkeyed_chain_recomputed_after_an_edit_is_found_only_below_an_anchor() -> None:
    entries = written(UNKEYED, [record(n) for n in range(1, 8)])
    anchor = anchor_of(entries[4])
    edited = replace(entries[2].record, actor="cli:mallory")
    forged = forge(UNKEYED, [edited, *(e.record for e in entries[3:])], after=entries[:2])
    assert verify(forged, UNKEYED).intact
    check = verify(forged, UNKEYED, anchors=[anchor])
    assert check.seq == 5
    assert check.reason is not None and check.reason.startswith("its hash is not the anchored one")
    after_anchor = replace(entries[5].record, actor="cli:mallory")
    forged = forge(UNKEYED, [after_anchor, entries[6].record], after=entries[:5])
    assert verify(forged, UNKEYED, anchors=[anchor]).intact  # after the anchor: not found
