"""record versions by project and time, for supervision's records as of a date

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_record_versions_project_created"),
        "record_versions",
        ["project_code", "created_at", "record_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_record_versions_project_created"), table_name="record_versions")
