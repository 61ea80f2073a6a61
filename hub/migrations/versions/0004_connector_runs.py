"""connectors and their run reports

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
COUNTERS = ("read", "published", "unchanged", "deleted", "rejected")


def upgrade() -> None:
    op.create_table(
        "connectors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("first_reported_at", TIMESTAMP, nullable=False),
        sa.Column("last_reported_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_connectors_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_connectors")),
    )
    op.create_table(
        "connector_runs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        *[sa.Column(counter, sa.BigInteger(), nullable=False) for counter in COUNTERS],
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cursor", sa.String(length=500), nullable=True),
        sa.Column("details", JSON_DOCUMENT, nullable=True),
        sa.Column("reported_at", TIMESTAMP, nullable=False),
        sa.Column("reported_by", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector"],
            ["connectors.name"],
            name=op.f("fk_connector_runs_connector_connectors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_runs")),
        sa.UniqueConstraint("connector", "run_id", name=op.f("uq_connector_runs_connector")),
    )
    with op.batch_alter_table("connector_runs", schema=None) as batch_op:
        # a connector's latest runs, newest first
        batch_op.create_index("ix_connector_runs_latest", ["connector", "id"])


def downgrade() -> None:
    op.drop_table("connector_runs")
    op.drop_table("connectors")
