"""Exports and imports of an account's data, with their progress (``data_jobs``).

Revision ID: 0012_exports
Revises: 0011_oauth
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_exports"
down_revision = "0011_oauth"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "data_jobs",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id",
            Id,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("session", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("total", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("file", sa.String(100)),
        sa.Column("file_key", sa.LargeBinary()),
        sa.Column("size", sa.BigInteger()),
        sa.Column("summary", sa.Text()),
        sa.Column("error", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_data_jobs_account", "data_jobs", ["account_id", "id"])
    op.create_index("ix_data_jobs_expires", "data_jobs", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_data_jobs_expires", "data_jobs")
    op.drop_index("ix_data_jobs_account", "data_jobs")
    op.drop_table("data_jobs")
