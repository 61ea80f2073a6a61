"""ended console sessions, webhook secrets encrypted at rest, a keyed audit chain, long
event ids

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("sessions_valid_after", TIMESTAMP, nullable=True))
    # an encrypted secret is longer than the secret
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.alter_column("secret", type_=sa.Text(), existing_type=sa.String(length=100))
        batch_op.alter_column(
            "previous_secret", type_=sa.Text(), existing_type=sa.String(length=100)
        )
    # event ids name keys percent-encoded, and keys may be Chinese
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("event_id", type_=sa.Text(), existing_type=sa.String(length=300))
    with op.batch_alter_table("audit_head") as batch_op:
        batch_op.add_column(sa.Column("keyed_from_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch_op:
        batch_op.drop_column("keyed_from_seq")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("event_id", type_=sa.String(length=300), existing_type=sa.Text())
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.alter_column(
            "previous_secret", type_=sa.String(length=100), existing_type=sa.Text()
        )
        batch_op.alter_column("secret", type_=sa.String(length=100), existing_type=sa.Text())
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("sessions_valid_after")
