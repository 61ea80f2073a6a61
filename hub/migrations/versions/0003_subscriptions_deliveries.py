"""subscriptions, deliveries, feed horizon, change notifications

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
DUE = "kind = 'webhook' AND status = 'active'"

# PostgreSQL tells listeners (the feed's long-polls, the dispatchers) when versions are written
# and when they are numbered. A statement trigger fires once per statement, and NOTIFY is
# delivered at commit and folded within a transaction, so writers pay next to nothing.
NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION hub_notify_changes() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('hub_changes', TG_TABLE_NAME);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
TRIGGERS = {
    "hub_versions_written": "AFTER INSERT ON record_versions",
    "hub_events_numbered": "AFTER UPDATE ON event_counter",
}


def upgrade() -> None:
    with op.batch_alter_table("event_counter", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retained_after", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "subscriptions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("types", JSON_DOCUMENT, nullable=False),
        sa.Column("filter", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_url", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_until", TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_subscriptions_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_subscriptions_department", ["department_id", "id"])
        batch_op.create_index(
            "ix_subscriptions_due",
            ["next_attempt_at"],
            postgresql_where=sa.text(DUE),
            sqlite_where=sa.text(DUE),
        )
    op.create_table(
        "deliveries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subscription_id", BIG_ID, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=300), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_deliveries_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_subscription", ["subscription_id", "id"])
        batch_op.create_index("ix_deliveries_at", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        for name, when in TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} {when} "
                "FOR EACH STATEMENT EXECUTE FUNCTION hub_notify_changes()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, when in TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {when.rsplit(' ', 1)[-1]}")
        op.execute("DROP FUNCTION IF EXISTS hub_notify_changes()")
    op.drop_table("deliveries")
    op.drop_table("subscriptions")
    with op.batch_alter_table("event_counter", schema=None) as batch_op:
        batch_op.drop_column("retained_after")
