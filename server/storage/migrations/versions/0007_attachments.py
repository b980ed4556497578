"""MMS attachments: sealed bytes and names, one row per part of a message.

Revision ID: 0007_attachments
Revises: 0006_contacts
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_attachments"
down_revision = "0006_contacts"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A new table only: nothing to rebuild, so no batch mode is needed on SQLite.
    op.create_table(
        "attachments",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "message_id", Id, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("data_sealed", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("message_id", "position", name="uq_attachments_message_position"),
    )


def downgrade() -> None:
    op.drop_table("attachments")
