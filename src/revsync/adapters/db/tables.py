"""The tables, in SQLAlchemy Core. Alembic migrations create them; tests use the migrations."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from revsync.adapters.db.types import ExactDecimal, JsonText, RowId, UtcDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column(
        "parent_id", sa.String(128), sa.ForeignKey("customers.id"), nullable=True, index=True
    ),
    sa.Column("country", sa.String(2), nullable=True),
    sa.Column("tax_exempt", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

customer_refs = sa.Table(
    "customer_refs",
    metadata,
    sa.Column("system", sa.String(16), primary_key=True),
    sa.Column("value", sa.String(255), primary_key=True),
    sa.Column(
        "customer_id", sa.String(128), sa.ForeignKey("customers.id"), nullable=False, index=True
    ),
)

# One row; ``version`` goes up with every change to tenant references, so that ingestion can
# keep the tenant map in memory and reload it inside its transaction when it changed.
identity_state = sa.Table(
    "identity_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.String(200), nullable=False),  # roles, space-separated
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("customers", sa.Text, nullable=True),  # space-separated; null: all
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", RowId, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("object_type", sa.String(100), nullable=False),
    sa.Column("object_id", sa.String(255), nullable=False),
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("after", sa.Text, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # how the hash was made (domain.audit.Algorithm); rows from before 0012 are sha256-json
    sa.Column("alg", sa.String(32), nullable=False, server_default="sha256-json"),
    sa.Index("ix_audit_log_action", "action"),
)

# One row holding the tail of the chain; appenders lock it so the chain never forks.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("alg", sa.String(32), nullable=False, server_default="sha256-json"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("code", sa.String(64), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=True),
    sa.Column("event_source", sa.Text, nullable=True),
    sa.Column("event_id", sa.Text, nullable=True),
    sa.Column("correlation_id", sa.String(128), nullable=True),
    sa.Column("actor", sa.String(200), nullable=True),
    sa.Index("ix_dead_letters_code", "code"),
    # the oldest first, for retention (``retention.dead_letter_days``)
    sa.Index("ix_dead_letters_received_at", "received_at"),
)

# Dead letters pruned by retention, per channel: the dead-letter metric is a counter, so it
# adds these to the letters kept.
dead_letters_pruned = sa.Table(
    "dead_letters_pruned",
    metadata,
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
)


# Accepted usage. ``seq`` is the ingest order (the rowid on SQLite, so appends are cheap).
# ``dedup_slot`` is a 64-bit hash of (source, id) with open addressing on collisions; on
# SQLite its unique index is the dedup claim, committed with the row. Times are microseconds
# since the epoch (UTC); ``day`` partitions the customer index so that appends touch only
# recent pages. ``attached_seq``: the mark (``usage_marks``) of the tenant mapping that gave
# an event stored unmapped to its customer (null: it had its customer from ingestion, i.e.
# from ``seq`` on).
# PostgreSQL (migration 0027, ``usage_storage.py``): the table is partitioned by month on
# ``day`` (``usage_events_2026_10``…, and ``usage_events_default``), its primary key is
# ``(seq, day)`` and ``dedup_slot`` is not unique in it — a partitioned table has no unique
# index without its partition key; the claim is ``usage_slots`` (below).
def _usage_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("seq", RowId, primary_key=True, autoincrement=True),
        sa.Column("dedup_slot", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(16), nullable=False),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("attached_seq", sa.BigInteger, nullable=True),
    ]


usage_events = sa.Table(
    "usage_events",
    metadata,
    *_usage_columns(),
    sa.UniqueConstraint("dedup_slot", info={"dialects": ("sqlite",)}).ddl_if(dialect="sqlite"),
    sa.Index("ix_usage_events_day_customer", "day", "customer_id"),
    sa.Index(
        "ix_usage_events_unmapped",
        "subject",
        sqlite_where=sa.text("customer_id IS NULL"),
        postgresql_where=sa.text("customer_id IS NULL"),
    ),
)

# --- pricing, subscriptions, invoices ----------------------------------------------------

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("definition", JsonText, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)

coupons = sa.Table(
    "coupons",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("definition", JsonText, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column(
        "customer_id", sa.String(128), sa.ForeignKey("customers.id"), nullable=False, index=True
    ),
    sa.Column("anchor", sa.Date, nullable=False),
    sa.Column("interval", sa.String(16), nullable=False),
    sa.Column("usage_interval", sa.String(16), nullable=False),
    sa.Column("include_children", sa.Boolean, nullable=False),
    sa.Column("renewal_date", sa.Date, nullable=True),
    # the earliest day whose finalized invoices must be rated again (a backdated amendment)
    sa.Column("recheck_from", sa.Date, nullable=True),
    # the subscription's own usage thresholds (domain/thresholds.py), beside its plan's
    sa.Column("thresholds", JsonText, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

subscription_terms = sa.Table(
    "subscription_terms",
    metadata,
    sa.Column(
        "subscription_id", sa.String(128), sa.ForeignKey("subscriptions.id"), primary_key=True
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("effective", sa.Date, nullable=False),
    sa.Column("change", sa.String(16), nullable=False),
    sa.Column("plan_code", sa.String(64), nullable=False),
    sa.Column("plan_version", sa.Integer, nullable=False),
    sa.Column("seats", sa.Integer, nullable=False),
    sa.Column("trial_end", sa.Date, nullable=True),
    sa.Column("ends", sa.Date, nullable=True),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
)

subscription_coupons = sa.Table(
    "subscription_coupons",
    metadata,
    sa.Column(
        "subscription_id", sa.String(128), sa.ForeignKey("subscriptions.id"), primary_key=True
    ),
    sa.Column("code", sa.String(64), sa.ForeignKey("coupons.code"), primary_key=True),
    sa.Column("start", sa.Date, nullable=False),
)

# One invoice per (subscription, period, kind): the id is derived from them and the unique
# constraint makes a second billing run, or two at once, find the same row.
invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("number", sa.String(40), nullable=True, unique=True),
    sa.Column("customer_id", sa.String(128), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("subscription_id", sa.String(128), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("issue_date", sa.Date, nullable=False),
    sa.Column("subtotal", ExactDecimal, nullable=False),
    sa.Column("discount", ExactDecimal, nullable=False),
    sa.Column("tax", ExactDecimal, nullable=False),
    sa.Column("total", ExactDecimal, nullable=False),
    sa.Column("credits", ExactDecimal, nullable=False),
    sa.Column("basis_version", sa.Integer, nullable=True),
    sa.Column("credits_invoice", sa.String(40), nullable=True),
    # finalized, but late usage or an amendment may have made it wrong: rated again each run
    sa.Column("recheck", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("finalized_at", UtcDateTime, nullable=True),
    # billed on a customer's consolidated invoice: its id (no number of its own)
    sa.Column("consolidated_into", sa.String(40), nullable=True),
    sa.UniqueConstraint("subscription_id", "period_start", "period_end", "kind", "credits_invoice"),
    sa.Index("ix_invoices_customer_period", "customer_id", "period_start"),
    sa.Index("ix_invoices_status", "status"),
    sa.Index("ix_invoices_consolidated_into", "consolidated_into"),
)

invoice_lines = sa.Table(
    "invoice_lines",
    metadata,
    sa.Column("invoice_id", sa.String(40), sa.ForeignKey("invoices.id"), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("charge", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("quantity", ExactDecimal, nullable=False),
    sa.Column("unit_amount", ExactDecimal, nullable=False),
    sa.Column("amount", ExactDecimal, nullable=False),
    sa.Column("service_start", sa.Date, nullable=False),
    sa.Column("service_end", sa.Date, nullable=False),
    sa.Column("tax_code", sa.String(32), nullable=False),
    sa.Column("lineage", JsonText, nullable=True),
    sa.Column("adjusts", sa.String(360), nullable=True, index=True),
)

invoice_taxes = sa.Table(
    "invoice_taxes",
    metadata,
    sa.Column("invoice_id", sa.String(40), sa.ForeignKey("invoices.id"), primary_key=True),
    sa.Column("tax_code", sa.String(32), primary_key=True),
    sa.Column("rate", ExactDecimal, nullable=False),
    sa.Column("base", ExactDecimal, nullable=False),
    sa.Column("amount", ExactDecimal, nullable=False),
)

# Finalized documents are numbered without gaps per series (INV, CN).
number_series = sa.Table(
    "number_series",
    metadata,
    sa.Column("name", sa.String(16), primary_key=True),
    sa.Column("next", sa.BigInteger, nullable=False),
)

credit_grants = sa.Table(
    "credit_grants",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "customer_id", sa.String(128), sa.ForeignKey("customers.id"), nullable=False, index=True
    ),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", ExactDecimal, nullable=False),
    sa.Column("remaining", ExactDecimal, nullable=False),
    sa.Column("granted_on", sa.Date, nullable=False),
    sa.Column("expires_on", sa.Date, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # the plans and meters the grant is limited to (domain/scopes.py); null: the whole invoice
    sa.Column("applies_to", JsonText, nullable=True),
)

credit_uses = sa.Table(
    "credit_uses",
    metadata,
    sa.Column("grant_id", sa.String(64), sa.ForeignKey("credit_grants.id"), primary_key=True),
    sa.Column("invoice_id", sa.String(40), sa.ForeignKey("invoices.id"), primary_key=True),
    sa.Column("amount", ExactDecimal, nullable=False),
)

billing_runs = sa.Table(
    "billing_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    # runs commit one at a time, numbered in commit order
    sa.Column("number", sa.BigInteger, nullable=False, unique=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    # the run read the events up to this ingest sequence number (late usage comes after)
    sa.Column("usage_cutoff_seq", sa.BigInteger, nullable=False),
    sa.Column("summary", JsonText, nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
)

# Reconciliation runs: what they compared and every discrepancy they found (each also an
# exception case of kind ``reconciliation`` while it lasts).
reconciliation_runs = sa.Table(
    "reconciliation_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("started_at", UtcDateTime, nullable=False, index=True),
    sa.Column("finished_at", UtcDateTime, nullable=False),
    sa.Column("since", sa.Date, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("summary", JsonText, nullable=False),  # checks, counts, cases opened and closed
    sa.Column("findings", JsonText, nullable=False),
)

# Usage that reached a customer other than by ingestion (unmapped events attached when their
# tenant was mapped): billing runs look again at the customer's periods from ``from_us`` on.
usage_rechecks = sa.Table(
    "usage_rechecks",
    metadata,
    sa.Column("customer_id", sa.String(128), primary_key=True),
    sa.Column("from_us", sa.BigInteger, nullable=False),
)

# The transactional outbox: messages written in the same transaction as the change they
# announce, delivered afterwards by a relay, in order per (destination, aggregate).
outbox_messages = sa.Table(
    "outbox_messages",
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("aggregate", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    # the business object the message is about (an invoice, a credit note …)
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(200), nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False),
    sa.Column("payload", JsonText, nullable=False),
    sa.Column("correlation_id", sa.String(128), nullable=True),
    # the W3C trace context of the transaction that wrote it, sent on with its delivery
    sa.Column("traceparent", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # attempts of the current round (a retry from a case starts a new round)
    sa.Column("round_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("round_started_at", UtcDateTime, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    # an attempt may have reached the destination: look the key up before sending again
    sa.Column("unsure", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.Column("remote_id", sa.String(200), nullable=True),
    # who approved the message past a destination's hold (e.g. a closed ERP period)
    sa.Column("approved_by", sa.String(200), nullable=True),
    # consecutive attempts that found the destination unavailable (they spend no budget),
    # and since when it has not answered
    sa.Column("outage_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("outage_since", UtcDateTime, nullable=True),
    # the exception case holding the message (its own, or its destination's outage case)
    sa.Column("case_id", sa.String(64), nullable=True, index=True),
    sa.UniqueConstraint("destination", "idempotency_key"),
    # the id last: a claim of the oldest due messages stops at its limit even among messages
    # due at one instant (a backlog written by one billing run)
    sa.Index("ix_outbox_messages_due", "status", "next_attempt_at", "id"),
    sa.Index("ix_outbox_messages_destination_created", "destination", "created_at"),
    # the delivered messages, oldest first, for retention (``retention.outbox_days``)
    sa.Index("ix_outbox_messages_delivered", "status", "delivered_at"),
    # the unfinished messages of each (destination, aggregate): the relay's heads
    sa.Index(
        "ix_outbox_messages_aggregate",
        "destination",
        "aggregate",
        "id",
        sqlite_where=sa.text("status IN ('pending', 'in_flight', 'failed')"),
        postgresql_where=sa.text("status IN ('pending', 'in_flight', 'failed')"),
    ),
)

# Every delivery attempt, for exception cases and operators.
outbox_attempts = sa.Table(
    "outbox_attempts",
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("message_id", RowId, sa.ForeignKey("outbox_messages.id"), nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("relay", sa.String(64), nullable=False),
)

# How many attempts ended how, per destination (kept up to date by the relays, so that
# metrics never count the attempts table).
delivery_counters = sa.Table(
    "delivery_counters",
    metadata,
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("outcome", sa.String(16), primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
)

# The circuit of each destination, shared by every relay process.
destination_circuits = sa.Table(
    "destination_circuits",
    metadata,
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # the destination's rate limit shared by every relay: tokens left, and when counted
    sa.Column("tokens", sa.Float, nullable=True),
    sa.Column("tokens_at", UtcDateTime, nullable=True),
)

# Exception cases: every failure with an address. ``open_key`` is set while a case is open
# and unique, so the same problem (a tenant's unmapped usage) is one open case, not many.
exception_cases = sa.Table(
    "exception_cases",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("open_key", sa.String(300), nullable=True, unique=True),
    sa.Column("correlation_id", sa.String(128), nullable=True),
    sa.Column("destination", sa.String(64), nullable=True),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(200), nullable=False),
    sa.Column("message_id", RowId, sa.ForeignKey("outbox_messages.id"), nullable=True, index=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("details", JsonText, nullable=True),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    sa.Column("closed_by", sa.String(200), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Index("ix_exception_cases_status_kind", "status", "kind", "opened_at"),
)

# Where each invoice stands in the ERP: posted (its ERP number and date), and what the last
# payment sync read back (paid, amount to pay, due date, overdue, dunning level).
erp_postings = sa.Table(
    "erp_postings",
    metadata,
    sa.Column("invoice_id", sa.String(40), sa.ForeignKey("invoices.id"), primary_key=True),
    sa.Column("remote_id", sa.String(64), nullable=False),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("party", sa.String(200), nullable=False),
    sa.Column("invoice_date", sa.Date, nullable=False),
    sa.Column("rolled_forward_from", sa.Date, nullable=True),
    sa.Column("posted_at", UtcDateTime, nullable=False),
    sa.Column("paid", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("amount_to_pay", ExactDecimal, nullable=True),
    sa.Column("due_date", sa.Date, nullable=True),
    sa.Column("overdue", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("dunning_level", sa.String(100), nullable=True),
    sa.Column("synced_at", UtcDateTime, nullable=True),
    sa.Index("ix_erp_postings_open", "paid", "invoice_id"),
)

# where each incremental pull from the CRM stopped (per object)
crm_watermarks = sa.Table(
    "crm_watermarks",
    metadata,
    sa.Column("sobject", sa.String(64), primary_key=True),
    sa.Column("modstamp", UtcDateTime, nullable=False),
    sa.Column("record_id", sa.String(64), nullable=False),
    sa.Column("synced_at", UtcDateTime, nullable=False),
)

# where each incremental read from the support tool stopped (tickets, organizations)
support_watermarks = sa.Table(
    "support_watermarks",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("synced_at", UtcDateTime, nullable=False),
)

# the support tool's tickets as revsync last read them: whose, in which state, and the digest
# of the context last queued for each (unchanged context is not written again)
support_tickets = sa.Table(
    "support_tickets",
    metadata,
    sa.Column("ticket_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("organization_id", sa.BigInteger, nullable=True),
    sa.Column("customer_id", sa.String(128), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(16), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("context_digest", sa.String(64), nullable=True),
    sa.Column("read_at", UtcDateTime, nullable=False),
    sa.Index("ix_support_tickets_customer", "customer_id", "created_at"),
)

# service credits asked on tickets: one per ticket, requested (an approval case open),
# refused (why) or issued (the credit note; ``announced`` once the ticket was told its ERP number)
support_credits = sa.Table(
    "support_credits",
    metadata,
    sa.Column("ticket_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("invoice_id", sa.String(40), nullable=True),
    sa.Column("lines", JsonText, nullable=True),
    sa.Column("total", ExactDecimal, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("case_id", sa.String(40), nullable=True),
    sa.Column("credit_note_id", sa.String(40), nullable=True),
    sa.Column("explanation", sa.Text, nullable=True),
    sa.Column("announced", sa.Boolean, nullable=False, default=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=True),
    sa.Column("decided_by", sa.String(200), nullable=True),
    sa.Index("ix_support_credits_case", "case_id"),
    sa.Index("ix_support_credits_due", "status", "announced"),
)

# where each customer stands on the collections ladder: its rung, the rungs whose task is open,
# whether its tickets are flagged, the restriction in force, and the day its episode began
collections = sa.Table(
    "collections",
    metadata,
    sa.Column("customer_id", sa.String(128), primary_key=True),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("tasks", JsonText, nullable=False),
    sa.Column("flagged", sa.Boolean, nullable=False),
    sa.Column("restriction", JsonText, nullable=True),
    sa.Column("since", sa.Date, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_collections_updated", "updated_at"),
)

# renewal assessments announced: one per subscription, renewal date and horizon
renewal_assessments = sa.Table(
    "renewal_assessments",
    metadata,
    sa.Column("subscription_id", sa.String(128), primary_key=True),
    sa.Column("renewal_date", sa.Date, primary_key=True),
    sa.Column("horizon", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("reasons", JsonText, nullable=False),
    sa.Column("assessed_at", UtcDateTime, nullable=False),
)

# onboarding milestones of each subscription, once reached or missed
onboarding_milestones = sa.Table(
    "onboarding_milestones",
    metadata,
    sa.Column("subscription_id", sa.String(128), primary_key=True),
    sa.Column("milestone", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("used", ExactDecimal, nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=False),
)

# won CRM opportunities: taken (the subscription made of one, the ERP sale order placed for it)
# or refused (why), one row each
deals = sa.Table(
    "deals",
    metadata,
    sa.Column("opportunity_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("customer_id", sa.String(128), nullable=True),
    sa.Column("subscription_id", sa.String(128), nullable=True, index=True),
    sa.Column("kind", sa.String(16), nullable=True),
    sa.Column("start", sa.Date, nullable=True),
    sa.Column("lines", JsonText, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("erp_sale_id", sa.String(64), nullable=True),
    sa.Column("erp_sale_number", sa.String(64), nullable=True),
    sa.Column("sale_lines", JsonText, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_deals_status", "status", "updated_at"),
)

# each CRM contract's plan and seats as the last pull read them: the contract amends its
# subscription when it changes them, not whenever they differ from the subscription
crm_contracts = sa.Table(
    "crm_contracts",
    metadata,
    sa.Column("contract_id", sa.String(64), primary_key=True),
    sa.Column("plan", sa.String(200), nullable=True),
    sa.Column("seats", sa.Integer, nullable=True),
    sa.Column("seen_at", UtcDateTime, nullable=False),
)

# what revsync last announced to the CRM about each customer (a digest of the values), so
# that unchanged signals are not pushed again
crm_signals = sa.Table(
    "crm_signals",
    metadata,
    sa.Column("customer_id", sa.String(128), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("values", JsonText, nullable=False),
    sa.Column("pushed_at", UtcDateTime, nullable=False),
)

# requests sent with an Idempotency-Key, per API key (``scope``): the request's fingerprint,
# its state (running, committed — marked in the transaction of its effect — done) and the
# answer replayed to retries; forgotten after ``server.idempotency_hours``
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=True),
    sa.Column("media_type", sa.String(100), nullable=True),
)

# Events voided by a usage correction, moved out of ``usage_events`` (so that no reader counts
# them) with who voided them and why. Their dedup slots stay claimed here: a voided event
# sent again is a duplicate (or a conflict), never counted anew. ``voided_seq`` is the
# correction's mark (``usage_marks``): a line cut off below it counted the event, so it stays
# listed behind that line (null: voided before migration 0025, when none was kept).
voided_events = sa.Table(
    "voided_events",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("dedup_slot", sa.BigInteger, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Column("customer_id", sa.String(128), nullable=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.LargeBinary(16), nullable=False),
    sa.Column("received_us", sa.BigInteger, nullable=False),
    sa.Column("correction_id", sa.String(64), nullable=False),
    sa.Column("voided_at", UtcDateTime, nullable=False),
    sa.Column("attached_seq", sa.BigInteger, nullable=True),
    sa.Column("voided_seq", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("dedup_slot"),
    sa.Index("ix_voided_events_customer_time", "customer_id", "time_us"),
)

# One row: the mark of the latest change to stored usage that inserts no event (a tenant's
# unmapped events attached, events voided). A mark is a sequence number of its own, taken
# above every ``seq`` so far; a usage snapshot's cutoff is never below the latest mark, and
# the next event ingested is numbered above it (PostgreSQL: the marks come from the ``seq``
# sequence; SQLite: ingestion numbers its first row above the mark). So a line's cutoff
# tells which attaches and voids it saw, as it tells which events. SQLite's archive raises it
# to the highest ``seq`` it moves out (``usage_storage_sqlite.py``): no number is given twice.
usage_marks = sa.Table(
    "usage_marks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

# Usage corrections: who corrected what, and why (the events they voided point here).
usage_corrections = sa.Table(
    "usage_corrections",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("voided", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)


# Jobs that one process runs at a time (ERP sync, CRM sync, scheduled billing): the process
# holding each and until when, and when the last run started.
job_leases = sa.Table(
    "job_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("last_started_at", UtcDateTime, nullable=True),
)

# Every run of a job: who ran it, when, and how it ended.
job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=True),  # ok, failed
    sa.Column("summary", sa.Text, nullable=True),
    sa.Index("ix_job_runs_name_started", "name", "started_at"),
)

# --- event schemas (the schema registry) -------------------------------------------------

# One row per version of an event type's data schema; versions never change. ``schema`` and
# ``upcast`` are canonical JSON text (the field map from the version before; NULL for none).
event_schemas = sa.Table(
    "event_schemas",
    metadata,
    sa.Column("type", sa.String(256), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("schema", sa.Text, nullable=False),
    sa.Column("compatibility", sa.String(16), nullable=False),
    sa.Column("upcast", sa.Text, nullable=True),
    sa.Column("registered_at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)


# --- KPIs --------------------------------------------------------------------------------

# What the KPI job measured (unbilled usage by age and by currency), one row per measurement,
# kept ``kpis.keep_days`` for the charts over time.
kpi_measurements = sa.Table(
    "kpi_measurements",
    metadata,
    sa.Column("at", UtcDateTime, primary_key=True),
    sa.Column("figures", JsonText, nullable=False),
)

# Counters the KPI job keeps: the event-lag histogram's buckets, its sum and the ingest
# sequence number it has counted up to.
kpi_counters = sa.Table(
    "kpi_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# --- the operations console --------------------------------------------------------------

# Signed-in console sessions: the hash of the cookie's token (never the token), the key that
# signed in, the form token its pages carry, and when it ends.
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(64), sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# --- usage thresholds --------------------------------------------------------------------

# Each threshold reached, once per subscription and usage period (the key is the promise):
# what it watched stood at ``observed`` against ``limit_value`` when the watcher read the
# usage up to ``cutoff_seq``; a spend threshold that bills at once names its interim invoice.
threshold_crossings = sa.Table(
    "threshold_crossings",
    metadata,
    sa.Column("subscription_id", sa.String(128), primary_key=True),
    sa.Column("threshold_key", sa.String(64), primary_key=True),
    sa.Column("period_start", sa.Date, primary_key=True),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("customer_id", sa.String(128), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("meter", sa.String(128), nullable=True),
    sa.Column("limit_value", ExactDecimal, nullable=False),
    sa.Column("observed", ExactDecimal, nullable=False),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("cutoff_seq", sa.BigInteger, nullable=False),
    sa.Column("crossed_at", UtcDateTime, nullable=False),
    sa.Column("interim_invoice_id", sa.String(40), nullable=True),
    sa.Index("ix_threshold_crossings_customer", "customer_id"),
    sa.Index("ix_threshold_crossings_crossed_at", "crossed_at"),
)

# Customers whose stored usage became theirs without being ingested anew (a tenant mapped
# late: its events keep their older sequence numbers), for the threshold watcher's next look.
threshold_rechecks = sa.Table(
    "threshold_rechecks",
    metadata,
    sa.Column("customer_id", sa.String(128), primary_key=True),
)

# How far a reader of new usage has read, by ingest sequence number (the threshold watcher).
usage_watermarks = sa.Table(
    "usage_watermarks",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)


# --- PostgreSQL only (migration 0027; docs/architecture.md#usage-on-postgresql) ------------

postgresql_metadata = sa.MetaData(naming_convention=metadata.naming_convention)

#: the schema holding archived months of usage
ARCHIVE_SCHEMA = "usage_archive"

# The dedup claim on PostgreSQL: one row per slot ever taken — by an event stored, voided or
# archived — inserted in the transaction of the event's row (``usage_ledger.py``). It stays
# when its event is voided or its month archived, so a retry of such an event is a duplicate.
# ``seq`` and ``day`` find the event's row (its month's table) from its slot.
usage_slots = sa.Table(
    "usage_slots",
    postgresql_metadata,
    sa.Column("dedup_slot", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.LargeBinary(16), nullable=False),
)

# Archived months: ``usage_archive.usage_events``, partitioned as ``usage_events`` is, each
# month's table detached from the live table and attached here (``usage_storage.py``). Read
# for lineage only; billing and every other reader of usage read the live table.
archived_usage_events = sa.Table(
    "usage_events",
    postgresql_metadata,
    *_usage_columns(),
    sa.Index("ix_usage_events_day_customer", "day", "customer_id"),
    sa.Index(
        "ix_usage_events_unmapped", "subject", postgresql_where=sa.text("customer_id IS NULL")
    ),
    schema=ARCHIVE_SCHEMA,
)

# --- SQLite only (migration 0030; docs/architecture.md#usage-archive-on-sqlite) --------------

sqlite_metadata = sa.MetaData(naming_convention=metadata.naming_convention)

# The dedup claims of the events archived to Parquet files (``usage_storage_sqlite.py``): on
# SQLite an event's claim is its ``usage_events`` row, so archiving a month moves its events'
# claims here in the transaction that deletes their rows, and a retry of one is a duplicate.
# ``dedup_slot`` is the rowid (one probe per slot); ``day`` tells which months are archived.
archived_slots = sa.Table(
    "archived_slots",
    sqlite_metadata,
    sa.Column("dedup_slot", RowId, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.LargeBinary(16), nullable=False),
    sa.Index("ix_archived_slots_day", "day"),
)

#: the tables of months and the default partition (not described here: made by the worker)
MONTH_TABLE = re.compile(r"^usage_events_(\d{4}_\d{2}|default)$")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """For an Alembic comparison (``include_schemas``): the default schema and the archive,
    without the month tables of ``usage_events``."""
    if type_ == "schema":
        return name in (None, ARCHIVE_SCHEMA)
    return not (type_ == "table" and name is not None and MONTH_TABLE.match(name))


def include_object(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """For an Alembic comparison on ``dialect`` (with :func:`compared_metadata`): leave out
    what another dialect has only."""

    def include(item: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        dialects = getattr(item, "info", {}).get("dialects")
        return dialects is None or dialect in dialects

    return include


def compared_metadata(dialect: str) -> list[sa.MetaData]:
    """The metadata a database of ``dialect`` is described by."""
    return [metadata, postgresql_metadata if dialect == "postgresql" else sqlite_metadata]
