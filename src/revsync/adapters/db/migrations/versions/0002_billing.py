"""pricing, subscriptions and invoicing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import ExactDecimal, JsonText, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("usage_cutoff_seq", sa.BigInteger(), nullable=False),
        sa.Column("summary", JsonText(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_runs")),
        sa.UniqueConstraint("number", name=op.f("uq_billing_runs_number")),
    )
    op.create_table(
        "coupons",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("definition", JsonText(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_coupons")),
    )
    op.create_table(
        "number_series",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("next", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_number_series")),
    )
    op.create_table(
        "plans",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JsonText(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("code", "version", name=op.f("pk_plans")),
    )
    op.create_table(
        "credit_grants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("remaining", ExactDecimal(), nullable=False),
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_credit_grants_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grants")),
    )
    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_grants_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("subscription_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("subtotal", ExactDecimal(), nullable=False),
        sa.Column("discount", ExactDecimal(), nullable=False),
        sa.Column("tax", ExactDecimal(), nullable=False),
        sa.Column("total", ExactDecimal(), nullable=False),
        sa.Column("credits", ExactDecimal(), nullable=False),
        sa.Column("basis_version", sa.Integer(), nullable=True),
        sa.Column("credits_invoice", sa.String(length=40), nullable=True),
        sa.Column("recheck", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("finalized_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_invoices_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
        sa.UniqueConstraint(
            "subscription_id",
            "period_start",
            "period_end",
            "kind",
            "credits_invoice",
            name=op.f("uq_invoices_subscription_id_period_start_period_end_kind_credits_invoice"),
        ),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoices_customer_period", ["customer_id", "period_start"], unique=False
        )
        batch_op.create_index("ix_invoices_status", ["status"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("anchor", sa.Date(), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("usage_interval", sa.String(length=8), nullable=False),
        sa.Column("include_children", sa.Boolean(), nullable=False),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("recheck_from", sa.Date(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_subscriptions_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriptions_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "credit_uses",
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["credit_grants.id"], name=op.f("fk_credit_uses_grant_id_credit_grants")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_credit_uses_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("grant_id", "invoice_id", name=op.f("pk_credit_uses")),
    )
    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("charge", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("unit_amount", ExactDecimal(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("service_start", sa.Date(), nullable=False),
        sa.Column("service_end", sa.Date(), nullable=False),
        sa.Column("tax_code", sa.String(length=32), nullable=False),
        sa.Column("lineage", JsonText(), nullable=True),
        sa.Column("adjusts", sa.String(length=360), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("invoice_id", "key", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_lines_adjusts"), ["adjusts"], unique=False)

    op.create_table(
        "invoice_taxes",
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("tax_code", sa.String(length=32), nullable=False),
        sa.Column("rate", ExactDecimal(), nullable=False),
        sa.Column("base", ExactDecimal(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_taxes_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("invoice_id", "tax_code", name=op.f("pk_invoice_taxes")),
    )
    op.create_table(
        "subscription_coupons",
        sa.Column("subscription_id", sa.String(length=128), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["code"], ["coupons.code"], name=op.f("fk_subscription_coupons_code_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_coupons_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("subscription_id", "code", name=op.f("pk_subscription_coupons")),
    )
    op.create_table(
        "subscription_terms",
        sa.Column("subscription_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("plan_code", sa.String(length=64), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("trial_end", sa.Date(), nullable=True),
        sa.Column("ends", sa.Date(), nullable=True),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_terms_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("subscription_id", "version", name=op.f("pk_subscription_terms")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch_op.add_column(
            sa.Column("tax_exempt", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "usage_rechecks",
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("from_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_usage_rechecks")),
    )
    number_series = sa.table("number_series", sa.column("name"), sa.column("next"))
    op.bulk_insert(number_series, [{"name": "INV", "next": 1}, {"name": "CN", "next": 1}])


def downgrade() -> None:
    op.drop_table("usage_rechecks")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("tax_exempt")
        batch_op.drop_column("country")

    op.drop_table("subscription_terms")
    op.drop_table("subscription_coupons")
    op.drop_table("invoice_taxes")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_lines_adjusts"))

    op.drop_table("invoice_lines")
    op.drop_table("credit_uses")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_customer_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_status")
        batch_op.drop_index("ix_invoices_customer_period")

    op.drop_table("invoices")
    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_grants_customer_id"))

    op.drop_table("credit_grants")
    op.drop_table("plans")
    op.drop_table("number_series")
    op.drop_table("coupons")
    op.drop_table("billing_runs")
