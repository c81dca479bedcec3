"""The audit chain as stored, on SQLite and PostgreSQL: the algorithm kept per entry, old
entries still verified, the key never stored, and each tampering done in SQL found by
``Audit.verify`` with the entry named and the reason."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from revsync.adapters.canonical_json import jcs
from revsync.adapters.db.tables import audit_head, audit_log
from revsync.application.audit import ChainStart
from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import ConfigError
from revsync.domain.audit import (
    GENESIS,
    AuditChain,
    AuditKeyMissing,
    AuditRecord,
    canonical_legacy,
)
from tests.conftest import NOW, make_settings
from tests.support.clock import FrozenClock

KEY = "a-test-audit-key-of-forty-bytes-0123456"
KEY_ENV = "REVSYNC_AUDIT_KEY"


def wired(url: str) -> Container:
    return build(make_settings(url), clock=FrozenClock(NOW))


@pytest.fixture
def keyed(any_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    monkeypatch.setenv(KEY_ENV, KEY)
    container = wired(any_db_url)
    yield container
    container.close()


def record(n: int) -> AuditRecord:
    return AuditRecord(
        NOW + timedelta(seconds=n),
        "test",
        "invoice.finalized",
        "invoice",
        f"inv{n}",
        None,
        {"number": f"INV-{n:04d}", "total": Decimal("118.40") + n, "at": NOW},
    )


def append(container: Container, *numbers: int) -> None:
    with container.unit_of_work() as uow:
        for n in numbers:
            uow.audit.append(record(n))
        uow.commit()


def execute(container: Container, *statements: sa.Executable) -> None:
    with container.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def rows(container: Container) -> list[sa.Row[tuple[int, str, str, str]]]:
    with container.engine.connect() as conn:
        query = sa.select(audit_log.c.seq, audit_log.c.hash, audit_log.c.alg, audit_log.c.after)
        return list(conn.execute(query.order_by(audit_log.c.seq)))  # type: ignore[arg-type]


def set_head(container: Container, seq: int, digest: str, alg: str) -> sa.Executable:
    return audit_head.update().values(seq=seq, hash=digest, alg=alg)


def test_entries_store_their_algorithm_and_the_chain_holds(keyed: Container) -> None:
    append(keyed, 1, 2)
    keyed.audit.record_configuration({"port": 8080}, "test")
    assert [r.alg for r in rows(keyed)] == ["hmac-sha256-jcs"] * 3
    after = json.loads(rows(keyed)[0].after)
    assert after == {"at": "2026-11-15T12:00:00.000000Z", "number": "INV-0001", "total": "119.40"}
    check = keyed.audit.verify()
    assert check.intact and check.checked == 3


def test_the_key_is_never_stored(keyed: Container) -> None:
    append(keyed, 1)
    apply_configuration(keyed, "test")
    with keyed.engine.connect() as conn:
        dump = "\n".join(
            str(row) for table in (audit_log, audit_head) for row in conn.execute(sa.select(table))
        )
    assert KEY not in dump
    assert KEY_ENV in dump  # the variable's name is part of the recorded configuration


def test_old_entries_verify_and_a_key_starts_a_keyed_tail(any_db_url: str) -> None:
    old = wired(any_db_url)
    try:  # entries as revsync wrote them before 0012: no alg, sorted-key JSON
        prev = GENESIS
        for n in (1, 2, 3):
            r = record(n)
            digest = hashlib.sha256(prev.encode() + b"\n" + canonical_legacy(r)).hexdigest()
            with old.engine.begin() as conn:
                seq = conn.execute(
                    audit_log.insert()
                    .values(
                        at=r.at,
                        actor=r.actor,
                        action=r.action,
                        object_type=r.object_type,
                        object_id=r.object_id,
                        before=None,
                        after=json.dumps(r.after, sort_keys=True, default=str),
                        prev_hash=prev,
                        hash=digest,
                    )
                    .returning(audit_log.c.seq)
                ).scalar_one()
                conn.execute(audit_head.update().values(seq=seq, hash=digest))
            prev = digest
        assert [r.alg for r in rows(old)] == ["sha256-json"] * 3
        assert old.audit.verify().intact
    finally:
        old.close()
    with pytest.MonkeyPatch.context() as env:
        env.setenv(KEY_ENV, KEY)
        new = wired(any_db_url)
        try:
            assert new.audit.start("system:serve") is ChainStart.STARTED_KEYED
            assert new.audit.start("system:serve") is ChainStart.KEYED
            append(new, 4)
            check = new.audit.verify()
            assert check.intact and check.checked == 5
            assert check.algorithms == {"sha256-json": 3, "hmac-sha256-jcs": 2}
            marker = new.audit.entries(after=3, limit=1)[0]
            assert (marker.record.action, marker.record.after) == (
                "audit.keyed",
                {"alg": "hmac-sha256-jcs"},
            )
        finally:
            new.close()


def test_once_keyed_a_process_without_the_key_refuses_to_write(
    keyed: Container, any_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(keyed, 1)
    monkeypatch.delenv(KEY_ENV)
    unkeyed = wired(any_db_url)
    try:
        with pytest.raises(AuditKeyMissing, match="REVSYNC_AUDIT_KEY is not set"):
            append(unkeyed, 2)
        with pytest.raises(ConfigError, match=r"audit\.key_env: the audit chain is keyed"):
            apply_configuration(unkeyed, "system:serve")
        check = unkeyed.audit.verify()
        assert check.unverifiable and check.seq == 1
    finally:
        unkeyed.close()
    assert len(rows(keyed)) == 1


def test_without_a_key_entries_are_unkeyed_with_a_warning(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    container = wired(db_url)
    try:
        with caplog.at_level(logging.WARNING):
            assert container.audit.start("test") is ChainStart.UNKEYED
        assert "REVSYNC_AUDIT_KEY is not set" in caplog.text
        append(container, 1)
        assert [r.alg for r in rows(container)] == ["sha256-jcs"]
        assert container.audit.verify().intact
    finally:
        container.close()


def test_a_short_key_is_refused_without_showing_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "too-short-secret")
    with pytest.raises(ConfigError) as refused:
        wired(db_url)
    assert str(refused.value) == "audit.key_env: REVSYNC_AUDIT_KEY must hold at least 32 bytes"


# --- the four tamperings, done in SQL -------------------------------------------------------


def test_truncation_with_the_head_row_left(keyed: Container) -> None:
    append(keyed, *range(1, 9))
    execute(keyed, audit_log.delete().where(audit_log.c.seq > 6))
    check = keyed.audit.verify()
    assert (check.intact, check.seq, check.broken) == (False, 8, None)
    assert check.reason == (
        "entry 8 is missing (the head row's entry) and the chain ends at entry 6: entries "
        "were removed from its end"
    )


def test_truncation_with_the_head_row_rolled_back_is_found_by_the_anchor(
    keyed: Container,
) -> None:
    append(keyed, *range(1, 9))
    anchor = keyed.audit.anchor()
    assert anchor.seq == 8
    kept = rows(keyed)[5]
    execute(
        keyed,
        audit_log.delete().where(audit_log.c.seq > 6),
        set_head(keyed, kept.seq, kept.hash, kept.alg),
    )
    assert keyed.audit.verify().intact  # consistent without the anchor
    check = keyed.audit.verify([anchor])
    assert (check.intact, check.seq) == (False, 8)
    assert check.reason == (
        "entry 8 is missing (the anchored entry) and the chain ends at entry 6: entries were "
        "removed from its end"
    )


def test_deletion_in_the_middle(keyed: Container) -> None:
    append(keyed, *range(1, 9))
    execute(keyed, audit_log.delete().where(audit_log.c.seq == 4))
    check = keyed.audit.verify()
    assert check.seq == 5 and check.broken is not None
    assert check.broken.record.object_id == "inv5"
    assert check.reason == (
        "its previous-hash does not match the hash of entry 3: an entry was removed or "
        "changed before it"
    )


def test_an_edit_of_a_record(keyed: Container) -> None:
    append(keyed, *range(1, 9))
    execute(
        keyed,
        audit_log.update()
        .where(audit_log.c.seq == 3)
        .values(after=sa.func.replace(audit_log.c.after, "121.40", "1.40")),
    )
    check = keyed.audit.verify()
    assert check.seq == 3 and check.broken is not None
    assert check.broken.record.after is not None and check.broken.record.after["total"] == "1.40"
    assert check.reason == (
        "its content does not match its hash (or it was written with another key): it was edited"
    )


def test_an_edit_that_is_not_json_any_more(keyed: Container) -> None:
    append(keyed, *range(1, 4))
    execute(keyed, audit_log.update().where(audit_log.c.seq == 2).values(after='{"total": '))
    check = keyed.audit.verify()
    assert (check.seq, check.broken) == (2, None)
    assert check.reason == "its before or after is not JSON: it was edited"


def test_an_edit_recomputed_without_the_key(keyed: Container) -> None:
    append(keyed, *range(1, 9))
    # someone with the database but not the key edits entry 5 and relinks the rest with
    # revsync's own code, unkeyed, head row included
    unkeyed = AuditChain(jcs)
    entries = keyed.audit.entries(after=None, limit=100)
    prev = entries[3].hash
    for entry in entries[4:]:
        r = entry.record
        if entry.seq == 5:
            r = AuditRecord(r.at, "cli:mallory", r.action, r.object_type, r.object_id, None, {})
        digest = unkeyed.link(unkeyed.algorithm, prev, unkeyed.canonical(r))
        execute(
            keyed,
            audit_log.update()
            .where(audit_log.c.seq == entry.seq)
            .values(
                actor=r.actor,
                after=unkeyed.stored_json(r.after),
                prev_hash=prev,
                hash=digest,
                alg="sha256-jcs",
            ),
            set_head(keyed, entry.seq, digest, "sha256-jcs"),
        )
        prev = digest
    check = keyed.audit.verify()
    assert check.seq == 5 and check.broken is not None
    assert check.broken.record.actor == "cli:mallory"
    assert check.reason == (
        "it is not keyed (sha256-jcs) but follows keyed entry 4: the chain was rewritten "
        "without the key"
    )
